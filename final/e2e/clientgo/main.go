// A scripted client-go session against final, as controllers and tools talk
// to a cluster: discovery and a RESTMapper, the typed clients, the dynamic
// client on a CustomResourceDefinition, an informer, a watch resumed from a
// resourceVersion, and a namespace deleted to the end. It prints one line per
// step and stops at the first failure with exit status 1; final/server's
// TestClientGo builds and runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

// The custom resource the dynamic client works with.
const (
	widgetGroup = "e2e.example.com"
	widgetCRD   = "widgets." + widgetGroup
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// session holds the clients and what earlier steps learned for later ones.
type session struct {
	ns        string
	config    *rest.Config
	clientset kubernetes.Interface
	dynamic   dynamic.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper

	readerToken string                      // the reader service account's token
	widgets     schema.GroupVersionResource // as the RESTMapper maps Widget
}

type step struct {
	name string
	run  func(context.Context) (string, error)
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the server to drive (required)")
	namespace := flag.String("namespace", "clientgo-e2e", "namespace to create, use and delete")
	stepTimeout := flag.Duration("step-timeout", 30*time.Second, "how long one step may take")
	flag.Parse()
	if *kubeconfig == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: clientgo --kubeconfig=FILE [--namespace=NAME]")
		os.Exit(2)
	}
	s, err := newSession(*kubeconfig, *namespace)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, st := range s.steps() {
		ctx, cancel := context.WithTimeout(context.Background(), *stepTimeout)
		start := time.Now()
		detail, err := st.run(ctx)
		cancel()
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", st.name, err)
			os.Exit(1)
		}
		fmt.Printf("ok   %s: %s (%v)\n", st.name, detail, time.Since(start).Round(time.Millisecond))
	}
	fmt.Println("PASS")
}

func newSession(kubeconfig, ns string) (*session, error) {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	// client-go's default of 5 requests a second would make the polls slow.
	config.QPS, config.Burst = 100, 200
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(clientset.Discovery()))
	return &session{ns: ns, config: config, clientset: clientset, dynamic: dyn, mapper: mapper}, nil
}

func (s *session) steps() []step {
	return []step{
		{"discovery ServerGroupsAndResources", s.groupsAndResources},
		{"discovery ServerPreferredResources", s.preferredResources},
		{"RESTMapper maps ConfigMap", s.mapConfigMap},
		{"CoreV1 create a namespace", s.createNamespace},
		{"CoreV1 create and get a ConfigMap", s.createAndGet},
		{"CoreV1 update retried on a resourceVersion conflict", s.updateOnConflict},
		{"CoreV1 list with label selectors", s.listWithSelectors},
		{"CoreV1 delete a ConfigMap", s.deleteConfigMap},
		{"RbacV1 create a Role and a RoleBinding", s.createRole},
		{"CoreV1 ServiceAccounts CreateToken", s.createToken},
		{"AuthenticationV1 SelfSubjectReview", s.selfSubjectReview},
		{"AuthorizationV1 SelfSubjectAccessReview", s.selfSubjectAccessReview},
		{"dynamic create a CRD", s.createCRD},
		{"dynamic the CRD becomes Established", s.waitEstablished},
		{"RESTMapper maps the CRD's kind", s.mapWidget},
		{"dynamic create and list custom objects", s.createWidgets},
		{"dynamic merge patch", s.patchWidget},
		{"dynamic server-side apply: create, conflict, force", s.applyConfigMap},
		{"dynamic UpdateStatus", s.updateWidgetStatus},
		{"informer syncs and sees add, update, delete", s.informer},
		{"watch resumed from a resourceVersion", s.watchResume},
		{"CoreV1 delete the namespace and wait until it is gone", s.deleteNamespace},
		{"dynamic delete the CRD", s.deleteCRD},
	}
}

// --- discovery and the RESTMapper ---

