package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/storagetest"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

const services = "/api/v1/namespaces/default/services"

// createService posts a Service in default and returns the response.
func (ts *testServer) createService(t *testing.T, name, spec string) response {
	t.Helper()
	return ts.do(t, "POST", services, "application/json", `{"metadata":{"name":"`+name+`"},"spec":`+spec+`}`)
}

func clusterIP(r response) string {
	ip, _ := field(r.obj, "spec", "clusterIP").(string)
	return ip
}

func nodePortOf(r response, i int) float64 {
	ports, _ := field(r.obj, "spec", "ports").([]any)
	if i >= len(ports) {
		return 0
	}
	n, _ := ports[i].(map[string]any)["nodePort"].(float64)
	return n
}

// expectInvalid wants a 422 whose message is exactly message.
func expectInvalid(t *testing.T, r response, message string) {
	t.Helper()
	expect(t, r, 422, "Invalid")
	if r.obj["message"] != message {
		t.Errorf("message %q\nwant    %q", r.obj["message"], message)
	}
}

// Services get their cluster IPs from --service-cluster-ip-range and their
// node ports from --service-node-port-range, in the store: what is taken
// stays taken across a restart, what a delete gives back is handed out
// again.
func TestServiceClusterIPsAndNodePorts(t *testing.T) {
	flags := []string{"--service-cluster-ip-range=10.96.0.0/28", "--service-node-port-range=30000-30009", "--advertise-address=127.0.0.1"}
	ts := startServer(t, flags...)
	cidr := netip.MustParsePrefix("10.96.0.0/28")

	kubernetes := ts.do(t, "GET", services+"/kubernetes", "", "")
	if clusterIP(kubernetes) != "10.96.0.1" {
		t.Fatalf("the kubernetes Service: %s", kubernetes.raw)
	}
	web := ts.createService(t, "web", `{"ports":[{"port":80}]}`)
	expect(t, web, 201, "")
	ip := netip.MustParseAddr(clusterIP(web))
	if !cidr.Contains(ip) || ip.String() == "10.96.0.0" || ip.String() == "10.96.0.1" || ip.String() == "10.96.0.15" {
		t.Errorf("web got %s", ip)
	}
	if got := fmt.Sprint(field(web.obj, "spec", "clusterIPs")); got != "["+ip.String()+"]" {
		t.Errorf("clusterIPs %s", got)
	}
	headless := ts.createService(t, "db", `{"clusterIP":"None","selector":{"app":"db"},"ports":[{"port":5432}]}`)
	expect(t, headless, 201, "")
	if clusterIP(headless) != "None" {
		t.Errorf("headless: %s", headless.raw)
	}
	nodePort := ts.createService(t, "np", `{"type":"NodePort","ports":[{"name":"a","port":80},{"name":"b","port":81,"nodePort":30005}]}`)
	expect(t, nodePort, 201, "")
	if n := nodePortOf(nodePort, 0); n < 30000 || n > 30009 || n == 30005 || nodePortOf(nodePort, 1) != 30005 {
		t.Errorf("node ports %v and %v", n, nodePortOf(nodePort, 1))
	}

	// What cannot be had is a 422, in Kubernetes' words.
	expectInvalid(t, ts.createService(t, "out", `{"clusterIP":"10.97.0.5","ports":[{"port":80}]}`),
		`Service "out" is invalid: spec.clusterIPs: Invalid value: ["10.97.0.5"]: failed to allocate IP 10.97.0.5: the provided network does not match the current range`)
	expectInvalid(t, ts.createService(t, "taken", `{"clusterIP":"`+ip.String()+`","ports":[{"port":80}]}`),
		`Service "taken" is invalid: spec.clusterIPs: Invalid value: ["`+ip.String()+`"]: failed to allocate IP `+ip.String()+`: provided IP is already allocated`)
	expectInvalid(t, ts.createService(t, "broadcast", `{"clusterIP":"10.96.0.15","ports":[{"port":80}]}`),
		`Service "broadcast" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.15"]: failed to allocate IP 10.96.0.15: the provided network does not match the current range`)
	expectInvalid(t, ts.createService(t, "np2", `{"type":"NodePort","ports":[{"port":80,"nodePort":30005}]}`),
		`Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30005: provided port is already allocated`)
	expectInvalid(t, ts.createService(t, "np3", `{"type":"NodePort","ports":[{"port":80,"nodePort":20080}]}`),
		`Service "np3" is invalid: spec.ports[0].nodePort: Invalid value: 20080: provided port is not in the valid range. The range of valid ports is 30000-30009`)
	// The cluster IP may not change; left out, it is kept.
	another := netip.MustParseAddr("10.96.0.0").Next().Next() // not web's, not the kubernetes Service's
	if another == ip {
		another = another.Next()
	}
	expectInvalid(t, ts.do(t, "PATCH", services+"/web", "application/merge-patch+json", `{"spec":{"clusterIP":"`+another.String()+`","clusterIPs":["`+another.String()+`"]}}`),
		`Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["`+another.String()+`"]: may not change once set`)
	replaced := ts.do(t, "PUT", services+"/web", "application/json", `{"metadata":{"name":"web"},"spec":{"ports":[{"port":8080}]}}`)
	expect(t, replaced, 200, "")
	if clusterIP(replaced) != ip.String() {
		t.Errorf("a PUT without the cluster IP: %s", replaced.raw)
	}
	// An address nobody has: not the kubernetes Service's, web's or np's.
	free := "10.96.0.2"
	for taken := []string{clusterIP(web), clusterIP(nodePort)}; slices.Contains(taken, free); {
		free = netip.MustParseAddr(free).Next().String()
	}
	// A dry run takes nothing.
	expect(t, ts.do(t, "POST", services+"?dryRun=All", "application/json", `{"metadata":{"name":"dry"},"spec":{"clusterIP":"`+free+`","ports":[{"port":80}]}}`), 201, "")
	// A delete gives back; the address is handed out again.
	fixed := ts.createService(t, "fixed", `{"clusterIP":"`+free+`","ports":[{"port":80}]}`)
	expect(t, fixed, 201, "")
	expect(t, ts.do(t, "DELETE", services+"/fixed", "", ""), 200, "")
	expect(t, ts.do(t, "DELETE", services+"/np", "", ""), 200, "")
	expect(t, ts.createService(t, "again", `{"clusterIP":"`+free+`","type":"NodePort","ports":[{"port":80,"nodePort":30005}]}`), 201, "")
	// The addresses taken are IPAddresses, each naming its Service.
	addresses := ts.do(t, "GET", "/apis/networking.k8s.io/v1/ipaddresses", "", "")
	owners := map[string]string{}
	for _, item := range addresses.obj["items"].([]any) {
		owners[field(item, "metadata", "name").(string)] = fmt.Sprint(field(item, "spec", "parentRef", "namespace"), "/", field(item, "spec", "parentRef", "name"))
	}
	if want := map[string]string{"10.96.0.1": "default/kubernetes", ip.String(): "default/web", free: "default/again"}; fmt.Sprint(owners) != fmt.Sprint(want) {
		t.Errorf("IPAddresses %v, want %v", owners, want)
	}
	cidrs := ts.do(t, "GET", "/apis/networking.k8s.io/v1/servicecidrs/kubernetes", "", "")
	if fmt.Sprint(field(cidrs.obj, "spec", "cidrs")) != "[10.96.0.0/28]" {
		t.Errorf("the ServiceCIDR: %s", cidrs.raw)
	}

	// After a restart, what is taken is still taken.
	ts.stop()
	ts = startServer(t, append(flags, "--data-dir="+ts.dir)...)
	expectInvalid(t, ts.createService(t, "after", `{"clusterIP":"`+free+`","ports":[{"port":80}]}`),
		`Service "after" is invalid: spec.clusterIPs: Invalid value: ["`+free+`"]: failed to allocate IP `+free+`: provided IP is already allocated`)
	expectInvalid(t, ts.createService(t, "after", `{"type":"NodePort","ports":[{"port":80,"nodePort":30005}]}`),
		`Service "after" is invalid: spec.ports[0].nodePort: Invalid value: 30005: provided port is already allocated`)
	// The range is full when its 14 addresses are: kubernetes, web, again
	// and 11 more.
	for i := range 11 {
		r := ts.createService(t, fmt.Sprintf("fill-%d", i), `{"ports":[{"port":80}]}`)
		expect(t, r, 201, "")
		if clusterIP(r) == ip.String() || clusterIP(r) == free || clusterIP(r) == "10.96.0.1" {
			t.Errorf("fill-%d got %s, which is taken", i, clusterIP(r))
		}
	}
	full := ts.createService(t, "full", `{"ports":[{"port":80}]}`)
	expect(t, full, 500, "InternalError")
	if !strings.Contains(full.raw, `failed to allocate a serviceIP for Service \"full\": range is full`) {
		t.Errorf("a full range: %s", full.raw)
	}
}

