// Services: their defaults, what the server does to a Service before
// checking it (PrepareService), and the checks. What a Service takes from
// the cluster's shared pools (its cluster IP, its node ports) is final/ipalloc's.

package apis

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// defaultService fills in what Kubernetes' SetDefaults_Service does: the
// type, session affinity, each port's protocol and target port, and the
// traffic policies the type has.
func defaultService(svc object.Object) {
	spec, ok := svc["spec"].(map[string]any)
	if svc["spec"] == nil {
		spec, ok = map[string]any{}, true
		svc["spec"] = spec
	}
	if !ok {
		return
	}
	setDefault(spec, "type", "ClusterIP")
	setDefault(spec, "sessionAffinity", "None")
	ports, _ := spec["ports"].([]any)
	for _, item := range ports {
		port, ok := item.(map[string]any)
		if !ok {
			continue
		}
		setDefault(port, "protocol", "TCP")
		if t := port["targetPort"]; t == nil || t == "" || object.JSONString(t) == "0" {
			port["targetPort"] = port["port"]
		}
	}
	switch spec["type"] {
	case "NodePort", "LoadBalancer":
		setDefault(spec, "externalTrafficPolicy", "Cluster")
	case "ClusterIP":
		if ips, _ := spec["externalIPs"].([]any); len(ips) > 0 {
			setDefault(spec, "externalTrafficPolicy", "Cluster")
		}
	}
	if spec["type"] != "ExternalName" {
		setDefault(spec, "internalTrafficPolicy", "Cluster")
	}
	if spec["type"] == "LoadBalancer" {
		setDefault(spec, "allocateLoadBalancerNodePorts", true)
	}
	if svc["status"] == nil {
		svc["status"] = map[string]any{"loadBalancer": map[string]any{}}
	}
}

// ServiceNeedsClusterIP: every type but ExternalName has a cluster IP
// (or is headless, clusterIP "None").
func ServiceNeedsClusterIP(svc object.Object) bool {
	spec, _ := svc["spec"].(map[string]any)
	return spec["type"] != "ExternalName"
}

// ServiceNeedsNodePorts: NodePort Services get a node port per port, and
// LoadBalancer ones too unless allocateLoadBalancerNodePorts is false.
func ServiceNeedsNodePorts(svc object.Object) bool {
	spec, _ := svc["spec"].(map[string]any)
	switch spec["type"] {
	case "NodePort":
		return true
	case "LoadBalancer":
		return spec["allocateLoadBalancerNodePorts"] != false
	}
	return false
}

// PrepareService does to a Service, in place, what Kubernetes' service
// storage and strategy do before the checks (old is nil on a create):
//
//   - an update that leaves out the cluster IP or a node port keeps the
//     one the Service has (patchAllocatedValues): a client may send the
//     manifest it created the Service from again;
//   - clusterIPs follows clusterIP for clients that set only the latter
//     (normalizeClusterIPs);
//   - a change of type drops the fields the new type has no use for, when
//     the client left them as they were (dropTypeDependentFields).
//
// The server's checks run on a prepared copy (Validate), final/ipalloc
// prepares the Service itself before it takes what the Service needs.
func PrepareService(svc, old object.Object) {
	spec, ok := svc["spec"].(map[string]any)
	if !ok {
		return
	}
	oldSpec, _ := old["spec"].(map[string]any)
	if oldSpec != nil {
		patchAllocatedValues(svc, old)
	}
	normalizeClusterIPs(spec, oldSpec, old != nil)
	if oldSpec != nil {
		dropTypeDependentFields(svc, old)
	}
	if spec["type"] == "ExternalName" {
		delete(spec, "internalTrafficPolicy") // as Kubernetes drops it on reads
	}
}

