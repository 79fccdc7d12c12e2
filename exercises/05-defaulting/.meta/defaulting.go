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

import "strings"

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
	name, _, digested := strings.Cut(image, "@")
	// A colon before the last slash separates a registry host from its
	// port; only a colon in the last path component starts a tag.
	lastComponent := name[strings.LastIndex(name, "/")+1:]
	_, tag, tagged := strings.Cut(lastComponent, ":")
	switch {
	case tagged && tag == "latest":
		return PullAlways
	case tagged || digested:
		return PullIfNotPresent
	default: // no tag and no digest means ":latest"
		return PullAlways
	}
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
	if a.Kind != "Pod" || a.Object == nil || (a.Operation != "CREATE" && a.Operation != "UPDATE") {
		return
	}
	if a.Object["spec"] == nil { // absent or null
		a.Object["spec"] = map[string]any{}
	}
	spec, ok := a.Object["spec"].(map[string]any)
	if !ok {
		return // not an object: validation reports it, defaults do not hide it
	}

	setString(spec, "restartPolicy", "Always")
	setString(spec, "dnsPolicy", "ClusterFirst")
	// A pointer in Kubernetes' types: 0 is a choice (stop at once), only
	// absent or null gets the default.
	if spec["terminationGracePeriodSeconds"] == nil {
		spec["terminationGracePeriodSeconds"] = 30
	}
	// The ServiceAccount admission plugin's job in Kubernetes, on create only.
	if a.Operation == "CREATE" {
		setString(spec, "serviceAccountName", "default")
	}

	for _, field := range []string{"initContainers", "containers"} {
		list, _ := spec[field].([]any)
		for _, item := range list {
			c, ok := item.(map[string]any)
			if !ok {
				continue
			}
			image, _ := c["image"].(string)
			setString(c, "imagePullPolicy", ImagePullPolicy(image))
			setString(c, "terminationMessagePath", "/dev/termination-log")
			setString(c, "terminationMessagePolicy", "File")
		}
	}
}

// setString sets a string field that is missing: absent, null or "", the
// zero value a Go struct would decode those into. A value of another type is
// the client's mistake, left for validation to report.
func setString(m map[string]any, key, value string) {
	switch v := m[key].(type) {
	case nil:
		m[key] = value
	case string:
		if v == "" {
			m[key] = value
		}
	}
}
