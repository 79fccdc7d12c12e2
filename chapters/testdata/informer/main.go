// An informer as controllers run them: client-go lists and watches the
// configmaps of a namespace and prints what its event handlers see, one line
// each. The progressive spec runs it against chapter 07 and later, so the
// real client-go (with its watch-list protocol) is proven to work.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the server to watch")
	namespace := flag.String("namespace", "default", "namespace whose configmaps to watch")
	duration := flag.Duration("for", 30*time.Second, "how long to run")
	flag.Parse()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		os.Exit(2)
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()

	factory := informers.NewSharedInformerFactoryWithOptions(clientset, 0, informers.WithNamespace(*namespace))
	informer := factory.Core().V1().ConfigMaps().Informer()
	_, err = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			cm := obj.(*corev1.ConfigMap)
			fmt.Printf("ADD %s %s\n", cm.Name, cm.Data["v"])
		},
		UpdateFunc: func(_, obj any) {
			cm := obj.(*corev1.ConfigMap)
			fmt.Printf("UPDATE %s %s\n", cm.Name, cm.Data["v"])
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			fmt.Printf("DELETE %s\n", obj.(*corev1.ConfigMap).Name)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "handler:", err)
		os.Exit(2)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		fmt.Println("NOT SYNCED")
		os.Exit(1)
	}
	fmt.Println("SYNCED")
	<-ctx.Done()
	factory.Shutdown()
}