func (s *session) groupsAndResources(context.Context) (string, error) {
	groups, lists, err := s.clientset.Discovery().ServerGroupsAndResources()
	if err != nil {
		return "", err
	}
	for _, want := range []struct{ gv, resource string }{
		{"v1", "configmaps"},
		{"v1", "namespaces"},
		{"rbac.authorization.k8s.io/v1", "roles"},
		{"rbac.authorization.k8s.io/v1", "rolebindings"},
		{"authorization.k8s.io/v1", "selfsubjectaccessreviews"},
		{"authentication.k8s.io/v1", "selfsubjectreviews"},
		{"apiextensions.k8s.io/v1", "customresourcedefinitions"},
	} {
		if findResource(lists, want.gv, want.resource) == nil {
			return "", fmt.Errorf("%s is not among the resources of %s", want.resource, want.gv)
		}
	}
	var problems []string
	// Discovery lists every verb a resource serves: kubectl and controllers
	// choose by it (the namespace controller deletes with deletecollection
	// where it is listed).
	cm := findResource(lists, "v1", "configmaps")
	if cm.Kind != "ConfigMap" || !cm.Namespaced || !slices.Contains(cm.ShortNames, "cm") {
		problems = append(problems, fmt.Sprintf("configmaps: %+v", *cm))
	}
	for _, verb := range []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"} {
		if !slices.Contains(cm.Verbs, verb) {
			problems = append(problems, fmt.Sprintf("configmaps' verbs %v lack %s, which DeleteCollection below uses; kube-apiserver lists"+
				" [create delete deletecollection get list patch update watch]", cm.Verbs, verb))
		}
	}
	// A subresource served by another group's kind is listed with that group,
	// version and kind.
	token := findResource(lists, "v1", "serviceaccounts/token")
	if token == nil || token.Group != "authentication.k8s.io" || token.Version != "v1" || token.Kind != "TokenRequest" || !slices.Equal(token.Verbs, []string{"create"}) {
		problems = append(problems, fmt.Sprintf("v1 lists serviceaccounts/token as %+v, though CreateToken below uses it; kube-apiserver lists"+
			" {name: serviceaccounts/token, group: authentication.k8s.io, version: v1, kind: TokenRequest, namespaced: true, verbs: [create]}", token))
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	n := 0
	for _, l := range lists {
		n += len(l.APIResources)
	}
	return fmt.Sprintf("%d groups, %d resources in %d group versions", len(groups), n, len(lists)), nil
}

func (s *session) preferredResources(context.Context) (string, error) {
	lists, err := s.clientset.Discovery().ServerPreferredResources()
	if err != nil {
		return "", err
	}
	// Each resource of a group once, in the most preferred version that
	// serves it, and no subresources.
	seen := map[schema.GroupResource]string{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			return "", err
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				return "", fmt.Errorf("subresource %s among the preferred resources of %s", r.Name, l.GroupVersion)
			}
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			if other, ok := seen[gr]; ok {
				return "", fmt.Errorf("%s is preferred in two versions, %s and %s", gr, other, gv.Version)
			}
			seen[gr] = gv.Version
		}
	}
	if findResource(lists, "v1", "configmaps") == nil || findResource(lists, "rbac.authorization.k8s.io/v1", "roles") == nil {
		return "", errors.New("configmaps or roles missing from the preferred resources")
	}
	return fmt.Sprintf("%d resources, each in one preferred version", len(seen)), nil
}

func findResource(lists []*metav1.APIResourceList, groupVersion, name string) *metav1.APIResource {
	for _, l := range lists {
		if l.GroupVersion != groupVersion {
			continue
		}
		for i := range l.APIResources {
			if l.APIResources[i].Name == name {
				return &l.APIResources[i]
			}
		}
	}
	return nil
}

func (s *session) mapConfigMap(context.Context) (string, error) {
	m, err := s.mapper.RESTMapping(schema.GroupKind{Kind: "ConfigMap"})
	if err != nil {
		return "", err
	}
	if want := (schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}); m.Resource != want || m.Scope.Name() != meta.RESTScopeNameNamespace {
		return "", fmt.Errorf("ConfigMap maps to %v (%s), want %v (namespace)", m.Resource, m.Scope.Name(), want)
	}
	// And back, from the resource as kubectl gets it from a user.
	gvk, err := s.mapper.KindFor(schema.GroupVersionResource{Resource: "configmaps"})
	if err != nil {
		return "", err
	}
	if gvk != (schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}) {
		return "", fmt.Errorf("configmaps is kind %v", gvk)
	}
	return fmt.Sprintf("ConfigMap -> %s, configmaps -> %s", m.Resource.String(), gvk.String()), nil
}

// --- the typed clients ---

func (s *session) createNamespace(ctx context.Context) (string, error) {
	ns, err := s.clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.ns}}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	got, err := s.clientset.CoreV1().Namespaces().Get(ctx, s.ns, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	// kube-apiserver's namespace strategy (PrepareForCreate) makes every new
	// namespace Active, with the kubernetes finalizer its controller removes.
	for i, n := range []*corev1.Namespace{ns, got} {
		if n.Status.Phase != corev1.NamespaceActive || !slices.Equal(n.Spec.Finalizers, []corev1.FinalizerName{corev1.FinalizerKubernetes}) {
			return "", fmt.Errorf("%s has status.phase %q and spec.finalizers %q; kube-apiserver answers status.phase \"Active\" and spec.finalizers [\"kubernetes\"]",
				[]string{"Create's answer", "a get after it"}[i], n.Status.Phase, n.Spec.Finalizers)
		}
	}
	return "namespace " + ns.Name + " is Active, with the kubernetes finalizer", nil
}