func patchAllocatedValues(svc, old object.Object) {
	spec, oldSpec := svc["spec"].(map[string]any), old["spec"].(map[string]any)
	if ServiceNeedsClusterIP(old) && ServiceNeedsClusterIP(svc) {
		if spec["clusterIP"] == nil || spec["clusterIP"] == "" {
			if oldSpec["clusterIP"] != nil {
				spec["clusterIP"] = oldSpec["clusterIP"]
			}
		}
		if ips, _ := spec["clusterIPs"].([]any); len(ips) == 0 && oldSpec["clusterIPs"] != nil {
			spec["clusterIPs"] = object.DeepCopy(oldSpec["clusterIPs"])
		}
	}
	if ServiceNeedsNodePorts(old) && ServiceNeedsNodePorts(svc) {
		// A port that left its node port out gets the one its name had,
		// unless another port of the Service uses it now.
		used := map[int64]bool{}
		for _, p := range servicePorts(svc) {
			if n := int64Of(p["nodePort"]); n != 0 && nodePortIn(old, n) {
				used[n] = true
			}
		}
		byName := map[string]any{}
		for _, p := range servicePorts(old) {
			name, _ := p["name"].(string)
			byName[name] = p["nodePort"]
		}
		for _, p := range servicePorts(svc) {
			name, _ := p["name"].(string)
			if n := int64Of(byName[name]); int64Of(p["nodePort"]) == 0 && n != 0 && !used[n] {
				p["nodePort"] = byName[name]
			}
		}
	}
}

func nodePortIn(svc object.Object, n int64) bool {
	for _, p := range servicePorts(svc) {
		if int64Of(p["nodePort"]) == n {
			return true
		}
	}
	return false
}

func normalizeClusterIPs(spec, oldSpec map[string]any, update bool) {
	clusterIP, _ := spec["clusterIP"].(string)
	ips, _ := spec["clusterIPs"].([]any)
	if !update {
		if clusterIP != "" && len(ips) == 0 {
			spec["clusterIPs"] = []any{clusterIP}
		}
		return
	}
	oldIP, _ := oldSpec["clusterIP"].(string)
	oldIPs, _ := oldSpec["clusterIPs"].([]any)
	if len(oldIPs) > 0 && len(ips) == 0 && oldIP == clusterIP {
		spec["clusterIPs"] = object.DeepCopy(oldSpec["clusterIPs"]) // an old client that knows only clusterIP
		ips = oldIPs
	}
	if oldIP != clusterIP && reflect.DeepEqual(ips, oldIPs) {
		if oldIP != "" && clusterIP == "" {
			delete(spec, "clusterIPs") // cleared: clear both
		} else {
			spec["clusterIPs"] = []any{clusterIP}
		}
	}
}

func dropTypeDependentFields(svc, old object.Object) {
	spec, oldSpec := svc["spec"].(map[string]any), old["spec"].(map[string]any)
	same := func(field string) bool { return reflect.DeepEqual(spec[field], oldSpec[field]) }
	if ServiceNeedsClusterIP(old) && !ServiceNeedsClusterIP(svc) {
		if same("clusterIP") && same("clusterIPs") {
			delete(spec, "clusterIP")
			delete(spec, "clusterIPs")
		}
		for _, field := range []string{"ipFamilies", "ipFamilyPolicy"} {
			if same(field) {
				delete(spec, field)
			}
		}
	}
	if ServiceNeedsNodePorts(old) && !ServiceNeedsNodePorts(svc) {
		ports, oldPorts := servicePorts(svc), servicePorts(old)
		sameNodePorts := len(ports) == len(oldPorts)
		for i := 0; sameNodePorts && i < len(ports); i++ {
			sameNodePorts = int64Of(ports[i]["nodePort"]) == int64Of(oldPorts[i]["nodePort"])
		}
		if sameNodePorts {
			for _, p := range ports {
				delete(p, "nodePort")
			}
		}
	}
	if oldSpec["type"] == "LoadBalancer" && spec["type"] != "LoadBalancer" && same("allocateLoadBalancerNodePorts") {
		delete(spec, "allocateLoadBalancerNodePorts")
	}
	if externallyAccessible(oldSpec) && !externallyAccessible(spec) && same("externalTrafficPolicy") {
		delete(spec, "externalTrafficPolicy")
	}
	if spec["type"] != "LoadBalancer" {
		if status, ok := svc["status"].(map[string]any); ok {
			status["loadBalancer"] = map[string]any{}
		}
	}
}