// The kubernetes Service in default leads to the API server: port 443 to
// the secure port, endpoints naming the advertised address; kubectl
// cluster-info finds the control plane. A graceful shutdown takes the
// address out of the endpoints.
func TestKubernetesService(t *testing.T) {
	ts := startServer(t, "--advertise-address=127.0.0.1")
	port := ts.url[strings.LastIndex(ts.url, ":")+1:]
	svc := ts.do(t, "GET", services+"/kubernetes", "", "")
	expect(t, svc, 200, "")
	if got := mustJSON(field(svc.obj, "spec")); !strings.Contains(got, `"clusterIP":"10.0.0.1"`) ||
		!strings.Contains(got, `"ports":[{"name":"https","port":443,"protocol":"TCP","targetPort":`+port+`}]`) {
		t.Errorf("the kubernetes Service: %s", got)
	}
	if got := mustJSON(field(svc.obj, "metadata", "labels")); got != `{"component":"apiserver","provider":"kubernetes"}` {
		t.Errorf("labels %s", got)
	}
	endpoints := ts.do(t, "GET", "/api/v1/namespaces/default/endpoints/kubernetes", "", "")
	if got := mustJSON(endpoints.obj["subsets"]); got != `[{"addresses":[{"ip":"127.0.0.1"}],"ports":[{"name":"https","port":`+port+`,"protocol":"TCP"}]}]` {
		t.Errorf("the Endpoints: %s", got)
	}
	slice := ts.do(t, "GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes", "", "")
	if got := mustJSON(map[string]any{"addressType": slice.obj["addressType"], "endpoints": slice.obj["endpoints"], "ports": slice.obj["ports"],
		"labels": field(slice.obj, "metadata", "labels")}); got != `{"addressType":"IPv4","endpoints":[{"addresses":["127.0.0.1"],"conditions":{"ready":true}}],`+
		`"labels":{"kubernetes.io/service-name":"kubernetes"},"ports":[{"name":"https","port":`+port+`,"protocol":"TCP"}]}` {
		t.Errorf("the EndpointSlice: %s", got)
	}
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		cmd := exec.Command(kubectl, "cluster-info")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(ts.dir, "kubeconfig"), "HOME="+ts.dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "Kubernetes control plane is running at "+ts.url) {
			t.Errorf("kubectl cluster-info: %v\n%s", err, out.String())
		}
	}

	ts.stop()
	backend, err := sqlite.Open(filepath.Join(ts.dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	stopped, err := store.New(backend).Get(context.Background(), registry.New(BuiltinResources(), object.ValidateDNS1123Subdomain).Lookup("", "endpoints"), "default", "kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(stopped["subsets"]); got != `[]` {
		t.Errorf("the Endpoints after a graceful shutdown: %s", got)
	}
}

// Two replicas on one etcd: Services created through both at once never
// get one address or one node port twice, and each replica is an endpoint
// of the kubernetes Service until it stops.
func TestTwoReplicasNeverShareAClusterIP(t *testing.T) {
	storagetest.RequireEtcd(t, etcdEndpoint)
	dir := t.TempDir()
	prefix := "/" + filepath.Base(filepath.Dir(dir)) + "/registry" // a store of its own, run after run
	flags := []string{"--data-dir=" + dir, "--etcd-servers=" + etcdEndpoint, "--etcd-prefix=" + prefix,
		"--service-cluster-ip-range=10.100.0.0/27", "--service-node-port-range=31000-31039"}
	a := startServer(t, append(flags, "--advertise-address=127.0.0.1")...)
	b := startServer(t, append(flags, "--advertise-address=127.0.0.2")...)

	// 30 addresses: the kubernetes Service's and 29 more.
	var mu sync.Mutex
	ips, ports := map[string]string{}, map[float64]string{}
	var wg sync.WaitGroup
	for i := range 29 {
		wg.Go(func() {
			name := fmt.Sprintf("svc-%d", i)
			r := []*testServer{a, b}[i%2].createService(t, name, `{"type":"NodePort","ports":[{"port":80}]}`)
			if r.code != 201 {
				t.Errorf("%s: %d %s", name, r.code, r.raw)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if other, taken := ips[clusterIP(r)]; taken {
				t.Errorf("%s and %s both got %s", name, other, clusterIP(r))
			}
			if other, taken := ports[nodePortOf(r, 0)]; taken {
				t.Errorf("%s and %s both got node port %v", name, other, nodePortOf(r, 0))
			}
			ips[clusterIP(r)], ports[nodePortOf(r, 0)] = name, name
		})
	}
	wg.Wait()
	if _, ok := ips["10.100.0.1"]; ok || len(ips) != 29 {
		t.Errorf("addresses %v", ips)
	}
	expect(t, b.createService(t, "one-too-many", `{"ports":[{"port":80}]}`), 500, "InternalError")

	endpoints := func(ts *testServer) []string {
		r := ts.do(t, "GET", "/api/v1/namespaces/default/endpoints/kubernetes", "", "")
		var got []string
		for _, subset := range r.obj["subsets"].([]any) {
			for _, address := range field(subset, "addresses").([]any) {
				got = append(got, fmt.Sprint(field(address, "ip"), ":", field(subset, "ports").([]any)[0].(map[string]any)["port"]))
			}
		}
		slices.Sort(got)
		return got
	}
	portOf := func(ts *testServer) string { return ts.url[strings.LastIndex(ts.url, ":")+1:] }
	want := []string{"127.0.0.1:" + portOf(a), "127.0.0.2:" + portOf(b)}
	slices.Sort(want)
	if got := endpoints(a); !slices.Equal(got, want) {
		t.Errorf("both serving: endpoints %v, want %v", got, want)
	}
	b.stop()
	if got := endpoints(a); !slices.Equal(got, []string{"127.0.0.1:" + portOf(a)}) {
		t.Errorf("b stopped: endpoints %v, want only a", got)
	}
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}