func (s *session) configMaps() typedcorev1.ConfigMapInterface {
	return s.clientset.CoreV1().ConfigMaps(s.ns)
}

func configMap(name string, labels, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: data}
}

func (s *session) createAndGet(ctx context.Context) (string, error) {
	created, err := s.configMaps().Create(ctx, configMap("settings", nil, map[string]string{"mode": "fast"}), metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() || created.Namespace != s.ns {
		return "", fmt.Errorf("the created object lacks uid, resourceVersion, creationTimestamp or namespace: %+v", created.ObjectMeta)
	}
	got, err := s.configMaps().Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if got.UID != created.UID || got.ResourceVersion != created.ResourceVersion || got.Data["mode"] != "fast" {
		return "", fmt.Errorf("get returned %+v, created %+v", got, created)
	}
	return "settings at resourceVersion " + got.ResourceVersion, nil
}

// updateOnConflict updates from a copy someone else's write has made stale:
// the first attempt is a 409 Conflict, and RetryOnConflict's second, from a
// fresh read, succeeds. That is how every controller writes.
func (s *session) updateOnConflict(ctx context.Context) (string, error) {
	stale, err := s.configMaps().Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	other := stale.DeepCopy()
	other.Data["mode"] = "slow"
	if _, err := s.configMaps().Update(ctx, other, metav1.UpdateOptions{}); err != nil {
		return "", fmt.Errorf("the concurrent update: %w", err)
	}
	attempts := 0
	var firstErr error
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		attempts++
		cm := stale.DeepCopy()
		if attempts > 1 {
			fresh, err := s.configMaps().Get(ctx, "settings", metav1.GetOptions{})
			if err != nil {
				return err
			}
			cm = fresh
		}
		cm.Data["owner"] = "e2e"
		_, err := s.configMaps().Update(ctx, cm, metav1.UpdateOptions{})
		if attempts == 1 {
			firstErr = err
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if !apierrors.IsConflict(firstErr) {
		return "", fmt.Errorf("the update with the stale resourceVersion %s answered %v, want a Conflict", stale.ResourceVersion, firstErr)
	}
	got, err := s.configMaps().Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if got.Data["mode"] != "slow" || got.Data["owner"] != "e2e" {
		return "", fmt.Errorf("after both updates: %v, want mode=slow and owner=e2e", got.Data)
	}
	return fmt.Sprintf("%d attempts, the first a Conflict", attempts), nil
}

func (s *session) listWithSelectors(ctx context.Context) (string, error) {
	for _, cm := range []*corev1.ConfigMap{
		configMap("web-a", map[string]string{"tier": "web"}, nil),
		configMap("db-a", map[string]string{"tier": "db"}, nil),
	} {
		if _, err := s.configMaps().Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return "", err
		}
	}
	for _, c := range []struct {
		opts metav1.ListOptions
		want []string
	}{
		{metav1.ListOptions{LabelSelector: "tier=web"}, []string{"web-a"}},
		{metav1.ListOptions{LabelSelector: "tier in (web,db)"}, []string{"db-a", "web-a"}},
		{metav1.ListOptions{LabelSelector: "tier,tier!=web"}, []string{"db-a"}},
		{metav1.ListOptions{FieldSelector: "metadata.name=settings"}, []string{"settings"}},
	} {
		list, err := s.configMaps().List(ctx, c.opts)
		if err != nil {
			return "", fmt.Errorf("list %+v: %w", c.opts, err)
		}
		var got []string
		for _, cm := range list.Items {
			got = append(got, cm.Name)
		}
		if !slices.Equal(got, c.want) {
			return "", fmt.Errorf("list %+v: %v, want %v", c.opts, got, c.want)
		}
		if list.ResourceVersion == "" {
			return "", fmt.Errorf("list %+v has no resourceVersion", c.opts)
		}
	}
	return "tier=web, tier in (web,db), tier,tier!=web and metadata.name=settings", nil
}

func (s *session) deleteConfigMap(ctx context.Context) (string, error) {
	if err := s.configMaps().Delete(ctx, "db-a", metav1.DeleteOptions{}); err != nil {
		return "", err
	}
	_, err := s.configMaps().Get(ctx, "db-a", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("get after delete: %v, want NotFound", err)
	}
	if err := s.configMaps().Delete(ctx, "db-a", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("a second delete: %v, want NotFound", err)
	}
	for _, name := range []string{"batch-1", "batch-2"} {
		if _, err := s.configMaps().Create(ctx, configMap(name, map[string]string{"batch": "yes"}, nil), metav1.CreateOptions{}); err != nil {
			return "", err
		}
	}
	if err := s.configMaps().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "batch=yes"}); err != nil {
		return "", fmt.Errorf("DeleteCollection batch=yes: %w", err)
	}
	list, err := s.configMaps().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	var left []string
	for _, cm := range list.Items {
		left = append(left, cm.Name)
	}
	// kube-root-ca.crt is in every namespace, as in Kubernetes.
	if !slices.Equal(left, []string{"kube-root-ca.crt", "settings", "web-a"}) {
		return "", fmt.Errorf("after DeleteCollection batch=yes: %v, want [kube-root-ca.crt settings web-a]", left)
	}
	return "db-a is gone, a second delete is NotFound; DeleteCollection batch=yes deleted batch-1 and batch-2", nil
}

