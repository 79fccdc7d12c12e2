// Package features is kube-apiserver's --feature-gates: named switches, each
// alpha, beta, GA or deprecated, with a default per release, for behaviour
// Kubernetes is still adding or taking away. The flag takes key=bool pairs,
// comma-separated and in as many flags as one likes (a later value wins);
// AllAlpha and AllBeta set every alpha or beta gate at once, and a gate named
// on its own overrides them. Names are optionally prefixed by their
// component, "kube:" being the only one kube-apiserver has.
//
// The names, stages and defaults are Kubernetes 1.37's (kubernetes.go), so a
// cluster's --feature-gates is accepted as it is; an unknown name, a gate
// locked to its default or a value that is not a bool is an error, in
// k8s.io/component-base/featuregate's words. Of those gates this server acts
// on the two below; Ignored lists the others a flag moved from their default,
// for the server to say that they change nothing here.
package features

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Stage is a gate's maturity, spelled as Kubernetes prints it.
type Stage string

const (
	Alpha      Stage = "ALPHA"
	Beta       Stage = "BETA"
	GA         Stage = ""
	Deprecated Stage = "DEPRECATED"
)

// Spec is what a gate is in this release.
type Spec struct {
	Stage   Stage
	Default bool
	Locked  bool // locked to its default: setting it otherwise is an error
}

// The gates this server acts on.
const (
	// WatchList (beta, on): watches may ask for sendInitialEvents, and a
	// watch from resourceVersion "" or "0" is one that does (its initial
	// ADDED events end with the k8s.io/initial-events-end bookmark). Off,
	// sendInitialEvents is refused with 422.
	WatchList = "WatchList"
	// RemoteRequestHeaderUID (beta, on): the aggregator tells extension
	// servers the user's UID, in X-Remote-Uid. Off, it does not.
	RemoteRequestHeaderUID = "RemoteRequestHeaderUID"
)

// implemented are the gates that switch something in this server.
var implemented = []string{RemoteRequestHeaderUID, WatchList}

// The two special gates.
const (
	allAlpha = "AllAlpha"
	allBeta  = "AllBeta"
)

// Gates are the gates a server runs with. The nil *Gates is every gate at
// its default.
type Gates struct {
	set      map[string]bool // gates the flag set, by name or by AllAlpha/AllBeta
	flag     map[string]bool // what the flag said, AllAlpha and AllBeta included
	named    []string        // the keys of flag, in the flag's order
	warnings []string
}

// Parse reads the values of every --feature-gates flag, in order.
func Parse(values []string) (*Gates, error) {
	pairs, err := splitComponents(values)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	var order []string
	for _, pair := range pairs {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("missing bool value for %s", k)
		}
		v = strings.TrimSpace(v)
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid value of %s=%s, err: %v", k, v, err)
		}
		if _, seen := m[k]; !seen {
			order = append(order, k)
		}
		m[k] = b
	}
	return apply(m, order)
}

// splitComponents turns the flags' values into key=value pairs of the kube
// component: "kube:Key=true" or "Key=true", not both styles at once, as
// kube-apiserver's component registry insists.
func splitComponents(values []string) ([]string, error) {
	var pairs []string
	var bare, prefixed bool
	for _, value := range values {
		for _, item := range strings.Split(value, ",") {
			if item == "" {
				continue
			}
			component, pair, found := strings.Cut(item, ":")
			if !found {
				component, pair = "", item
			}
			switch component = strings.TrimSpace(component); component {
			case "":
				bare = true
			case "kube":
				prefixed = true
			default:
				return nil, fmt.Errorf("component not registered: %s", component)
			}
			pairs = append(pairs, strings.TrimSpace(pair))
		}
	}
	if bare && prefixed {
		return nil, fmt.Errorf("set kube feature gates with default empty prefix or kube: prefix consistently, do not mix use")
	}
	return pairs, nil
}

