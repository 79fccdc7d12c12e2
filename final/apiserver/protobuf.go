// kubectl and client-go send built-in objects in Kubernetes' protobuf
// encoding when they can ("application/vnd.kubernetes.protobuf"): the
// generated clients behind "kubectl create configmap" do so by default. The
// encoding needs each type's schema, so this one file uses the official Go
// types from k8s.io/api to turn such a body into the JSON the rest of the
// server works with. Responses are always JSON, which every client accepts.
package apiserver

import (
	"encoding/json"
	"fmt"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

const protobufType = "application/vnd.kubernetes.protobuf"

// protobufScheme knows the built-in types kubectl may send, built once.
var protobufScheme = sync.OnceValues(func() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, batchv1.AddToScheme, appsv1.AddToScheme,
		autoscalingv1.AddToScheme, autoscalingv2.AddToScheme, coordinationv1.AddToScheme, authenticationv1.AddToScheme,
		authorizationv1.AddToScheme, rbacv1.AddToScheme, admissionregistrationv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("building the protobuf scheme: %w", err)
		}
	}
	return scheme, nil
})

// protobufToJSON decodes a protobuf body of a built-in type and re-encodes it as JSON.
func protobufToJSON(body []byte) ([]byte, error) {
	scheme, err := protobufScheme()
	if err != nil {
		return nil, err
	}
	obj, gvk, err := protobuf.NewSerializer(scheme, scheme).Decode(body, nil, nil)
	if err != nil {
		return nil, apierrors.NewBadRequest("the protobuf body could not be decoded: %v", err)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %s as JSON: %w", gvk.Kind, err)
	}
	return out, nil
}