// externallyAccessible: reachable from outside the cluster, by node ports,
// a load balancer or external IPs.
func externallyAccessible(spec map[string]any) bool {
	switch spec["type"] {
	case "NodePort", "LoadBalancer":
		return true
	case "ClusterIP":
		ips, _ := spec["externalIPs"].([]any)
		return len(ips) > 0
	}
	return false
}

// servicePorts are the Service's ports that are objects, the maps
// themselves.
func servicePorts(svc object.Object) []map[string]any {
	spec, _ := svc["spec"].(map[string]any)
	list, _ := spec["ports"].([]any)
	var out []map[string]any
	for _, item := range list {
		if p, ok := item.(map[string]any); ok {
			out = append(out, p)
		}
	}
	return out
}

// int64Of reads a JSON number; anything else is 0.
func int64Of(v any) int64 {
	n, ok := v.(json.Number)
	if !ok {
		return 0
	}
	i, _ := n.Int64()
	return i
}

// service is the part of a Service that validation reads. A field of the
// wrong type ("port": "80") is a 400, as Kubernetes' decoder makes it.
type service struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Type                          string            `json:"type"`
		ClusterIP                     string            `json:"clusterIP"`
		ClusterIPs                    []string          `json:"clusterIPs"`
		Ports                         []servicePort     `json:"ports"`
		Selector                      map[string]string `json:"selector"`
		SessionAffinity               string            `json:"sessionAffinity"`
		ExternalName                  string            `json:"externalName"`
		ExternalIPs                   []string          `json:"externalIPs"`
		IPFamilies                    []string          `json:"ipFamilies"`
		IPFamilyPolicy                *string           `json:"ipFamilyPolicy"`
		ExternalTrafficPolicy         string            `json:"externalTrafficPolicy"`
		InternalTrafficPolicy         *string           `json:"internalTrafficPolicy"`
		AllocateLoadBalancerNodePorts *bool             `json:"allocateLoadBalancerNodePorts"`
	} `json:"spec"`
}

type servicePort struct {
	Name       string      `json:"name"`
	Protocol   string      `json:"protocol"`
	Port       int32       `json:"port"`
	TargetPort intOrString `json:"targetPort"`
	NodePort   int32       `json:"nodePort"`
}

// intOrString is a port by number or by name (Kubernetes' IntOrString).
type intOrString struct {
	number int64
	name   string
	isName bool
}

func (v *intOrString) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		v.isName = true
		return json.Unmarshal(data, &v.name)
	}
	return json.Unmarshal(data, &v.number)
}

