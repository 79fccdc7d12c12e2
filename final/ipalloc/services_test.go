package ipalloc

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

func newServices(t *testing.T, backend storage.Backend) *Services {
	t.Helper()
	st := store.New(backend)
	return &Services{IPs: newIPs(t, backend, "10.0.0.0/24"), Ports: newPorts(backend, PortRange{30000, 100}),
		Store: st, Services: servicesRes}
}

// service decodes a Service in default and defaults it, as the server
// does before Begin.
func service(t *testing.T, doc string) object.Object {
	t.Helper()
	obj, err := object.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	obj.Metadata()["namespace"] = "default"
	apis.Default(servicesRes, obj)
	return obj
}

func spec(svc object.Object) map[string]any { return svc["spec"].(map[string]any) }

// create runs Begin, stores the Service and finishes, as the server does.
func create(t *testing.T, s *Services, doc string) object.Object {
	t.Helper()
	svc := service(t, doc)
	finish, err := s.Begin(context.Background(), svc, nil, false)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	stored, err := s.Store.Create(context.Background(), servicesRes, svc)
	finish(err == nil)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

func nodePorts(svc object.Object) []int { return nodePortsOf(svc) }

func TestBeginCreate(t *testing.T) {
	backend, _ := openBackend(t)
	s := newServices(t, backend)
	svc := create(t, s, `{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}`)
	ip := spec(svc)["clusterIP"].(string)
	if !s.IPs.Contains(netip.MustParseAddr(ip)) || object.JSONString(spec(svc)["clusterIPs"]) != `["`+ip+`"]` {
		t.Errorf("spec %v", spec(svc))
	}
	if object.JSONString(spec(svc)["ipFamilies"]) != `["IPv4"]` || spec(svc)["ipFamilyPolicy"] != "SingleStack" {
		t.Errorf("families %v %v", spec(svc)["ipFamilies"], spec(svc)["ipFamilyPolicy"])
	}
	headless := create(t, s, `{"metadata":{"name":"headless"},"spec":{"clusterIP":"None","selector":{"app":"db"},"ports":[{"port":5432}]}}`)
	if object.JSONString(spec(headless)["clusterIPs"]) != `["None"]` {
		t.Errorf("headless: %v", spec(headless))
	}
	external := create(t, s, `{"metadata":{"name":"ext"},"spec":{"type":"ExternalName","externalName":"example.com"}}`)
	if spec(external)["clusterIP"] != nil || spec(external)["clusterIPs"] != nil {
		t.Errorf("ExternalName: %v", spec(external))
	}
	addresses, _ := s.IPs.List(context.Background())
	if len(addresses) != 1 || addresses[0].MetaString("name") != ip || ParentOf(addresses[0]) != web {
		t.Errorf("IPAddresses %v", addresses)
	}
}

// A NodePort Service gets a node port per port; ports of one number (TCP
// and UDP) share it; a port asked for by number gets that one.
func TestBeginNodePorts(t *testing.T) {
	backend, _ := openBackend(t)
	s := newServices(t, backend)
	svc := create(t, s, `{"metadata":{"name":"dns"},"spec":{"type":"NodePort","ports":[
		{"name":"dns","port":53,"protocol":"UDP"},{"name":"dns-tcp","port":53,"protocol":"TCP"},{"name":"web","port":80,"nodePort":30080}]}}`)
	ports := spec(svc)["ports"].([]any)
	np := func(i int) string { return object.JSONString(ports[i].(map[string]any)["nodePort"]) }
	if np(0) != np(1) || np(0) == "" || np(2) != "30080" {
		t.Errorf("node ports %s %s %s", np(0), np(1), np(2))
	}
	if taken, _ := s.Ports.Taken(context.Background()); len(taken) != 2 {
		t.Errorf("taken %v, want 2 ports", taken)
	}
	// A taken or out-of-range node port is a 422 on that port.
	for doc, want := range map[string]string{
		`{"metadata":{"name":"b"},"spec":{"type":"NodePort","ports":[{"name":"a","port":81},{"name":"b","port":82,"nodePort":30080}]}}`: `spec.ports[1].nodePort: Invalid value: 30080: provided port is already allocated`,
		`{"metadata":{"name":"c"},"spec":{"type":"NodePort","ports":[{"port":81,"nodePort":20080}]}}`:                                   `spec.ports[0].nodePort: Invalid value: 20080: provided port is not in the valid range. The range of valid ports is 30000-30099`,
	} {
		_, err := s.Begin(context.Background(), service(t, doc), nil, false)
		var se *apierrors.StatusError
		if !errors.As(err, &se) || se.Code != 422 || !strings.Contains(se.Message, want) {
			t.Errorf("%s: %v, want a 422 with %s", doc, err, want)
		}
	}
	if taken, _ := s.Ports.Taken(context.Background()); len(taken) != 2 {
		t.Errorf("after the refusals: taken %v, want still 2", taken)
	}
}

func TestBeginRequestedIP(t *testing.T) {
	backend, _ := openBackend(t)
	s := newServices(t, backend)
	create(t, s, `{"metadata":{"name":"web"},"spec":{"clusterIP":"10.0.0.10","ports":[{"port":80}]}}`)
	for doc, want := range map[string]string{
		`{"metadata":{"name":"b"},"spec":{"clusterIP":"10.0.0.10","ports":[{"port":80}]}}`: `Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.10"]: failed to allocate IP 10.0.0.10: provided IP is already allocated`,
		`{"metadata":{"name":"c"},"spec":{"clusterIP":"10.1.0.10","ports":[{"port":80}]}}`: `Service "c" is invalid: spec.clusterIPs: Invalid value: ["10.1.0.10"]: failed to allocate IP 10.1.0.10: the provided network does not match the current range`,
		`{"metadata":{"name":"d"},"spec":{"ipFamilies":["IPv6"],"ports":[{"port":80}]}}`:   `Service "d" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster`,
	} {
		_, err := s.Begin(context.Background(), service(t, doc), nil, false)
		var se *apierrors.StatusError
		if !errors.As(err, &se) || se.Code != 422 || se.Message != want {
			t.Errorf("%s: %v\nwant %s", doc, err, want)
		}
	}
}

// finish(false), a write that was not stored, gives back what Begin took;
// a dry run takes nothing.
func TestBeginFinishAndDryRun(t *testing.T) {
	backend, _ := openBackend(t)
	s := newServices(t, backend)
	ctx := context.Background()
	svc := service(t, `{"metadata":{"name":"web"},"spec":{"type":"NodePort","clusterIP":"10.0.0.20","ports":[{"port":80}]}}`)
	finish, err := s.Begin(ctx, svc, nil, true)
	if err != nil || spec(svc)["clusterIP"] != "10.0.0.20" || len(nodePorts(svc)) != 1 {
		t.Fatalf("dry run: %v %v", spec(svc), err)
	}
	finish(true)
	if err := s.IPs.Check(ctx, netip.MustParseAddr("10.0.0.20")); err != nil {
		t.Errorf("the dry run took the address: %v", err)
	}
	if taken, _ := s.Ports.Taken(ctx); len(taken) != 0 {
		t.Errorf("the dry run took ports %v", taken)
	}
	svc = service(t, `{"metadata":{"name":"web"},"spec":{"type":"NodePort","clusterIP":"10.0.0.20","ports":[{"port":80}]}}`)
	finish, err = s.Begin(ctx, svc, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.IPs.Check(ctx, netip.MustParseAddr("10.0.0.20")); !errors.Is(err, ErrAllocated) {
		t.Errorf("between Begin and finish: %v", err)
	}
	finish(false)
	if err := s.IPs.Check(ctx, netip.MustParseAddr("10.0.0.20")); err != nil {
		t.Errorf("after finish(false): %v", err)
	}
	if taken, _ := s.Ports.Taken(ctx); len(taken) != 0 {
		t.Errorf("after finish(false): ports %v", taken)
	}
}

// update runs Begin on a change of the stored Service, stores it and
// finishes.
func update(t *testing.T, s *Services, old object.Object, change func(spec map[string]any)) object.Object {
	t.Helper()
	svc := object.Object(object.DeepCopy(map[string]any(old)).(map[string]any))
	change(spec(svc))
	apis.Default(servicesRes, svc)
	finish, err := s.Begin(context.Background(), svc, old, false)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	stored, err := s.Store.Update(context.Background(), servicesRes, "default", svc.MetaString("name"), func(object.Object) (object.Object, error) { return svc, nil })
	finish(err == nil)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// A change of type takes what the new type needs and gives back, once
// stored, what the old one had; a manifest sent again without the cluster
// IP or the node ports keeps them.
func TestBeginUpdate(t *testing.T) {
	backend, _ := openBackend(t)
	s := newServices(t, backend)
	ctx := context.Background()
	svc := create(t, s, `{"metadata":{"name":"web"},"spec":{"ports":[{"name":"http","port":80}]}}`)
	ip := spec(svc)["clusterIP"]

	svc = update(t, s, svc, func(spec map[string]any) { spec["type"] = "NodePort" })
	if spec(svc)["clusterIP"] != ip || len(nodePorts(svc)) != 1 {
		t.Fatalf("to NodePort: %v", spec(svc))
	}
	port := nodePorts(svc)[0]

	svc = update(t, s, svc, func(spec map[string]any) { // the manifest again: no IP, no node port
		delete(spec, "clusterIP")
		delete(spec, "clusterIPs")
		spec["ports"] = []any{map[string]any{"name": "http", "port": json.Number("80")}}
	})
	if spec(svc)["clusterIP"] != ip || !slices.Equal(nodePorts(svc), []int{port}) {
		t.Fatalf("the manifest again: %v", spec(svc))
	}

	svc = update(t, s, svc, func(spec map[string]any) { spec["type"] = "ClusterIP" })
	if len(nodePorts(svc)) != 0 {
		t.Errorf("back to ClusterIP: %v", spec(svc))
	}
	if taken, _ := s.Ports.Taken(ctx); len(taken) != 0 {
		t.Errorf("back to ClusterIP: ports %v still taken", taken)
	}

	svc = update(t, s, svc, func(spec map[string]any) {
		spec["type"], spec["externalName"] = "ExternalName", "example.com"
	})
	if spec(svc)["clusterIP"] != nil || spec(svc)["ipFamilies"] != nil {
		t.Errorf("to ExternalName: %v", spec(svc))
	}
	if addresses, _ := s.IPs.List(ctx); len(addresses) != 0 {
		t.Errorf("to ExternalName: %d IPAddresses left", len(addresses))
	}

	svc = update(t, s, svc, func(spec map[string]any) {
		spec["type"] = "ClusterIP"
		delete(spec, "externalName")
	})
	if spec(svc)["clusterIP"] == nil {
		t.Errorf("from ExternalName: %v", spec(svc))
	}
}

func TestReleaseOnDelete(t *testing.T) {
	backend, _ := openBackend(t)
	s := newServices(t, backend)
	ctx := context.Background()
	svc := create(t, s, `{"metadata":{"name":"web"},"spec":{"type":"NodePort","ports":[{"port":80}]}}`)
	deleted, err := s.Store.Delete(ctx, servicesRes, "default", "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Release(ctx, deleted)
	ip := netip.MustParseAddr(spec(svc)["clusterIP"].(string))
	if err := s.IPs.Check(ctx, ip); err != nil {
		t.Errorf("the address after the delete: %v", err)
	}
	if taken, _ := s.Ports.Taken(ctx); len(taken) != 0 {
		t.Errorf("ports after the delete: %v", taken)
	}
}

// Repair gives back what no Service holds, after the grace period, and
// gives a Service's address its IPAddress again.
func TestRepair(t *testing.T) {
	backend, _ := openBackend(t)
	s := newServices(t, backend)
	ctx := context.Background()
	svc := create(t, s, `{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}`)
	ip := netip.MustParseAddr(spec(svc)["clusterIP"].(string))
	leaked := netip.MustParseAddr("10.0.0.50")
	if err := s.IPs.Allocate(ctx, leaked, Parent{Namespace: "default", Name: "gone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ports.Allocate(ctx, []int{30050}); err != nil {
		t.Fatal(err)
	}
	if err := s.IPs.Release(ctx, ip, web, 0); err != nil { // as if the IPAddress were lost
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.Repair(ctx, now); err != nil {
		t.Fatal(err)
	}
	if err := s.IPs.Check(ctx, ip); !errors.Is(err, ErrAllocated) {
		t.Errorf("the Service's address after the repair: %v, want its IPAddress back", err)
	}
	if err := s.IPs.Check(ctx, leaked); !errors.Is(err, ErrAllocated) {
		t.Errorf("a new leak is left alone for the grace period: %v", err)
	}
	if err := s.Repair(ctx, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.IPs.Check(ctx, leaked); err != nil {
		t.Errorf("the leaked address after the grace period: %v", err)
	}
	if err := s.IPs.Check(ctx, ip); !errors.Is(err, ErrAllocated) {
		t.Errorf("the Service's address: %v", err)
	}
	if taken, _ := s.Ports.Taken(ctx); len(taken) != 0 {
		t.Errorf("the leaked node port: %v", taken)
	}
}
