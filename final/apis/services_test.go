package apis

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

func TestDefaultService(t *testing.T) {
	services := testRegistry().Lookup("", "services")
	tests := []struct {
		name, svc string
		want      map[string]string
	}{
		{"a ClusterIP Service", `{"spec":{"ports":[{"port":80},{"port":443,"targetPort":"https","protocol":"UDP"}]}}`, map[string]string{
			"spec.type": "ClusterIP", "spec.sessionAffinity": "None", "spec.internalTrafficPolicy": "Cluster",
			"spec.ports.0.protocol": "TCP", "spec.ports.0.targetPort": "80", "spec.ports.1.protocol": "UDP", "spec.ports.1.targetPort": "https",
			"spec.externalTrafficPolicy": "null", "status": `{"loadBalancer":{}}`}},
		{"a NodePort Service", `{"spec":{"type":"NodePort","ports":[{"port":80,"targetPort":0}]}}`, map[string]string{
			"spec.externalTrafficPolicy": "Cluster", "spec.ports.0.targetPort": "80", "spec.allocateLoadBalancerNodePorts": "null"}},
		{"a LoadBalancer Service", `{"spec":{"type":"LoadBalancer","ports":[{"port":80}]}}`, map[string]string{
			"spec.externalTrafficPolicy": "Cluster", "spec.allocateLoadBalancerNodePorts": "true"}},
		{"an ExternalName Service", `{"spec":{"type":"ExternalName","externalName":"example.com"}}`, map[string]string{
			"spec.internalTrafficPolicy": "null", "spec.sessionAffinity": "None"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := mustDecode(t, tt.svc)
			Default(services, svc)
			for path, want := range tt.want {
				if got := encodeAt(svc, path); got != want {
					t.Errorf("%s = %s, want %s", path, got, want)
				}
			}
		})
	}
}

// causeMessages renders causes as "field: message", as a Status's message
// lists them.
func causeMessages(causes []apierrors.Cause) []string {
	out := []string{}
	for _, c := range causes {
		out = append(out, c.Field+": "+c.Message)
	}
	slices.Sort(out)
	return out
}

