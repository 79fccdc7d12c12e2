package authz

import (
	"net/url"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/selectors"
)

// FuzzNameFromFieldSelector checks that authorization and the list agree
// on a field selector: when authorization reads a list's
// fieldSelector=metadata.name=<name> as a request for that one object (so
// that RBAC's resourceNames can allow it), the list, which reads the
// selector with final/selectors, returns no object of another name.
func FuzzNameFromFieldSelector(f *testing.F) {
	for _, seed := range []string{
		"metadata.name=a", "metadata.name==a", " metadata.name = a ", "metadata.name=a,metadata.name=b",
		`metadata.name=a\,b`, `metadata.name=a\=b`, "metadata.name!=a,metadata.name=b", "=,metadata.name=a",
		`metadata.namespace=x\,metadata.name=a`, "metadata.name=a,", ",metadata.name=a", "metadata.name===a",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, selector string) {
		a := withSelectors(Attributes{ResourceRequest: true, Verb: "list"}, url.Values{"fieldSelector": {selector}})
		if a.Name == "" {
			return
		}
		sel, err := selectors.Parse("", selector)
		if err != nil {
			return // the list refuses it
		}
		// Names and namespaces an object would need to match: the pieces
		// of the selector, escaped or not.
		pieces := strings.FieldsFunc(selector, func(r rune) bool { return r == ',' || r == '=' || r == '!' })
		for _, p := range pieces {
			pieces = append(pieces, strings.ReplaceAll(strings.TrimSpace(p), `\`, ""))
		}
		for _, name := range pieces {
			for _, namespace := range append(pieces, "") {
				obj := map[string]any{"metadata": map[string]any{"name": name, "namespace": namespace}}
				if name != a.Name && sel.Matches(obj) {
					t.Fatalf("%q is authorized as a list of %q, and lists %s/%s", selector, a.Name, namespace, name)
				}
			}
		}
	})
}