// createRole lets a new service account, reader, read configmaps and nothing
// else in the namespace; the next steps act as it.
func (s *session) createRole(ctx context.Context) (string, error) {
	if _, err := s.clientset.CoreV1().ServiceAccounts(s.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("the service account: %w", err)
	}
	role, err := s.clientset.RbacV1().Roles(s.ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	binding, err := s.clientset.RbacV1().RoleBindings(s.ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reader-reads-configmaps"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: s.ns}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("role %s bound by %s to serviceaccount reader", role.Name, binding.Name), nil
}

func (s *session) createToken(ctx context.Context) (string, error) {
	const lifetime = 3600
	tr, err := s.clientset.CoreV1().ServiceAccounts(s.ns).CreateToken(ctx, "reader", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(lifetime))},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	if tr.Status.Token == "" {
		return "", errors.New("no token in the TokenRequest's status")
	}
	if left := time.Until(tr.Status.ExpirationTimestamp.Time); left < (lifetime-60)*time.Second || left > (lifetime+60)*time.Second {
		return "", fmt.Errorf("the token expires at %v, want in about %d s", tr.Status.ExpirationTimestamp, lifetime)
	}
	s.readerToken = tr.Status.Token
	return fmt.Sprintf("a token for reader, expiring %s", tr.Status.ExpirationTimestamp.UTC().Format(time.RFC3339)), nil
}

func ptr[T any](v T) *T { return &v }

// asReader is a clientset that authenticates with the reader's token only.
func (s *session) asReader() (kubernetes.Interface, error) {
	config := rest.AnonymousClientConfig(s.config)
	config.BearerToken = s.readerToken
	return kubernetes.NewForConfig(config)
}

func (s *session) selfSubjectReview(ctx context.Context) (string, error) {
	admin, err := s.clientset.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	if u := admin.Status.UserInfo; u.Username == "" || !slices.Contains(u.Groups, "system:masters") {
		return "", fmt.Errorf("the kubeconfig's user is %+v, want one in system:masters", u)
	}
	reader, err := s.asReader()
	if err != nil {
		return "", err
	}
	review, err := reader.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("as reader: %w", err)
	}
	u := review.Status.UserInfo
	if want := "system:serviceaccount:" + s.ns + ":reader"; u.Username != want {
		return "", fmt.Errorf("the token's user is %q, want %q", u.Username, want)
	}
	for _, g := range []string{"system:serviceaccounts", "system:serviceaccounts:" + s.ns, "system:authenticated"} {
		if !slices.Contains(u.Groups, g) {
			return "", fmt.Errorf("the token's groups %v lack %s", u.Groups, g)
		}
	}
	return fmt.Sprintf("%s; %s in %v", admin.Status.UserInfo.Username, u.Username, u.Groups), nil
}