// The checks, and their words, are Kubernetes' (1.37, asked the same).
func TestValidateService(t *testing.T) {
	services := testRegistry().Lookup("", "services")
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"valid", `{"ports":[{"port":80}],"selector":{"app":"web"}}`, []string{}},
		{"headless without ports", `{"clusterIP":"None"}`, []string{}},
		{"no ports", `{}`, []string{"spec.ports: Required value"}},
		{"ports", `{"type":"Foo","sessionAffinity":"X","ports":[{"port":0,"protocol":"FOO","targetPort":"Bad_Name","name":"A"},{"port":70000}]}`, []string{
			`spec.ports[0].name: Invalid value: "A": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')`,
			`spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive`,
			`spec.ports[0].protocol: Unsupported value: "FOO": supported values: "SCTP", "TCP", "UDP"`,
			`spec.ports[0].targetPort: Invalid value: "Bad_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
			`spec.ports[1].name: Required value`,
			`spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive`,
			`spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive`,
			`spec.sessionAffinity: Unsupported value: "X": supported values: "ClientIP", "None"`,
			`spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}},
		{"a node port on a ClusterIP Service", `{"ports":[{"port":80,"nodePort":30080}]}`,
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{"a port twice", `{"type":"NodePort","ports":[{"name":"a","port":80,"nodePort":30080},{"name":"b","port":80,"nodePort":30080}]}`,
			[]string{`spec.ports[1].nodePort: Duplicate value: 30080`, `spec.ports[1]: Duplicate value: "80/TCP"`}},
		{"one node port for TCP and UDP", `{"type":"NodePort","ports":[{"name":"a","port":53,"nodePort":30053},{"name":"b","port":53,"protocol":"UDP","nodePort":30053}]}`, []string{}},
		{"a bad cluster IP", `{"clusterIP":"foo","ports":[{"port":80}]}`,
			[]string{`spec.clusterIPs[0]: Invalid value: "foo": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{"leading zeros", `{"clusterIP":"10.0.0.010","ports":[{"port":80}]}`,
			[]string{`spec.clusterIPs[0]: Invalid value: "10.0.0.010": must not have leading 0s`}},
		{"clusterIPs without clusterIP", `{"clusterIPs":["10.0.0.50"],"ports":[{"port":80}]}`,
			[]string{"spec.clusterIPs: Invalid value: [\"10.0.0.50\"]: must be empty when `clusterIP` is not specified"}},
		{"clusterIPs that do not start with clusterIP", `{"clusterIP":"10.0.0.51","clusterIPs":["10.0.0.52"],"ports":[{"port":80}]}`,
			[]string{"spec.clusterIPs: Invalid value: [\"10.0.0.52\"]: first value must match `clusterIP`"}},
		{"a headless NodePort Service", `{"clusterIP":"None","type":"NodePort","ports":[{"port":80}]}`,
			[]string{`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services`}},
		{"an ExternalName Service with a cluster IP", `{"type":"ExternalName","clusterIP":"10.0.0.61"}`,
			[]string{"spec.clusterIPs: Forbidden: may not be set for ExternalName services", "spec.externalName: Required value"}},
		{"an external name that is no DNS name", `{"type":"ExternalName","externalName":"Not_A_Name"}`,
			[]string{`spec.externalName: Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')`}},
		{"a fully qualified external name", `{"type":"ExternalName","externalName":"example.com."}`, []string{}},
		{"policies", `{"ipFamilyPolicy":"Both","ipFamilies":["IPv5"],"internalTrafficPolicy":"Node","externalTrafficPolicy":"Local","ports":[{"port":80}]}`, []string{
			`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`,
			`spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"`,
			`spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"`,
			`spec.ipFamilyPolicy: Unsupported value: "Both": supported values: "PreferDualStack", "RequireDualStack", "SingleStack"`}},
		{"a bad selector", `{"selector":{"app":"no spaces"},"ports":[{"port":80}]}`, []string{
			`spec.selector.app: Invalid value: no spaces: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := mustDecode(t, `{"metadata":{"name":"web"},"spec":`+tt.spec+`}`)
			Default(services, svc)
			before := encode(svc)
			causes, err := Validate(services, svc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := causeMessages(causes); !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if encode(svc) != before {
				t.Errorf("validation changed the Service: %s, was %s", encode(svc), before)
			}
		})
	}
}

// A field of the wrong type is a 400, as Kubernetes' decoder makes it.
func TestValidateServiceOfTheWrongShape(t *testing.T) {
	services := testRegistry().Lookup("", "services")
	_, err := Validate(services, mustDecode(t, `{"metadata":{"name":"web"},"spec":{"ports":[{"port":"80"}]}}`), nil)
	se, ok := err.(*apierrors.StatusError)
	if !ok || se.Code != http.StatusBadRequest || !strings.HasPrefix(se.Message, `Service in version "v1" cannot be handled as a Service: `) {
		t.Errorf("got %v, want a 400", err)
	}
}

// On an update the cluster IP may not change; a client that leaves it (or
// a node port) out keeps it; a change of type may leave the fields of the
// old type as they were, they are dropped.
func TestValidateServiceUpdate(t *testing.T) {
	services := testRegistry().Lookup("", "services")
	old := `{"metadata":{"name":"web"},"spec":{"type":"NodePort","clusterIP":"10.0.0.5","clusterIPs":["10.0.0.5"],
		"ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","ports":[{"name":"http","port":80,"nodePort":30080}]}}`
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"unchanged", `{"type":"NodePort","clusterIP":"10.0.0.5","clusterIPs":["10.0.0.5"],"ports":[{"name":"http","port":80,"nodePort":30080}]}`, []string{}},
		{"a new cluster IP", `{"type":"NodePort","clusterIP":"10.0.0.9","clusterIPs":["10.0.0.9"],"ports":[{"name":"http","port":80}]}`,
			[]string{`spec.clusterIPs[0]: Invalid value: ["10.0.0.9"]: may not change once set`}},
		{"a new clusterIP, an old client", `{"type":"NodePort","clusterIP":"10.0.0.9","ports":[{"name":"http","port":80}]}`,
			[]string{`spec.clusterIPs[0]: Invalid value: ["10.0.0.9"]: may not change once set`}},
		{"the manifest again, without IP and node port", `{"type":"NodePort","ports":[{"name":"http","port":80}]}`, []string{}},
		{"to ClusterIP, the node port as it was", `{"type":"ClusterIP","clusterIP":"10.0.0.5","clusterIPs":["10.0.0.5"],"ports":[{"name":"http","port":80,"nodePort":30080}]}`, []string{}},
		{"to ExternalName, the IP as it was", `{"type":"ExternalName","externalName":"example.com","clusterIP":"10.0.0.5","clusterIPs":["10.0.0.5"],
			"ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","ports":[{"name":"http","port":80,"nodePort":30080}]}`, []string{}},
		{"to ExternalName with another IP", `{"type":"ExternalName","externalName":"example.com","clusterIP":"10.0.0.6","clusterIPs":["10.0.0.6"],"ports":[{"name":"http","port":80}]}`,
			[]string{"spec.clusterIPs: Forbidden: may not be set for ExternalName services"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := mustDecode(t, `{"metadata":{"name":"web"},"spec":`+tt.spec+`}`)
			Default(services, svc)
			causes, err := Validate(services, svc, mustDecode(t, old))
			if err != nil {
				t.Fatal(err)
			}
			if got := causeMessages(causes); !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// PrepareService does what validation assumed: the kept values are in, the
// dropped ones out.
func TestPrepareService(t *testing.T) {
	old := mustDecode(t, `{"metadata":{"name":"web"},"spec":{"type":"NodePort","clusterIP":"10.0.0.5","clusterIPs":["10.0.0.5"],
		"externalTrafficPolicy":"Cluster","ports":[{"name":"http","port":80,"nodePort":30080}]},"status":{"loadBalancer":{}}}`)
	svc := mustDecode(t, `{"metadata":{"name":"web"},"spec":{"type":"NodePort","ports":[{"name":"http","port":80}]}}`)
	PrepareService(svc, old)
	if got := encode(svc["spec"]); got != `{"clusterIP":"10.0.0.5","clusterIPs":["10.0.0.5"],"ports":[{"name":"http","nodePort":30080,"port":80}],"type":"NodePort"}` {
		t.Errorf("the manifest again: %s", got)
	}
	svc = object.Object(object.DeepCopy(map[string]any(old)).(map[string]any))
	svc["spec"].(map[string]any)["type"] = "ClusterIP"
	PrepareService(svc, old)
	if got := encode(svc["spec"]); got != `{"clusterIP":"10.0.0.5","clusterIPs":["10.0.0.5"],"ports":[{"name":"http","port":80}],"type":"ClusterIP"}` {
		t.Errorf("to ClusterIP: %s", got)
	}
	svc = mustDecode(t, `{"spec":{"clusterIP":"10.0.0.7","ports":[{"port":80}]}}`)
	PrepareService(svc, nil)
	if got := encodeAt(svc, "spec.clusterIPs"); got != `["10.0.0.7"]` {
		t.Errorf("a create with clusterIP only: clusterIPs %s", got)
	}
}

func TestValidateIPAddressName(t *testing.T) {
	for name, want := range map[string]string{
		"10.0.0.1":     "",
		"fd00::1":      "",
		"fd00:0::1":    `must be in canonical form ("fd00::1")`,
		"10.0.0.01":    "must not have leading 0s",
		"not-an-ip":    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
		"fe80::1%eth0": "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
	} {
		if got := ValidateIPAddressName(name); got != want {
			t.Errorf("ValidateIPAddressName(%q) = %q, want %q", name, got, want)
		}
	}
}