// apply checks the named gates and works out what AllAlpha and AllBeta set.
func apply(m map[string]bool, order []string) (*Gates, error) {
	g := &Gates{set: map[string]bool{}, flag: m, named: order}
	var errs []string
	for _, k := range order {
		v := m[k]
		if k == allAlpha || k == allBeta {
			continue
		}
		spec, ok := kubernetes[k]
		if !ok {
			return nil, fmt.Errorf("unrecognized feature gate: %s", k)
		}
		if spec.Locked && spec.Default != v {
			errs = append(errs, fmt.Sprintf("cannot set feature gate %s to %t, feature is locked to %t", k, v, spec.Default))
			continue
		}
		g.set[k] = v
		switch spec.Stage {
		case GA:
			g.warnings = append(g.warnings, fmt.Sprintf("setting GA feature gate %s=%t. It will be removed in a future release.", k, v))
		case Deprecated:
			g.warnings = append(g.warnings, fmt.Sprintf("setting deprecated feature gate %s=%t. It will be removed in a future release.", k, v))
		}
	}
	switch len(errs) { // k8s.io/apimachinery's error aggregate, as printed
	case 0:
	case 1:
		return nil, fmt.Errorf("%s", errs[0])
	default:
		return nil, fmt.Errorf("[%s]", strings.Join(errs, ", "))
	}
	for special, stage := range map[string]Stage{allAlpha: Alpha, allBeta: Beta} {
		v, ok := m[special]
		if !ok {
			continue
		}
		for name, spec := range kubernetes {
			if _, named := m[name]; spec.Stage == stage && !named {
				g.set[name] = v
			}
		}
	}
	return g, nil
}

// Enabled says whether a gate is on. It panics on a name Kubernetes 1.37
// does not have: that is a bug in the caller, not a user's mistake.
func (g *Gates) Enabled(name string) bool {
	spec, ok := kubernetes[name]
	if !ok {
		panic(fmt.Sprintf("feature gate %q is not registered", name))
	}
	if g != nil {
		if v, ok := g.set[name]; ok {
			return v
		}
	}
	return spec.Default
}

// Ignored lists the gates the flag moved from their default that this
// server does not act on: it behaves as with their defaults. Gates named in
// the flag come by name; those AllAlpha or AllBeta moved, as one entry
// saying how many ("AllBeta=false (97 gates)").
func (g *Gates) Ignored() []string {
	if g == nil {
		return nil
	}
	var out []string
	bySpecial := map[Stage]int{}
	for name, v := range g.set {
		spec := kubernetes[name]
		if v == spec.Default || slices.Contains(implemented, name) {
			continue
		}
		if _, named := g.flag[name]; named {
			out = append(out, fmt.Sprintf("%s=%t", name, v))
		} else {
			bySpecial[spec.Stage]++
		}
	}
	sort.Strings(out)
	for _, special := range []struct {
		name  string
		stage Stage
	}{{allAlpha, Alpha}, {allBeta, Beta}} {
		if n := bySpecial[special.stage]; n > 0 {
			out = append(out, fmt.Sprintf("%s=%t (%d gates)", special.name, g.flag[special.name], n))
		}
	}
	return out
}

// Warnings are what kube-apiserver warns about at start-up: GA and
// deprecated gates that were set.
func (g *Gates) Warnings() []string {
	if g == nil {
		return nil
	}
	return g.warnings
}

// String is the gates the flag named, as key=value, in its order.
func (g *Gates) String() string {
	if g == nil {
		return ""
	}
	pairs := make([]string, 0, len(g.named))
	for _, k := range g.named {
		pairs = append(pairs, fmt.Sprintf("%s=%t", k, g.flag[k]))
	}
	return strings.Join(pairs, ",")
}

// Usage describes the flag, with the gates this server acts on, in
// kube-apiserver's words for each.
func Usage() string {
	lines := []string{"comma-separated key=bool pairs (kube: prefix optional) switching features; every Kubernetes 1.37 gate is accepted. Options are:",
		"AllAlpha=true|false (ALPHA - default=false)", "AllBeta=true|false (BETA - default=false)"}
	for _, name := range implemented {
		spec := kubernetes[name]
		lines = append(lines, fmt.Sprintf("%s=true|false (%s - default=%t)", name, spec.Stage, spec.Default))
	}
	return strings.Join(lines, "\n")
}