// validateService checks a Service as Kubernetes' ValidateService and
// ValidateServiceUpdate do, on a prepared copy: ports, type, cluster IPs
// (which may not change once set), external name, policies. Whether a
// cluster IP or a node port is in its range and free is final/ipalloc's
// to say, when the Service takes it.
func validateService(obj, old object.Object) ([]apierrors.Cause, error) {
	prepared := object.Object(object.DeepCopy(map[string]any(obj)).(map[string]any))
	PrepareService(prepared, old)
	var svc service
	data, err := json.Marshal(prepared)
	if err == nil {
		err = json.Unmarshal(data, &svc)
	}
	if err != nil {
		return nil, apierrors.NewBadRequest("Service in version \"v1\" cannot be handled as a Service: %v", err)
	}
	v := &causes{}
	spec := svc.Spec
	headless := spec.ClusterIP == "None"
	if len(spec.Ports) == 0 && !headless && spec.Type != "ExternalName" {
		v.required("spec.ports")
	}
	switch spec.Type {
	case "LoadBalancer", "NodePort":
		if headless {
			v.invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for "+spec.Type+" services")
		}
	case "ExternalName":
		if len(spec.ClusterIPs) > 0 {
			v.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
		}
		if len(spec.IPFamilies) > 0 {
			v.forbidden("spec.ipFamilies", "may not be set for ExternalName services")
		}
		if spec.IPFamilyPolicy != nil {
			v.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
		}
		switch name := strings.TrimSuffix(spec.ExternalName, "."); { // a trailing dot: fully qualified
		case name == "":
			v.required("spec.externalName")
		case object.ValidateDNS1123Subdomain(name) != "":
			v.invalid("spec.externalName", name, object.ValidateDNS1123Subdomain(name))
		}
	}
	validateServicePorts(v, spec.Type, spec.Ports)
	preparedSpec, _ := prepared["spec"].(map[string]any)
	for _, c := range object.ValidateLabels(preparedSpec["selector"]) {
		c.Field = "spec.selector" + strings.TrimPrefix(c.Field, "metadata.labels")
		v.list = append(v.list, c)
	}
	v.oneOf("spec.sessionAffinity", spec.SessionAffinity, "ClientIP", "None")
	v.oneOf("spec.type", spec.Type, "ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
	if spec.Type != "ExternalName" {
		validateClusterIPs(v, &svc, old)
	}
	if spec.AllocateLoadBalancerNodePorts != nil && spec.Type != "LoadBalancer" {
		v.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
	}
	if spec.ExternalTrafficPolicy != "" {
		if !externallyAccessible(preparedSpec) {
			v.invalid("spec.externalTrafficPolicy", spec.ExternalTrafficPolicy, "may only be set for externally-accessible services")
		} else {
			v.oneOf("spec.externalTrafficPolicy", spec.ExternalTrafficPolicy, "Cluster", "Local")
		}
	}
	if p := spec.InternalTrafficPolicy; p != nil {
		v.oneOf("spec.internalTrafficPolicy", *p, "Cluster", "Local")
	}
	return v.list, nil
}

// validateServicePorts: names (required when there are several, unique),
// numbers, protocols, target ports, node ports (not on a ClusterIP
// Service), and no port or node port twice for one protocol.
func validateServicePorts(v *causes, serviceType string, ports []servicePort) {
	names := map[string]bool{}
	seenPorts, seenNodePorts := map[string]bool{}, map[string]bool{}
	for i, p := range ports {
		path := fmt.Sprintf("spec.ports[%d]", i)
		switch {
		case p.Name == "" && len(ports) > 1:
			v.required(path + ".name")
		case p.Name != "" && object.ValidateDNS1123Label(p.Name) != "":
			v.invalid(path+".name", p.Name, object.ValidateDNS1123Label(p.Name))
		case p.Name != "" && names[p.Name]:
			v.duplicate(path+".name", p.Name)
		}
		names[p.Name] = true
		if p.Port < 1 || p.Port > 65535 {
			v.invalid(path+".port", p.Port, "must be between 1 and 65535, inclusive")
		}
		if p.Protocol == "" {
			v.required(path + ".protocol")
		} else {
			v.oneOf(path+".protocol", p.Protocol, "SCTP", "TCP", "UDP")
		}
		if t := p.TargetPort; t.isName {
			if msg := portNameProblem(t.name); msg != "" {
				v.invalid(path+".targetPort", t.name, msg)
			}
		} else if t.number < 1 || t.number > 65535 {
			v.invalid(path+".targetPort", t.number, "must be between 1 and 65535, inclusive")
		}
		if p.NodePort != 0 && serviceType == "ClusterIP" {
			v.forbidden(path+".nodePort", "may not be used when `type` is 'ClusterIP'")
		}
		if key := fmt.Sprintf("%s/%d", p.Protocol, p.NodePort); p.NodePort != 0 && seenNodePorts[key] {
			v.duplicate(path+".nodePort", p.NodePort)
		} else {
			seenNodePorts[key] = true
		}
		if key := fmt.Sprintf("%d/%s", p.Port, p.Protocol); seenPorts[key] {
			v.duplicate(path, key)
		} else {
			seenPorts[key] = true
		}
	}
}

// validateClusterIPs: clusterIPs starts with clusterIP; each is "None"
// (alone) or an IP address; families and policy are known values; and on an
// update the cluster IP a Service has may not change.
func validateClusterIPs(v *causes, svc *service, old object.Object) {
	spec := svc.Spec
	if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
		v.required("spec.clusterIPs")
	} else if spec.ClusterIP != "" && spec.ClusterIPs[0] != spec.ClusterIP {
		v.invalid("spec.clusterIPs", spec.ClusterIPs, "first value must match `clusterIP`")
	} else if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		v.invalid("spec.clusterIPs", spec.ClusterIPs, "must be empty when `clusterIP` is not specified")
	}
	for i, ip := range spec.ClusterIPs {
		if i == 0 && ip == "None" {
			if len(spec.ClusterIPs) > 1 {
				v.invalid("spec.clusterIPs", spec.ClusterIPs, "'None' must be the first and only value")
			}
			continue
		}
		if msg := ipProblem(ip); msg != "" {
			v.invalid(fmt.Sprintf("spec.clusterIPs[%d]", i), ip, msg)
		}
	}
	seen := map[string]bool{}
	for i, family := range spec.IPFamilies {
		v.oneOf(fmt.Sprintf("spec.ipFamilies[%d]", i), family, "IPv4", "IPv6")
		if seen[family] {
			v.duplicate(fmt.Sprintf("spec.ipFamilies[%d]", i), family)
		}
		seen[family] = true
	}
	if p := spec.IPFamilyPolicy; p != nil {
		v.oneOf("spec.ipFamilyPolicy", *p, "PreferDualStack", "RequireDualStack", "SingleStack")
	}
	if old == nil || !ServiceNeedsClusterIP(old) {
		return
	}
	oldSpec, _ := old["spec"].(map[string]any)
	oldIPs, _ := oldSpec["clusterIPs"].([]any)
	if len(oldIPs) > 0 && len(spec.ClusterIPs) > 0 && oldIPs[0] != spec.ClusterIPs[0] {
		v.invalid("spec.clusterIPs[0]", spec.ClusterIPs, "may not change once set")
	}
}

