package apiserver

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

func TestCheckRequest(t *testing.T) {
	tests := []struct {
		method, target, accept, name string
		code                         int // 0: let through
		message                      string
	}{
		{"GET", "/api/v1/namespaces/a/configmaps/b", "", "b", 0, ""},
		{"GET", "/", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", "b", 0, ""},
		{"GET", "/", "application/vnd.kubernetes.protobuf, */*", "b", 0, ""},
		{"GET", "/", "application/yaml", "b", 0, ""},
		{"GET", "/", "text/html", "b", 406, "406: Not Acceptable\n\nAvailable representations: application/json"},
		{"GET", "/", ";;;", "b", 406, "406: Not Acceptable\n\nAvailable representations: application/json"},
		{"GET", "/", "", ".", 400, `Name parameter invalid: ".": may not be '.'`},
		{"GET", "/", "", "..", 400, `Name parameter invalid: "..": may not be '..'`},
		{"GET", "/", "", "a/b", 400, `Name parameter invalid: "a/b": may not contain '/'`},
		{"GET", "/", "", "a%b", 400, `Name parameter invalid: "a%b": may not contain '%'`},
		{"POST", "/?dryRun=All", "", "", 0, ""},
		{"POST", "/?dryRun=Some", "", "", 422, `CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Some"]: supported values: "All"`},
		{"DELETE", "/?dryRun=All&dryRun=x", "", "b", 422, `DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["All" "x"]: supported values: "All"`},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.target, nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		err := checkRequest(r, tt.name)
		var se *apierrors.StatusError
		if tt.code == 0 && err != nil || tt.code != 0 && (!errors.As(err, &se) || se.Code != tt.code || se.Message != tt.message) {
			t.Errorf("%s %s Accept %q name %q: %v, want %d %q", tt.method, tt.target, tt.accept, tt.name, err, tt.code, tt.message)
		}
	}
}
