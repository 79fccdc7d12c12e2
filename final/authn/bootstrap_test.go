package authn

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

var secrets = &registry.Resource{Version: "v1", Name: "secrets", Kind: "Secret", Namespaced: true}

// bootstrapSecret is the Secret kubeadm writes for token <id>.<secret>,
// with data base64-encoded; extra fields replace or (nil) remove keys.
func bootstrapSecret(id, secret string, extra map[string]any) object.Object {
	plain := map[string]any{"token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true"}
	for k, v := range extra {
		if v == nil {
			delete(plain, k)
			continue
		}
		plain[k] = v
	}
	data := map[string]any{}
	for k, v := range plain {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v.(string)))
	}
	return object.Object{"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
		"metadata": map[string]any{"name": "bootstrap-token-" + id, "namespace": "kube-system"}, "data": data}
}

func TestBootstrapTokens(t *testing.T) {
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	b := &BootstrapTokens{Store: store.New(backend), Secrets: secrets, Now: func() time.Time { return now }}
	ctx := context.Background()
	create := func(s object.Object) {
		t.Helper()
		if _, err := b.Store.Create(ctx, secrets, s); err != nil {
			t.Fatal(err)
		}
	}
	create(bootstrapSecret("abcdef", "0123456789abcdef", nil))
	create(bootstrapSecret("extgrp", "0123456789abcdef", map[string]any{
		"auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token,system:bootstrappers:worker"}))
	create(bootstrapSecret("future", "0123456789abcdef", map[string]any{"expiration": "2030-01-02T04:00:00Z"}))
	create(bootstrapSecret("expird", "0123456789abcdef", map[string]any{"expiration": "2030-01-02T03:04:05Z"}))
	create(bootstrapSecret("badexp", "0123456789abcdef", map[string]any{"expiration": "tomorrow"}))
	create(bootstrapSecret("nouse1", "0123456789abcdef", map[string]any{"usage-bootstrap-authentication": nil}))
	create(bootstrapSecret("nouse2", "0123456789abcdef", map[string]any{"usage-bootstrap-authentication": "false"}))
	create(bootstrapSecret("badgrp", "0123456789abcdef", map[string]any{"auth-extra-groups": "system:masters"}))
	create(bootstrapSecret("wrngid", "0123456789abcdef", map[string]any{"token-id": "abcdef"}))
	opaque := bootstrapSecret("opaque", "0123456789abcdef", nil)
	opaque["type"] = "Opaque"
	create(opaque)
	// The seeds' manifests may give the values as stringData, in plain text.
	create(object.Object{"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
		"metadata": map[string]any{"name": "bootstrap-token-strdat", "namespace": "kube-system"},
		"stringData": map[string]any{"token-id": "strdat", "token-secret": "0123456789abcdef",
			"usage-bootstrap-authentication": "true", "expiration": "2031-01-01T00:00:00Z"}})
	// In another namespace a Secret of the right name is not a bootstrap token.
	elsewhere := bootstrapSecret("othrns", "0123456789abcdef", nil)
	elsewhere.Metadata()["namespace"] = "default"
	create(elsewhere)

	tests := []struct {
		name, token string
		ok          bool
		wantUser    string
		wantGroups  []string
		wantErr     string // "" and !ok: not a bootstrap token at all
	}{
		{"valid", "abcdef.0123456789abcdef", true, "system:bootstrap:abcdef", []string{"system:bootstrappers"}, ""},
		{"extra groups", "extgrp.0123456789abcdef", true, "system:bootstrap:extgrp",
			[]string{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:bootstrappers:worker"}, ""},
		{"not expired yet", "future.0123456789abcdef", true, "system:bootstrap:future", []string{"system:bootstrappers"}, ""},
		{"stringData", "strdat.0123456789abcdef", true, "system:bootstrap:strdat", []string{"system:bootstrappers"}, ""},
		{"expired", "expird.0123456789abcdef", false, "", nil, "expired at 2030-01-02T03:04:05Z"},
		{"unparsable expiration", "badexp.0123456789abcdef", false, "", nil, "taken as expired"},
		{"wrong secret", "abcdef.0123456789abcdee", false, "", nil, "does not hold this token's secret"},
		{"usage missing", "nouse1.0123456789abcdef", false, "", nil, "not marked usage-bootstrap-authentication=true"},
		{"usage false", "nouse2.0123456789abcdef", false, "", nil, "not marked usage-bootstrap-authentication=true"},
		{"extra group outside system:bootstrappers", "badgrp.0123456789abcdef", false, "", nil, `"system:masters" that is not a system:bootstrappers: group`},
		{"token-id differs from the name", "wrngid.0123456789abcdef", false, "", nil, `has token-id "abcdef"`},
		{"not a bootstrap token Secret", "opaque.0123456789abcdef", false, "", nil, `is of type "Opaque"`},
		{"no Secret", "nosuch.0123456789abcdef", false, "", nil, ""},
		{"Secret in another namespace", "othrns.0123456789abcdef", false, "", nil, ""},
		{"not of the form", "abcdef.0123456789abcde", false, "", nil, ""},
		{"upper case", "ABCDEF.0123456789abcdef", false, "", nil, ""},
		{"a JWT", "eyJhbGciOi.eyJpc3MiOi.c2ln", false, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, ok, err := b.AuthenticateToken(ctx, tt.token)
			if ok != tt.ok {
				t.Fatalf("ok = %v (%v), want %v", ok, err, tt.ok)
			}
			if tt.ok {
				if err != nil || user.Name != tt.wantUser || !slices.Equal(user.Groups, tt.wantGroups) {
					t.Errorf("got %+v, %v; want %s in %v", user, err, tt.wantUser, tt.wantGroups)
				}
				return
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v, want none: not a bootstrap token", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one with %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "0123456789abcde"):
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// Deleting the Secret revokes the token.
func TestBootstrapTokenRevokedWithItsSecret(t *testing.T) {
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	b := &BootstrapTokens{Store: store.New(backend), Secrets: secrets}
	ctx := context.Background()
	if _, err := b.Store.Create(ctx, secrets, bootstrapSecret("abcdef", "0123456789abcdef", nil)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.AuthenticateToken(ctx, "abcdef.0123456789abcdef"); !ok {
		t.Fatalf("before the delete: %v", err)
	}
	if _, err := b.Store.Delete(ctx, secrets, "kube-system", "bootstrap-token-abcdef", nil); err != nil {
		t.Fatal(err)
	}
	if user, ok, err := b.AuthenticateToken(ctx, "abcdef.0123456789abcdef"); ok || err != nil {
		t.Errorf("after the delete: %+v, %v, %v", user, ok, err)
	}
}