// ipProblem is what is wrong with an IP address, "" if nothing.
func ipProblem(s string) string {
	ip, err := netip.ParseAddr(s)
	switch {
	case err == nil && ip.Zone() == "":
		return ""
	case leadingZeros.MatchString(s):
		return "must not have leading 0s"
	}
	return "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
}

var leadingZeros = regexp.MustCompile(`^(\d+\.)*0\d+(\.\d+)*$`)

var portNameChars = regexp.MustCompile(`^[-a-z0-9]+$`)

// portNameProblem is what is wrong with a port name (an IANA service
// name), "" if nothing.
func portNameProblem(name string) string {
	switch {
	case len(name) > 15:
		return "must be no more than 15 characters"
	case !portNameChars.MatchString(name):
		return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
	case !strings.ContainsAny(name, "abcdefghijklmnopqrstuvwxyz"):
		return "must contain at least one letter (a-z)"
	case strings.Contains(name, "--"):
		return "must not contain consecutive hyphens"
	case strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-"):
		return "must not begin or end with a hyphen"
	}
	return ""
}

// causes collects field errors worded as Kubernetes' field.Error does.
type causes struct{ list []apierrors.Cause }

func (c *causes) add(reason, field, message string) {
	c.list = append(c.list, apierrors.Cause{Reason: reason, Message: message, Field: field})
}