func (s *session) selfSubjectAccessReview(ctx context.Context) (string, error) {
	reader, err := s.asReader()
	if err != nil {
		return "", err
	}
	for _, c := range []struct {
		client   kubernetes.Interface
		who      string
		verb     string
		resource string
		allowed  bool
	}{
		{s.clientset, "admin", "create", "pods", true},
		{reader, "reader", "list", "configmaps", true},
		{reader, "reader", "watch", "configmaps", true},
		{reader, "reader", "delete", "configmaps", false},
		{reader, "reader", "list", "secrets", false},
	} {
		review, err := c.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: s.ns, Verb: c.verb, Resource: c.resource}},
		}, metav1.CreateOptions{})
		if err != nil {
			return "", fmt.Errorf("%s: %w", c.who, err)
		}
		if review.Status.Allowed != c.allowed {
			return "", fmt.Errorf("may %s %s %s? %v (%s), want %v", c.who, c.verb, c.resource, review.Status.Allowed, review.Status.Reason, c.allowed)
		}
	}
	// The answers hold for the real requests.
	if _, err := reader.CoreV1().ConfigMaps(s.ns).List(ctx, metav1.ListOptions{}); err != nil {
		return "", fmt.Errorf("reader lists configmaps: %w", err)
	}
	if _, err := reader.CoreV1().Secrets(s.ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		return "", fmt.Errorf("reader lists secrets: %v, want Forbidden", err)
	}
	return "admin may create pods; reader may list and watch configmaps, not delete them nor list secrets", nil
}

// --- the dynamic client and a CustomResourceDefinition ---

func (s *session) createCRD(ctx context.Context) (string, error) {
	// The mapper names the resource for the kind, as kubectl apply does.
	m, err := s.mapper.RESTMapping(schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}, "v1")
	if err != nil {
		return "", err
	}
	if m.Resource != crdGVR || m.Scope.Name() != meta.RESTScopeNameRoot {
		return "", fmt.Errorf("CustomResourceDefinition maps to %v (%s)", m.Resource, m.Scope.Name())
	}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": widgetCRD},
		"spec": map[string]any{
			"group": widgetGroup,
			"scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": []any{"wd"}},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"subresources": map[string]any{"status": map[string]any{}},
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"spec": map[string]any{"type": "object", "properties": map[string]any{
							"size":  map[string]any{"type": "integer", "minimum": int64(0)},
							"color": map[string]any{"type": "string"},
						}},
						"status": map[string]any{"type": "object", "properties": map[string]any{
							"ready":              map[string]any{"type": "boolean"},
							"observedGeneration": map[string]any{"type": "integer"},
						}},
					},
				}},
			}},
		},
	}}
	created, err := s.dynamic.Resource(m.Resource).Create(ctx, crd, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (uid %s)", created.GetName(), created.GetUID()), nil
}

func (s *session) waitEstablished(ctx context.Context) (string, error) {
	start := time.Now()
	var conditions []any
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		crd, err := s.dynamic.Resource(crdGVR).Get(ctx, widgetCRD, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conditions, _, _ = unstructured.NestedSlice(crd.Object, "status", "conditions")
		return conditionTrue(conditions, "Established") && conditionTrue(conditions, "NamesAccepted"), nil
	})
	if err != nil {
		return "", fmt.Errorf("%w; conditions %v", err, conditions)
	}
	return fmt.Sprintf("NamesAccepted and Established after %v", time.Since(start).Round(time.Millisecond)), nil
}

func conditionTrue(conditions []any, kind string) bool {
	for _, c := range conditions {
		if c, ok := c.(map[string]any); ok && c["type"] == kind {
			return c["status"] == "True"
		}
	}
	return false
}

// mapWidget resets the cached mapper, as kubectl does when a kind is
// unknown, and maps the new kind; the discovery behind it must list the
// custom resource and its status subresource.
func (s *session) mapWidget(ctx context.Context) (string, error) {
	gk := schema.GroupKind{Group: widgetGroup, Kind: "Widget"}
	var m *meta.RESTMapping
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		s.mapper.Reset()
		var err error
		m, err = s.mapper.RESTMapping(gk)
		return err == nil, nil
	})
	if err != nil {
		_, mapErr := s.mapper.RESTMapping(gk)
		return "", fmt.Errorf("%w: %v", err, mapErr)
	}
	want := schema.GroupVersionResource{Group: widgetGroup, Version: "v1", Resource: "widgets"}
	if m.Resource != want || m.Scope.Name() != meta.RESTScopeNameNamespace {
		return "", fmt.Errorf("Widget maps to %v (%s), want %v (namespace)", m.Resource, m.Scope.Name(), want)
	}
	s.widgets = m.Resource
	list, err := s.clientset.Discovery().ServerResourcesForGroupVersion(widgetGroup + "/v1")
	if err != nil {
		return "", err
	}
	lists := []*metav1.APIResourceList{list}
	if r := findResource(lists, widgetGroup+"/v1", "widgets"); r == nil || r.Kind != "Widget" || !slices.Contains(r.ShortNames, "wd") {
		return "", fmt.Errorf("discovery of %s/v1: %+v", widgetGroup, list.APIResources)
	}
	if findResource(lists, widgetGroup+"/v1", "widgets/status") == nil {
		return "", fmt.Errorf("discovery of %s/v1 lacks widgets/status: %+v", widgetGroup, list.APIResources)
	}
	return "Widget -> " + m.Resource.String() + "; discovery lists widgets and widgets/status", nil
}

