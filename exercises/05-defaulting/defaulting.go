// Exercise 05: a defaulting admission plugin.
//
// A pod manifest can be five lines long, yet "kubectl get pod -o yaml" shows
// a restart policy, a DNS policy, a grace period, a service account and, per
// container, an image pull policy and where the termination message goes.
// The API server filled them in before storing the pod. This exercise is the
// admission plugin that does it.
//
// Edit this file. The tests in defaulting_test.go are the specification;
// README.md explains the rules.
package defaulting

// Attributes is what an admission plugin sees of a write: a trimmed copy of
// k8s.io/apiserver's admission.Attributes (chapter 05's admissionAttributes).
type Attributes struct {
	Operation string // "CREATE", "UPDATE" or "DELETE"
	Kind      string // the object's kind: "Pod", "ConfigMap", ...
	// Object is the object being written, as decoded JSON: maps, slices,
	// strings, float64s, bools and nils. It is nil on DELETE.
	Object map[string]any
}

// The image pull policies.
const (
	PullAlways       = "Always"
	PullIfNotPresent = "IfNotPresent"
	PullNever        = "Never"
)

// ImagePullPolicy returns the policy Kubernetes gives a container that names
// none: Always when the image has no tag or the tag "latest" (the image may
// change under the same name), IfNotPresent for any other tag and for an
// image pinned by its digest alone.
//
//	nginx                 Always
//	nginx:1.27            IfNotPresent
//	registry:5000/nginx   Always (5000 is a port, not a tag)
//	nginx@sha256:abc…     IfNotPresent
func ImagePullPolicy(image string) string {
	// TODO: split off a digest ("@sha256:...").
	// TODO: find the tag: after a colon, but only one that comes after the
	//       last slash.
	panic("Please implement ImagePullPolicy")
}

// Admit fills in the defaults of a pod on CREATE and UPDATE, in place: only
// the fields the client left out, so that a value the client chose is never
// overwritten, and running Admit twice changes nothing the first run did not.
//
// Pod level: spec.restartPolicy Always, spec.dnsPolicy ClusterFirst,
// spec.terminationGracePeriodSeconds 30, and on CREATE only
// spec.serviceAccountName "default". Per container, in spec.initContainers
// and spec.containers: imagePullPolicy (see ImagePullPolicy),
// terminationMessagePath /dev/termination-log, terminationMessagePolicy File.
//
// Every other kind, and DELETE, is left alone. Defaults never refuse a
// request, so unlike chapter 05's admit, Admit returns no error.
func Admit(a *Attributes) {
	// TODO: pods only, CREATE and UPDATE only.
	// TODO: find or create spec; fill in the pod-level defaults.
	// TODO: fill in the container defaults, init containers included.
	panic("Please implement Admit")
}
