package admission

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadAdmissionConfiguration(t *testing.T) {
	const quota = `apiVersion: apiserver.config.k8s.io/v1
kind: ResourceQuotaConfiguration
limitedResources:
- resource: pods
  matchContains: ["cpu", "memory"]
- apiGroup: batch
  resource: jobs
  matchContains: ["count/jobs"]
`
	tests := []struct {
		name, file, quotaFile string
		wantLimited           string // the limitedResources NewChain reads, as JSON
		wantError             string
	}{
		{name: "inline, apiserver.config.k8s.io/v1", file: `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ResourceQuota
  configuration:
` + indent(quota, "    "),
			wantLimited: `[{"resource":"pods","matchContains":["cpu","memory"]},{"apiGroup":"batch","resource":"jobs","matchContains":["count/jobs"]}]`},
		{name: "a path relative to the file, the older group name", file: `apiVersion: apiserver.k8s.io/v1alpha1
kind: AdmissionConfiguration
plugins:
- name: EventRateLimit
  path: never-read.yaml
- name: ResourceQuota
  path: quota.yaml
`, quotaFile: quota, // a plugin this server does not run never reads its file
			wantLimited: `[{"resource":"pods","matchContains":["cpu","memory"]},{"apiGroup":"batch","resource":"jobs","matchContains":["count/jobs"]}]`},
		{name: "a path that is not there", file: "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: ResourceQuota\n  path: gone.yaml\n",
			wantError: "the configuration of ResourceQuota: open "},
		{name: "resourcequota.admission.k8s.io/v1beta1", file: `{"apiVersion":"apiserver.config.k8s.io/v1alpha1","kind":"AdmissionConfiguration",
"plugins":[{"name":"ResourceQuota","configuration":{"apiVersion":"resourcequota.admission.k8s.io/v1beta1","kind":"Configuration",
"limitedResources":[{"resource":"pods","matchContains":["requests.cpu"]}]}}]}`,
			wantLimited: `[{"resource":"pods","matchContains":["requests.cpu"]}]`},
		{name: "no configuration for ResourceQuota", file: "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins: []\n",
			wantLimited: `null`},
		{name: "not an AdmissionConfiguration", file: "apiVersion: v1\nkind: ConfigMap\n",
			wantError: `kind "ConfigMap" of apiVersion "v1": want an AdmissionConfiguration of apiserver.config.k8s.io/v1`},
		{name: "unknown fields are errors", file: "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugin: []\n",
			wantError: `unknown field "plugin"`},
		{name: "the quota configuration's kind", file: `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ResourceQuota
  configuration: {apiVersion: apiserver.config.k8s.io/v1, kind: Configuration}
`, wantError: `the configuration of ResourceQuota: kind "Configuration" of apiVersion "apiserver.config.k8s.io/v1": want a ResourceQuotaConfiguration`},
		{name: "a limited resource needs its resource", file: `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ResourceQuota
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: ResourceQuotaConfiguration
    limitedResources: [{matchContains: [cpu]}]
`, wantError: "limitedResources[0].resource: Required value"},
		{name: "scopes are refused, not ignored", file: `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ResourceQuota
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: ResourceQuotaConfiguration
    limitedResources:
    - resource: pods
      matchScopes: [{scopeName: PriorityClass, operator: In, values: [cluster-services]}]
`, wantError: "limitedResources[0].matchScopes: not implemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := writeFile(t, dir, "admission.yaml", tt.file)
			if tt.quotaFile != "" {
				writeFile(t, dir, "quota.yaml", tt.quotaFile)
			}
			configs, err := ReadAdmissionConfiguration(file)
			var chain *Chain
			if err == nil {
				chain, err = NewChain("", "", Dependencies{Configs: configs})
			}
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error %v, want one with %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := encode(chain.quota.limited); got != tt.wantLimited {
				t.Errorf("limitedResources = %s\nwant %s", got, tt.wantLimited)
			}
		})
	}

	// A plugin that is not enabled does not read its configuration.
	dir := t.TempDir()
	bad := Configs{ResourceQuota: {Configuration: []byte(`{"apiVersion":"x","kind":"y"}`)}}
	if _, err := NewChain("", "ResourceQuota", Dependencies{Configs: bad}); err != nil {
		t.Errorf("ResourceQuota disabled: %v", err)
	}
	if _, err := ReadAdmissionConfiguration(filepath.Join(dir, "missing.yaml")); err == nil ||
		!strings.Contains(err.Error(), "unable to read admission control configuration from") {
		t.Errorf("a missing file: %v", err)
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}