func widget(name string, size int64, labels map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": widgetGroup + "/v1",
		"kind":       "Widget",
		"metadata":   map[string]any{"name": name, "labels": labels},
		"spec":       map[string]any{"size": size, "color": "blue"},
	}}
}

func (s *session) widgetClient() dynamic.ResourceInterface {
	return s.dynamic.Resource(s.widgets).Namespace(s.ns)
}

func (s *session) createWidgets(ctx context.Context) (string, error) {
	for _, w := range []*unstructured.Unstructured{
		widget("small", 1, map[string]any{"size": "small"}),
		widget("large", 10, map[string]any{"size": "large"}),
	} {
		if _, err := s.widgetClient().Create(ctx, w, metav1.CreateOptions{}); err != nil {
			return "", fmt.Errorf("create %s: %w", w.GetName(), err)
		}
	}
	// The schema is enforced: a negative size is Invalid.
	_, err := s.widgetClient().Create(ctx, widget("negative", -1, nil), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		return "", fmt.Errorf("a widget of size -1: %v, want Invalid", err)
	}
	list, err := s.widgetClient().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	var names []string
	for _, it := range list.Items {
		if it.GetKind() != "Widget" || it.GetAPIVersion() != widgetGroup+"/v1" {
			return "", fmt.Errorf("a listed item is %s %s", it.GetAPIVersion(), it.GetKind())
		}
		names = append(names, it.GetName())
	}
	if !slices.Equal(names, []string{"large", "small"}) || list.GetResourceVersion() == "" {
		return "", fmt.Errorf("list: %v at resourceVersion %q, want [large small]", names, list.GetResourceVersion())
	}
	small, err := s.widgetClient().List(ctx, metav1.ListOptions{LabelSelector: "size=small"})
	if err != nil {
		return "", err
	}
	if len(small.Items) != 1 || small.Items[0].GetName() != "small" {
		return "", fmt.Errorf("list size=small: %d items", len(small.Items))
	}
	return "small and large listed; size=small selects one; size -1 is Invalid", nil
}

func (s *session) patchWidget(ctx context.Context) (string, error) {
	patch := []byte(`{"metadata":{"labels":{"patched":"yes"}},"spec":{"size":2,"color":null}}`)
	patched, err := s.widgetClient().Patch(ctx, "small", types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return "", err
	}
	size, _, _ := unstructured.NestedInt64(patched.Object, "spec", "size")
	_, hasColor, _ := unstructured.NestedString(patched.Object, "spec", "color")
	if size != 2 || hasColor || patched.GetLabels()["patched"] != "yes" || patched.GetLabels()["size"] != "small" {
		return "", fmt.Errorf("after the merge patch: spec %v, labels %v", patched.Object["spec"], patched.GetLabels())
	}
	if patched.GetGeneration() != 2 {
		return "", fmt.Errorf("generation %d after a spec change, want 2", patched.GetGeneration())
	}
	return "size 2, color removed, label added, generation 2", nil
}

