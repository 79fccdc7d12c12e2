// Package authz decides whether a user may do what a request asks: the
// authorizers that --authorization-mode chains (Node, RBAC, Webhook,
// AlwaysAllow, AlwaysDeny), the filters that run them on every request
// (WithAuthorization, WithImpersonation), the checks that keep RBAC from
// being a way around itself (CheckEscalation), and the access reviews that
// ask the authorizer a question instead of making a request.
//
// In Kubernetes these live in several places:
//   - k8s.io/apiserver/pkg/authorization: the Authorizer interface and
//     Attributes (authorizer/interfaces.go), the union of authorizers
//     (union/union.go), AlwaysAllow, AlwaysDeny and the system:masters
//     authorizer (authorizerfactory/builtin.go);
//   - k8s.io/apiserver/pkg/endpoints/filters: WithAuthorization
//     (authorization.go) and WithImpersonation (impersonation/impersonation.go),
//     with the 403 wording in endpoints/handlers/responsewriters/errors.go;
//   - kubernetes/plugin/pkg/auth/authorizer/rbac: the RBAC authorizer;
//   - kubernetes/plugin/pkg/auth/authorizer/node: the Node authorizer;
//   - kubernetes/pkg/registry/rbac/validation: resolving a user's rules
//     (rule.go) and ConfirmNoEscalation, with the escalate and bind verbs in
//     pkg/registry/rbac/escalation_check.go;
//   - kubernetes/pkg/registry/authorization: the access reviews;
//   - kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy: the
//     default roles.
package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// Attributes are what an authorizer decides on: who asks (User) and what
// (a verb on a resource, or on a non-resource path), as Kubernetes'
// authorizer.AttributesRecord.
type Attributes struct {
	User            *request.User
	ResourceRequest bool
	Verb            string
	Namespace       string
	APIGroup        string
	APIVersion      string
	Resource        string
	Subresource     string
	Name            string
	Path            string
	// FieldSelector is the fieldSelector of a list, watch or
	// deletecollection, as sent: the Node authorizer lets a kubelet list the
	// pods of spec.nodeName=<its node> and no others.
	FieldSelector string
}

// AttributesFor is the question a request asks, read from its RequestInfo.
func AttributesFor(u *request.User, info request.RequestInfo) Attributes {
	return Attributes{
		User:            u,
		ResourceRequest: info.IsResourceRequest,
		Verb:            info.Verb,
		Namespace:       info.Namespace,
		APIGroup:        info.APIGroup,
		APIVersion:      info.APIVersion,
		Resource:        info.Resource,
		Subresource:     info.Subresource,
		Name:            info.Name,
		Path:            info.Path,
	}
}

// Decision is an authorizer's answer.
type Decision int

const (
	// NoOpinion lets the next authorizer decide; when none does, the answer is no.
	NoOpinion Decision = iota
	// Allow ends the chain: the request may go on.
	Allow
	// Deny ends the chain: the request is refused, whatever later authorizers would say.
	Deny
)

// String names the decision, for logs and test failures.
func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NoOpinion"
}

// Authorizer answers whether a user may do something. The reason says why
// (it is shown to the user on a 403, and in access reviews); an error means
// the authorizer could not decide, which a request sees as a 500 unless
// some authorizer allowed it anyway.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (Decision, string, error)
}

// AlwaysAllow allows everything: --authorization-mode=AlwaysAllow, for a
// cluster where every authenticated user is trusted.
type AlwaysAllow struct{}

// Authorize allows.
func (AlwaysAllow) Authorize(context.Context, Attributes) (Decision, string, error) {
	return Allow, "", nil
}

// AlwaysDeny allows nothing. Like Kubernetes' it answers NoOpinion rather
// than Deny, so that authorizers after it in the chain still get asked;
// with none, the answer is no and the reason reaches the 403.
type AlwaysDeny struct{}

// Authorize has no opinion, and says everything is forbidden.
func (AlwaysDeny) Authorize(context.Context, Attributes) (Decision, string, error) {
	return NoOpinion, "Everything is forbidden.", nil
}

// privilegedGroup allows members of system:masters everything, before any
// configured authorizer is asked: the way in when RBAC itself is broken, and
// what the admin credentials rely on.
type privilegedGroup struct{}