func (c *causes) required(field string) { c.add("FieldValueRequired", field, "Required value") }

func (c *causes) forbidden(field, why string) { c.add("FieldValueForbidden", field, "Forbidden: "+why) }

func (c *causes) invalid(field string, value any, why string) {
	c.add("FieldValueInvalid", field, fmt.Sprintf("Invalid value: %s: %s", quote(value), why))
}

func (c *causes) duplicate(field string, value any) {
	c.add("FieldValueDuplicate", field, "Duplicate value: "+quote(value))
}

// oneOf reports a value that is not one of the supported ones.
func (c *causes) oneOf(field, value string, supported ...string) {
	for _, s := range supported {
		if value == s {
			return
		}
	}
	quoted := make([]string, len(supported))
	for i, s := range supported {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	c.add("FieldValueNotSupported", field, fmt.Sprintf("Unsupported value: %q: supported values: %s", value, strings.Join(quoted, ", ")))
}

// quote shows a value as Kubernetes' field errors do: strings quoted,
// numbers as they are, lists and objects as JSON.
func quote(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case int, int32, int64, json.Number:
		return fmt.Sprint(v)
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// ValidateIPAddressName is the rule for an IPAddress's name: an IP address
// in its canonical form ("2001:db8::1", not "2001:db8:0::1"), as the
// allocator names them, so that no address has two names.
func ValidateIPAddressName(name string) string {
	if msg := ipProblem(name); msg != "" {
		return msg
	}
	if canonical := netip.MustParseAddr(name).String(); canonical != name {
		return fmt.Sprintf("must be in canonical form (%q)", canonical)
	}
	return ""
}

// validateIPAddress: an IPAddress names what holds it, and that does not
// change (Kubernetes' ValidateIPAddress and ValidateIPAddressUpdate).
func validateIPAddress(obj, old object.Object) []apierrors.Cause {
	v := &causes{}
	spec, _ := obj["spec"].(map[string]any)
	ref, ok := spec["parentRef"].(map[string]any)
	if !ok {
		v.required("spec.parentRef")
	} else {
		for _, field := range []string{"resource", "name"} {
			if s, _ := ref[field].(string); s == "" {
				v.required("spec.parentRef." + field)
			}
		}
	}
	if oldSpec, _ := old["spec"].(map[string]any); old != nil && !reflect.DeepEqual(spec["parentRef"], oldSpec["parentRef"]) {
		v.invalid("spec.parentRef", spec["parentRef"], "field is immutable")
	}
	return v.list
}

// validateServiceCIDR: one CIDR, or two of different families, that do
// not change (Kubernetes' ValidateServiceCIDR).
func validateServiceCIDR(obj, old object.Object) []apierrors.Cause {
	v := &causes{}
	spec, _ := obj["spec"].(map[string]any)
	cidrs, _ := spec["cidrs"].([]any)
	switch {
	case len(cidrs) == 0:
		v.required("spec.cidrs")
	case len(cidrs) > 2:
		v.add("FieldValueTooMany", "spec.cidrs", fmt.Sprintf("Too many: %d: must have at most 2 items", len(cidrs)))
	}
	var families []bool
	for i, c := range cidrs {
		s, _ := c.(string)
		prefix, err := netip.ParsePrefix(s)
		if err != nil || prefix != prefix.Masked() {
			v.invalid(fmt.Sprintf("spec.cidrs[%d]", i), s, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
			continue
		}
		families = append(families, prefix.Addr().Is4())
	}
	if len(families) == 2 && families[0] == families[1] {
		v.invalid("spec.cidrs", cidrs, "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64")
	}
	if oldSpec, _ := old["spec"].(map[string]any); old != nil && !reflect.DeepEqual(spec["cidrs"], oldSpec["cidrs"]) {
		v.invalid("spec.cidrs", cidrs, "field is immutable")
	}
	return v.list
}
