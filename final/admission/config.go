// The plugins' configuration: kube-apiserver's
// --admission-control-config-file, an AdmissionConfiguration that gives
// each plugin by name its own configuration, inline or in a file of its
// own:
//
//	apiVersion: apiserver.config.k8s.io/v1
//	kind: AdmissionConfiguration
//	plugins:
//	- name: ResourceQuota
//	  configuration:                       # or path: quota.yaml
//	    apiVersion: apiserver.config.k8s.io/v1
//	    kind: ResourceQuotaConfiguration
//	    limitedResources:
//	    - resource: pods
//	      matchContains: ["cpu"]
//
// Of this server's plugins only ResourceQuota reads a configuration, as in
// Kubernetes. Configurations of plugins that are not enabled are not read.
//
// In Kubernetes: ReadAdmissionConfiguration in
// k8s.io/apiserver/pkg/admission/config.go, and LoadConfiguration in
// k8s.io/apiserver/pkg/admission/plugin/resourcequota/config.go.

package admission

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Configs are the plugins' configurations by plugin name.
type Configs map[string]PluginConfig

// PluginConfig is one plugin's configuration: a JSON document (apiVersion,
// kind and the plugin's fields) or the file that holds it, read only when
// the plugin is enabled.
type PluginConfig struct {
	Configuration json.RawMessage
	Path          string
}

// The apiVersions Kubernetes accepts for the file: today's, and the older
// group and version it still reads.
var admissionConfigurationVersions = []string{"apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1alpha1", "apiserver.k8s.io/v1alpha1"}

// ReadAdmissionConfiguration reads --admission-control-config-file, YAML or
// JSON. Unknown fields are errors, as in Kubernetes' strict decoding. A
// plugin's path is taken relative to the file's directory.
func ReadAdmissionConfiguration(file string) (Configs, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("unable to read admission control configuration from %q [%v]", file, err)
	}
	var doc struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Plugins    []struct {
			Name          string          `json:"name"`
			Path          string          `json:"path"`
			Configuration json.RawMessage `json:"configuration"`
		} `json:"plugins"`
	}
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if doc.Kind != "AdmissionConfiguration" || !slices.Contains(admissionConfigurationVersions, doc.APIVersion) {
		return nil, fmt.Errorf("%s: kind %q of apiVersion %q: want an AdmissionConfiguration of %s", file, doc.Kind, doc.APIVersion,
			strings.Join(admissionConfigurationVersions, ", "))
	}
	configs := Configs{}
	for i, plugin := range doc.Plugins {
		if plugin.Name == "" {
			return nil, fmt.Errorf("%s: plugins[%d]: no name", file, i)
		}
		if _, seen := configs[plugin.Name]; seen {
			continue // the first one counts, as in Kubernetes
		}
		c := PluginConfig{Path: plugin.Path}
		if len(plugin.Configuration) > 0 && string(plugin.Configuration) != "null" {
			c.Configuration = plugin.Configuration
		}
		if c.Path != "" && !filepath.IsAbs(c.Path) {
			c.Path = filepath.Join(filepath.Dir(file), c.Path)
		}
		configs[plugin.Name] = c
	}
	return configs, nil
}

// configFor is a plugin's configuration as JSON, nil if it has none; an
// inline configuration wins over a path.
func (c Configs) configFor(plugin string) (json.RawMessage, error) {
	config, ok := c[plugin]
	switch {
	case !ok:
		return nil, nil
	case config.Configuration != nil:
		return config.Configuration, nil
	case config.Path != "":
		data, err := os.ReadFile(config.Path)
		if err != nil {
			return nil, err
		}
		return yaml.YAMLToJSON(data)
	}
	return nil, nil
}

// LimitedResource is one of ResourceQuota's limitedResources: creating an
// object of the resource (apiGroup, resource) that consumes anything whose
// name contains one of matchContains needs a quota that limits it.
type LimitedResource struct {
	APIGroup      string   `json:"apiGroup,omitempty"`
	Resource      string   `json:"resource"`
	MatchContains []string `json:"matchContains,omitempty"`
	// MatchScopes (quota scopes such as PriorityClass) are refused: this
	// server has no quota scopes.
	MatchScopes json.RawMessage `json:"matchScopes,omitempty"`
}

// quotaConfiguration reads ResourceQuota's configuration: a
// ResourceQuotaConfiguration of apiserver.config.k8s.io/v1, or a
// Configuration of resourcequota.admission.k8s.io/v1beta1 or v1alpha1, the
// older names Kubernetes still reads. None is an empty configuration.
func quotaConfiguration(raw json.RawMessage) ([]LimitedResource, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var doc struct {
		APIVersion       string            `json:"apiVersion"`
		Kind             string            `json:"kind"`
		LimitedResources []LimitedResource `json:"limitedResources"`
	}
	if err := yaml.UnmarshalStrict(raw, &doc); err != nil {
		return nil, err
	}
	switch doc.APIVersion + " " + doc.Kind {
	case "apiserver.config.k8s.io/v1 ResourceQuotaConfiguration",
		"resourcequota.admission.k8s.io/v1beta1 Configuration",
		"resourcequota.admission.k8s.io/v1alpha1 Configuration":
	default:
		return nil, fmt.Errorf("kind %q of apiVersion %q: want a ResourceQuotaConfiguration of apiserver.config.k8s.io/v1 "+
			"(or a Configuration of resourcequota.admission.k8s.io/v1beta1 or v1alpha1)", doc.Kind, doc.APIVersion)
	}
	var errs []error
	for i, l := range doc.LimitedResources {
		if l.Resource == "" {
			errs = append(errs, fmt.Errorf("limitedResources[%d].resource: Required value", i))
		}
		if len(l.MatchScopes) > 0 && string(l.MatchScopes) != "null" && string(l.MatchScopes) != "[]" {
			errs = append(errs, fmt.Errorf("limitedResources[%d].matchScopes: not implemented: this server has no quota scopes", i))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return doc.LimitedResources, nil
}
