// Exercise 01 (second): generateName, and what to do when the name is taken.
//
// A client that wants many objects of the same kind sends
// metadata.generateName instead of a name: "web-". The server appends five
// random characters, "web-x7k2p", and stores the object. Five characters
// from a 27-letter alphabet can collide with a pod that already has the
// name; Kubernetes then tries again with a fresh name, a few times, and
// gives up with an error of its own. This exercise writes both halves.
//
// Edit this file. The tests in generate_name_test.go are the specification;
// README.md explains the rules.
package generatename

import (
	"fmt"
	"net/http"
)

// The numbers of Kubernetes' name generator (k8s.io/apiserver/pkg/storage/names)
// and of the generic store's retry loop (k8s.io/apiserver/pkg/registry/generic/registry).
const (
	// Alphabet is what a generated suffix is made of: k8s.io/apimachinery's
	// alphanums, digits and consonants without vowels, so that no generated
	// name spells a word.
	Alphabet = "bcdfghjklmnpqrstvwxz2456789"
	// MaxNameLength is the longest name the generator makes: a DNS label.
	MaxNameLength = 63
	// RandomLength is the length of the random suffix.
	RandomLength = 5
	// MaxGeneratedNameLength is the longest prefix that is kept.
	MaxGeneratedNameLength = MaxNameLength - RandomLength
	// MaxAttempts is how many names a create with generateName tries.
	MaxAttempts = 8
)

// Rand is a source of random numbers: IntN returns a number in [0, n).
// *math/rand/v2.Rand is one; the tests use one that returns numbers they
// chose, so that they know every name you will generate.
type Rand interface {
	IntN(n int) int
}

// Object is the metadata a create is about.
type Object struct {
	Namespace    string
	Name         string
	GenerateName string
}

// Resource names what is being created: the group and resource of the URL
// (schema.GroupResource), and the kind of the object (for Invalid errors).
type Resource struct {
	Group    string // "" for the core group
	Resource string // "pods"
	Kind     string // "Pod"
}

// String is schema.GroupResource's String: "pods", "deployments.apps".
func (r Resource) String() string {
	if r.Group == "" {
		return r.Resource
	}
	return r.Resource + "." + r.Group
}

// GroupKind is schema.GroupKind's String: "Pod", "Deployment.apps".
func (r Resource) GroupKind() string {
	if r.Group == "" {
		return r.Kind
	}
	return r.Kind + "." + r.Group
}

// StatusError is a metav1.Status as an error, as k8s.io/apimachinery's
// errors.StatusError.
type StatusError struct {
	Code    int    // HTTP status code
	Reason  string // "AlreadyExists", "Invalid", ...
	Message string
	Details StatusDetails
}

func (e *StatusError) Error() string { return e.Message }

// StatusDetails is metav1.StatusDetails.
type StatusDetails struct {
	Group             string
	Kind              string // the resource ("pods") for most errors, the kind ("Pod") for Invalid
	Name              string
	RetryAfterSeconds int
	Causes            []StatusCause
}

// StatusCause is metav1.StatusCause: one field's problem in an Invalid error.
type StatusCause struct {
	Type    string // "FieldValueRequired", ...
	Message string
	Field   string // "metadata.name"
}

// NewAlreadyExists is what the storage answers when the name is taken:
// errors.NewAlreadyExists.
func NewAlreadyExists(res Resource, name string) *StatusError {
	return &StatusError{
		Code:    http.StatusConflict,
		Reason:  "AlreadyExists",
		Message: fmt.Sprintf("%s %q already exists", res, name),
		Details: StatusDetails{Group: res.Group, Kind: res.Resource, Name: name},
	}
}

// Storage keeps objects. Create stores obj under its namespace and name; a
// name that is taken is an error that is, or wraps, the *StatusError of
// NewAlreadyExists. Other errors are possible too.
type Storage interface {
	Create(obj Object) error
}

// GenerateName returns base, cut to MaxGeneratedNameLength bytes, followed
// by RandomLength characters of Alphabet, each drawn with r.IntN.
func GenerateName(base string, r Rand) string {
	// TODO: keep at most MaxGeneratedNameLength bytes of base.
	// TODO: append RandomLength characters, one r.IntN(len(Alphabet)) each.
	panic("Please implement GenerateName")
}

// Create stores obj and returns it as stored. With a name, the name is
// used. With only a generateName, the server picks the name, and tries
// again with a new one when the name is taken, MaxAttempts times in all,
// before it gives up with Kubernetes' generate-name conflict. With
// neither, the object is invalid and nothing is stored.
func Create(store Storage, res Resource, obj Object, r Rand) (Object, error) {
	// TODO: neither name nor generateName: 422 Invalid, as Kubernetes words it.
	// TODO: decide once whether the server picks the name.
	// TODO: each attempt: a fresh name from obj.GenerateName, then store.Create.
	//       Success, or an error that is not AlreadyExists, ends the loop.
	// TODO: a taken name where generateName was set is Kubernetes'
	//       "not able to generate a unique name" conflict (409, retry after 1 s).
	panic("Please implement Create")
}