func (privilegedGroup) Authorize(_ context.Context, a Attributes) (Decision, string, error) {
	if a.User == nil {
		return NoOpinion, "Error", errors.New("no user on request.")
	}
	if slices.Contains(a.User.Groups, request.GroupMasters) {
		return Allow, "", nil
	}
	return NoOpinion, "", nil
}

// named is an authorizer with the name its reasons are prefixed with.
type named struct {
	name string
	Authorizer
}

// union asks its authorizers in order; the first Allow or Deny wins. If none
// decides, the reasons they gave are joined, each after its authorizer's
// name, as k8s.io/apiserver's union does.
type union []named

func (u union) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	var reasons []string
	var errs []error
	for _, member := range u {
		decision, reason, err := member.Authorize(ctx, a)
		if err != nil {
			errs = append(errs, err)
		}
		if reason != "" {
			reasons = append(reasons, member.name+": "+reason)
		}
		if decision != NoOpinion {
			return decision, reason, err
		}
	}
	return NoOpinion, strings.Join(reasons, "\n"), aggregate(errs)
}

// The modes of --authorization-mode this server implements, and the ones
// kube-apiserver has that it does not (yet).
var (
	implementedModes   = []string{"AlwaysAllow", "AlwaysDeny", "Node", "RBAC", "Webhook"}
	unimplementedModes = []string{"ABAC"}
)

// New builds the --authorization-mode chain: a comma-separated list of
// modes, asked in order after the system:masters check. rbac serves the
// RBAC mode, node the Node mode, webhook the Webhook mode. A mode it does
// not know, or does not implement yet, is an error: a server must not start
// with less authorization than it was told.
func New(modes string, rbac *RBAC, node *Node, webhook *Webhook) (Authorizer, error) {
	chain := union{{"kubernetes.io/system-privileged-group", privilegedGroup{}}}
	var seen []string
	for mode := range strings.SplitSeq(modes, ",") {
		mode = strings.TrimSpace(mode)
		if mode == "" {
			continue
		}
		if slices.Contains(seen, mode) {
			return nil, fmt.Errorf("--authorization-mode %q: %s is specified more than once", modes, mode)
		}
		seen = append(seen, mode)
		// Kubernetes names each authorizer after its mode, in lower case;
		// the name prefixes its reasons.
		name := strings.ToLower(mode)
		switch mode {
		case "AlwaysAllow":
			chain = append(chain, named{name, AlwaysAllow{}})
		case "AlwaysDeny":
			chain = append(chain, named{name, AlwaysDeny{}})
		case "RBAC":
			if rbac == nil {
				return nil, errors.New("--authorization-mode RBAC: no RBAC authorizer was given")
			}
			chain = append(chain, named{name, rbac})
		case "Node":
			if node == nil {
				return nil, errors.New("--authorization-mode Node: no Node authorizer was given")
			}
			chain = append(chain, named{name, node})
		case "Webhook":
			if webhook == nil {
				return nil, errors.New("--authorization-mode Webhook: no Webhook authorizer was given")
			}
			chain = append(chain, named{name, webhook})
		default:
			if slices.Contains(unimplementedModes, mode) {
				return nil, fmt.Errorf("--authorization-mode: %s is a kube-apiserver mode this server does not implement yet (implemented: %s)",
					mode, strings.Join(implementedModes, ", "))
			}
			return nil, fmt.Errorf("--authorization-mode: %q is not a valid mode (valid modes: %s)",
				mode, strings.Join(implementedModes, ", "))
		}
	}
	if len(seen) == 0 {
		return nil, errors.New("--authorization-mode: at least one mode must be given")
	}
	return chain, nil
}

// aggregate joins errors as Kubernetes' utilerrors.NewAggregate prints
// them: nil for none, the error itself for one, "[a, b]" for several
// (each message once). errors.Is and errors.As see every one.
func aggregate(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return aggregateError(errs)
}

type aggregateError []error

func (e aggregateError) Error() string {
	var msgs []string
	for _, err := range e {
		if msg := err.Error(); !slices.Contains(msgs, msg) {
			msgs = append(msgs, msg)
		}
	}
	if len(msgs) == 1 {
		return msgs[0]
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}

func (e aggregateError) Unwrap() []error { return e }