// applyConfigMap applies an unstructured ConfigMap as two managers: the
// first apply creates it, the second manager's change of a field the first
// owns is a conflict until it forces it.
func (s *session) applyConfigMap(ctx context.Context) (string, error) {
	client := s.dynamic.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace(s.ns)
	config := func(color string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "applied"}, "data": map[string]any{"color": color}}}
	}
	created, err := client.Apply(ctx, "applied", config("blue"), metav1.ApplyOptions{FieldManager: "e2e-first"})
	if err != nil {
		return "", fmt.Errorf("the first apply: %w", err)
	}
	if m := created.GetManagedFields(); len(m) != 1 || m[0].Manager != "e2e-first" || m[0].Operation != metav1.ManagedFieldsOperationApply {
		return "", fmt.Errorf("managedFields after the first apply: %+v", m)
	}
	_, err = client.Apply(ctx, "applied", config("red"), metav1.ApplyOptions{FieldManager: "e2e-second"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "e2e-first": .data.color`) {
		return "", fmt.Errorf("a second manager's change: %v, want a conflict over .data.color", err)
	}
	forced, err := client.Apply(ctx, "applied", config("red"), metav1.ApplyOptions{FieldManager: "e2e-second", Force: true})
	if err != nil {
		return "", fmt.Errorf("the forced apply: %w", err)
	}
	color, _, _ := unstructured.NestedString(forced.Object, "data", "color")
	if color != "red" || len(forced.GetManagedFields()) != 1 || forced.GetManagedFields()[0].Manager != "e2e-second" {
		return "", fmt.Errorf("after forcing: color %q, managedFields %+v", color, forced.GetManagedFields())
	}
	return "created by e2e-first; e2e-second conflicts over .data.color, then forces and owns it", nil
}

// updateWidgetStatus writes status through the status subresource, which
// ignores any change to spec and leaves generation alone.
func (s *session) updateWidgetStatus(ctx context.Context) (string, error) {
	w, err := s.widgetClient().Get(ctx, "small", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	generation := w.GetGeneration()
	_ = unstructured.SetNestedField(w.Object, true, "status", "ready")
	_ = unstructured.SetNestedField(w.Object, generation, "status", "observedGeneration")
	_ = unstructured.SetNestedField(w.Object, int64(99), "spec", "size")
	updated, err := s.widgetClient().UpdateStatus(ctx, w, metav1.UpdateOptions{})
	if err != nil {
		return "", err
	}
	got, err := s.widgetClient().Get(ctx, "small", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	for i, obj := range []*unstructured.Unstructured{updated, got} {
		ready, _, _ := unstructured.NestedBool(obj.Object, "status", "ready")
		size, _, _ := unstructured.NestedInt64(obj.Object, "spec", "size")
		if !ready || size != 2 || obj.GetGeneration() != generation {
			return "", fmt.Errorf("%s: status %v, spec %v, generation %d; want ready, size 2 (spec changes ignored), generation %d",
				[]string{"UpdateStatus's answer", "a get after it"}[i], obj.Object["status"], obj.Object["spec"], obj.GetGeneration(), generation)
		}
	}
	return "status.ready true; the spec change was ignored; generation unchanged", nil
}

// --- informers and watches ---

type event struct{ kind, name, value string }

func (s *session) informer(ctx context.Context) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactoryWithOptions(s.clientset, 0, informers.WithNamespace(s.ns))
	defer factory.Shutdown()
	defer cancel() // first: Shutdown waits for the informers, which stop with ctx
	informer := factory.Core().V1().ConfigMaps()
	events := make(chan event, 100)
	_, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			cm := obj.(*corev1.ConfigMap)
			events <- event{"ADD", cm.Name, cm.Data["v"]}
		},
		UpdateFunc: func(_, obj any) {
			cm := obj.(*corev1.ConfigMap)
			events <- event{"UPDATE", cm.Name, cm.Data["v"]}
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			events <- event{"DELETE", obj.(*corev1.ConfigMap).Name, ""}
		},
	})
	if err != nil {
		return "", err
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return "", fmt.Errorf("the %v informer did not sync", typ)
		}
	}
	cached, err := informer.Lister().ConfigMaps(s.ns).Get("settings")
	if err != nil || cached.Data["owner"] != "e2e" {
		return "", fmt.Errorf("the synced cache's settings: %v %v", cached, err)
	}

	expect := func(want event) error {
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-events:
				if e.name != want.name { // the initial ADDs of settings and web-a
					continue
				}
				if e != want {
					return fmt.Errorf("the handlers saw %v, want %v", e, want)
				}
				return nil
			case <-timeout:
				return fmt.Errorf("the handlers did not see %v within 10 s", want)
			}
		}
	}
	if _, err := s.configMaps().Create(ctx, configMap("informed", nil, map[string]string{"v": "1"}), metav1.CreateOptions{}); err != nil {
		return "", err
	}
	if err := expect(event{"ADD", "informed", "1"}); err != nil {
		return "", err
	}
	if _, err := s.configMaps().Update(ctx, configMap("informed", nil, map[string]string{"v": "2"}), metav1.UpdateOptions{}); err != nil {
		return "", err
	}
	if err := expect(event{"UPDATE", "informed", "2"}); err != nil {
		return "", err
	}
	if err := s.configMaps().Delete(ctx, "informed", metav1.DeleteOptions{}); err != nil {
		return "", err
	}
	if err := expect(event{"DELETE", "informed", ""}); err != nil {
		return "", err
	}
	return "synced with settings and web-a cached; ADD, UPDATE, DELETE of informed", nil
}

// watchResume watches from a resourceVersion in the past and is given what
// happened since, in order; it stops, misses a write, and resumes from the
// last resourceVersion it saw, losing nothing and repeating nothing.
func (s *session) watchResume(ctx context.Context) (string, error) {
	w1, err := s.configMaps().Create(ctx, configMap("w1", nil, nil), metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	from := w1.ResourceVersion
	w1.Data = map[string]string{"v": "2"}
	if _, err := s.configMaps().Update(ctx, w1, metav1.UpdateOptions{}); err != nil {
		return "", err
	}
	if _, err := s.configMaps().Create(ctx, configMap("w2", nil, nil), metav1.CreateOptions{}); err != nil {
		return "", err
	}
	if err := s.configMaps().Delete(ctx, "w1", metav1.DeleteOptions{}); err != nil {
		return "", err
	}
	last, err := s.watchFor(ctx, from, []string{"MODIFIED w1", "ADDED w2", "DELETED w1"})
	if err != nil {
		return "", fmt.Errorf("watch from %s: %w", from, err)
	}
	if _, err := s.configMaps().Create(ctx, configMap("w3", nil, nil), metav1.CreateOptions{}); err != nil {
		return "", err
	}
	if _, err := s.watchFor(ctx, last, []string{"ADDED w3"}); err != nil {
		return "", fmt.Errorf("watch resumed from %s: %w", last, err)
	}
	return fmt.Sprintf("from %s: MODIFIED w1, ADDED w2, DELETED w1; resumed from %s: ADDED w3", from, last), nil
}

// watchFor watches configmaps from resourceVersion rv and expects exactly
// the events want first, with increasing resourceVersions; it returns the
// last one.
func (s *session) watchFor(ctx context.Context, rv string, want []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	w, err := s.configMaps().Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
	if err != nil {
		return "", err
	}
	defer w.Stop()
	var got []string
	last := rv
	for len(got) < len(want) {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				return "", fmt.Errorf("the watch ended after %v, want %v", got, want)
			}
			if e.Type == watch.Bookmark {
				continue
			}
			if e.Type == watch.Error {
				return "", fmt.Errorf("an ERROR event after %v: %v", got, apierrors.FromObject(e.Object))
			}
			cm, ok := e.Object.(*corev1.ConfigMap)
			if !ok {
				return "", fmt.Errorf("a %s event with a %T", e.Type, e.Object)
			}
			if !newer(cm.ResourceVersion, last) {
				return "", fmt.Errorf("%s %s at resourceVersion %s after %s", e.Type, cm.Name, cm.ResourceVersion, last)
			}
			last = cm.ResourceVersion
			got = append(got, string(e.Type)+" "+cm.Name)
		case <-ctx.Done():
			return "", fmt.Errorf("saw %v within 10 s, want %v", got, want)
		}
	}
	if !slices.Equal(got, want) {
		return "", fmt.Errorf("saw %v, want %v", got, want)
	}
	return last, nil
}

// newer compares resourceVersions as numbers, which Kubernetes promises
// clients nothing about; this server, like etcd, makes them revisions.
func newer(a, b string) bool {
	return len(a) > len(b) || len(a) == len(b) && a > b
}

// deleteNamespace deletes the namespace; the namespace controller empties it,
// custom objects included, and removes it.
func (s *session) deleteNamespace(ctx context.Context) (string, error) {
	if err := s.clientset.CoreV1().Namespaces().Delete(ctx, s.ns, metav1.DeleteOptions{}); err != nil {
		return "", err
	}
	start := time.Now()
	phases := map[corev1.NamespacePhase]bool{}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 25*time.Second, true, func(ctx context.Context) (bool, error) {
		ns, err := s.clientset.CoreV1().Namespaces().Get(ctx, s.ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		phases[ns.Status.Phase] = true
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("%w; phases seen %v", err, phases)
	}
	if phases[corev1.NamespaceActive] {
		return "", errors.New("the namespace was still Active after the delete")
	}
	configMaps, err := s.configMaps().List(ctx, metav1.ListOptions{})
	if err != nil || len(configMaps.Items) > 0 {
		return "", fmt.Errorf("configmaps left in the deleted namespace: %v", err)
	}
	widgets, err := s.widgetClient().List(ctx, metav1.ListOptions{})
	if err != nil || len(widgets.Items) > 0 {
		return "", fmt.Errorf("widgets left in the deleted namespace: %v", err)
	}
	return fmt.Sprintf("gone after %v, its configmaps and widgets with it", time.Since(start).Round(time.Millisecond)), nil
}

func (s *session) deleteCRD(ctx context.Context) (string, error) {
	if err := s.dynamic.Resource(crdGVR).Delete(ctx, widgetCRD, metav1.DeleteOptions{}); err != nil {
		return "", err
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := s.dynamic.Resource(crdGVR).Get(ctx, widgetCRD, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return "", err
	}
	return widgetCRD + " is gone", nil
}
