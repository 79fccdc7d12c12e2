package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// A hostile request is one a careless or malicious client may send: a
// malformed body, a name that is not a name, a bad selector or continue
// token, a patch that cannot apply, a strange header or method. Each must
// get Kubernetes' status code and reason, and change nothing.
type hostileCase struct {
	name         string
	method, path string
	header       []string // "Key: value"; "Key:" alone removes Key
	body         string
	as           string // "" the admin, "alice" a user with no rights, "anonymous" no credentials
	code         int
	reason       string
	message      string // a part of the message, where it is stable
	warning      string // a part of the Warning headers
	// kube, when set, says why Kubernetes gives no answer to compare with
	// (TestHostileInputsOnKubernetes passes the case over).
	kube string
}

const hostileNS = "/api/v1/namespaces/hostile"

// hostileVariant is one of several cases alike but for a part of the path
// or query, and the answer.
type hostileVariant struct {
	name, part string
	code       int
	reason     string
}

// hostileCases is the catalogue, with Kubernetes' answers (as
// TestHostileInputsOnKubernetes checks); finalDiffers has final's where
// they differ. Writes that either server would make are dry runs. Paths may
// hold {token}: a continue token of a configmaps list in namespace hostile;
// {otherToken}: one of configmaps in default; {oldToken}: one at a
// compacted revision.
func hostileCases() []hostileCase {
	cm := hostileNS + "/configmaps"
	obj := func(name string) string {
		return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":` + name + `}}`
	}
	nested := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	cases := []hostileCase{
		// ---- bodies ----
		{name: "body over the size limit", method: "POST", path: cm,
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"` + strings.Repeat("x", 3<<20) + `"}}`,
			code: 413, reason: "RequestEntityTooLarge", message: "limit is 3145728"},
		{name: "deeply nested body", method: "POST", path: cm, body: `{"metadata":{"name":"deep"},"data":` + nested + `}`,
			code: 400, reason: "BadRequest"},
		{name: "empty body", method: "POST", path: cm, body: "", header: []string{"Content-Type: application/json"}, code: 400, reason: "BadRequest"},
		{name: "body not JSON", method: "POST", path: cm, body: "not json", code: 400, reason: "BadRequest"},
		{name: "body a JSON array", method: "POST", path: cm, body: `[1,2]`, code: 400, reason: "BadRequest"},
		{name: "body a JSON string", method: "POST", path: cm, body: `"cm"`, code: 400, reason: "BadRequest"},
		{name: "body null", method: "POST", path: cm, body: `null`, code: 422, reason: "Invalid"}, // an empty ConfigMap, without a name
		{name: "body truncated", method: "POST", path: cm, body: `{"metadata":{"name":"x"`, code: 400, reason: "BadRequest"},
		{name: "two JSON documents", method: "POST", path: cm, body: obj(`"two"`) + obj(`"three"`), code: 400, reason: "BadRequest"},
		{name: "a stray brace after the body", method: "POST", path: cm, body: obj(`"brace"`) + "}", code: 400, reason: "BadRequest"},
		{name: "invalid UTF-8 in a value", method: "POST", path: cm + "?dryRun=All", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"utf"},"data":{"a":"` + "\xff\xfe" + `"}}`,
			code: 201}, // replaced by U+FFFD, as encoding/json does
		{name: "invalid UTF-8 in a name", method: "POST", path: cm, body: obj("\"n\xff\""), code: 422, reason: "Invalid"},
		{name: "duplicate keys, strict", method: "POST", path: cm + "?fieldValidation=Strict&dryRun=All",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup2"}}`, code: 400, reason: "BadRequest",
			message: `ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "metadata.name"`},
		{name: "duplicate keys, warn", method: "POST", path: cm + "?dryRun=All", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup2"}}`,
			code: 201, warning: `duplicate field \"metadata.name\"`},
		{name: "unknown field, strict", method: "POST", path: cm + "?fieldValidation=Strict&dryRun=All",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"unk"},"bogus":1}`, code: 400, reason: "BadRequest"},
		{name: "bad fieldValidation", method: "POST", path: cm + "?fieldValidation=Loose", body: obj(`"fv"`), code: 422, reason: "Invalid"},
		{name: "kind of another resource", method: "POST", path: cm, body: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"k"}}`, code: 400, reason: "BadRequest"},
		{name: "apiVersion of another group", method: "POST", path: cm, body: `{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"k"}}`, code: 400, reason: "BadRequest"},
		{name: "metadata a string", method: "POST", path: cm, body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":"x"}`, code: 400, reason: "BadRequest"},
		{name: "name a number", method: "POST", path: cm, body: obj(`5`), code: 400, reason: "BadRequest"},
		{name: "labels a list", method: "POST", path: cm, body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"l","labels":["a"]}}`, code: 400, reason: "BadRequest"},
		{name: "data value a number", method: "POST", path: cm + "?dryRun=All", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"data":{"a":1}}`, code: 400, reason: "BadRequest"},
		{name: "data a list", method: "POST", path: cm + "?dryRun=All", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"data":["a"]}`, code: 400, reason: "BadRequest"},
		{name: "namespace in the body differs", method: "POST", path: cm, body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n","namespace":"default"}}`,
			code: 400, reason: "BadRequest", message: "does not match the namespace"},
		{name: "no name", method: "POST", path: cm, body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}`, code: 422, reason: "Invalid"},
		{name: "bad label key", method: "POST", path: cm, body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"l","labels":{"a b":"c"}}}`, code: 422, reason: "Invalid"},
		{name: "bad label value", method: "POST", path: cm, body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"l","labels":{"a":"` + strings.Repeat("v", 64) + `"}}}`, code: 422, reason: "Invalid"},
		{name: "bad generateName", method: "POST", path: cm, body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"UP-"}}`, code: 422, reason: "Invalid"},
		{name: "replicas negative", method: "POST", path: "/apis/apps/v1/namespaces/hostile/deployments?dryRun=All", body: deployment("neg", "-1"), code: 422, reason: "Invalid"},
		{name: "replicas a float", method: "POST", path: "/apis/apps/v1/namespaces/hostile/deployments?dryRun=All", body: deployment("flt", "1.5"), code: 400, reason: "BadRequest"},
		{name: "replicas over int32", method: "POST", path: "/apis/apps/v1/namespaces/hostile/deployments?dryRun=All", body: deployment("big", "2147483648"), code: 400, reason: "BadRequest"},
		{name: "replicas over int64", method: "POST", path: "/apis/apps/v1/namespaces/hostile/deployments?dryRun=All", body: deployment("huge", "9223372036854775808"), code: 400, reason: "BadRequest"},
		{name: "replicas a string", method: "POST", path: "/apis/apps/v1/namespaces/hostile/deployments?dryRun=All", body: deployment("str", `"1"`), code: 400, reason: "BadRequest"},
		{name: "scale replicas negative", method: "PUT", path: "/apis/apps/v1/namespaces/hostile/deployments/web/scale",
			body: `{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":"hostile"},"spec":{"replicas":-1}}`, code: 422, reason: "Invalid"},
		{name: "update with a stale resourceVersion", method: "PUT", path: cm + "/cm",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","resourceVersion":"1"}}`, code: 409, reason: "Conflict"},
		{name: "update with a resourceVersion not a number", method: "PUT", path: cm + "/cm",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","resourceVersion":"abc"}}`, code: 500},
		{name: "update renames", method: "PUT", path: cm + "/cm", body: obj(`"other"`), code: 400, reason: "BadRequest"},
		{name: "update of a missing object", method: "PUT", path: cm + "/missing", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"missing","resourceVersion":"5"}}`,
			code: 404, reason: "NotFound"},
		{name: "create in a missing namespace", method: "POST", path: "/api/v1/namespaces/nowhere/configmaps", body: obj(`"x"`), code: 404, reason: "NotFound"},
		{name: "create an existing object", method: "POST", path: cm, body: obj(`"cm"`), code: 409, reason: "AlreadyExists"},
		{name: "bad dryRun", method: "POST", path: cm + "?dryRun=Some", body: obj(`"dr"`), code: 422, reason: "Invalid",
			message: `CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Some"]: supported values: "All"`},
		{name: "delete preconditions fail", method: "DELETE", path: cm + "/cm", body: `{"preconditions":{"uid":"not-its-uid"}}`, code: 409, reason: "Conflict"},
		{name: "delete options not JSON", method: "DELETE", path: cm + "/cm", body: `{`, code: 400, reason: "BadRequest"},
		{name: "delete options of the wrong type", method: "DELETE", path: cm + "/cm", body: `{"preconditions":"x"}`, code: 400, reason: "BadRequest"},
		{name: "delete a missing object", method: "DELETE", path: cm + "/missing", code: 404, reason: "NotFound"},
		{name: "delete with a bad dryRun", method: "DELETE", path: cm + "/cm?dryRun=Some", code: 422, reason: "Invalid", message: "DeleteOptions.meta.k8s.io"},
		{name: "delete options with a bad dryRun", method: "DELETE", path: cm + "/cm", body: `{"dryRun":["All","Some"]}`, code: 422, reason: "Invalid"},
		{name: "update with a bad dryRun", method: "PUT", path: cm + "/cm?dryRun=Some", body: obj(`"cm"`), code: 422, reason: "Invalid", message: "UpdateOptions.meta.k8s.io"},
	}

	// ---- names and namespaces in paths ----
	for _, n := range []hostileVariant{
		{"uppercase name", "UPPER", 404, "NotFound"},
		{"name with a dot only", ".", 400, "BadRequest"},
		{"name ..", "..", 400, "BadRequest"},
		{"name with an encoded slash", "a%2Fb", 404, "NotFound"},
		{"name with NUL", "a%00b", 404, "NotFound"},
		{"name with a space", "a%20b", 404, "NotFound"},
		{"SQL in a name", "x'%3B%20DROP%20TABLE%20log%3B--", 404, "NotFound"},
		{"name over 253 characters", strings.Repeat("a", 254), 404, "NotFound"},
		{"name with a percent", "a%25b", 400, "BadRequest"},
		{"name unicode", "%C3%A9", 404, "NotFound"},
	} {
		cases = append(cases, hostileCase{name: "get: " + n.name, method: "GET", path: cm + "/" + n.part, code: n.code, reason: n.reason})
	}
	for _, n := range []struct{ name, value string }{
		{"uppercase name", `"UPPER"`},
		{"name .", `"."`},
		{"name ..", `".."`},
		{"name with a slash", `"a/b"`},
		{"name with a percent", `"a%2Fb"`},
		{"name with NUL", `"a\u0000b"`},
		{"SQL in a name", `"x'; DROP TABLE log;--"`},
		{"name over 253 characters", `"` + strings.Repeat("a", 254) + `"`},
		{"name with a space", `"a b"`},
		{"name starting with a dash", `"-a"`},
		{"name with a colon", `"a:b"`},
		{"name empty", `""`},
	} {
		cases = append(cases, hostileCase{name: "create: " + n.name, method: "POST", path: cm, body: obj(n.value), code: 422, reason: "Invalid"})
	}
	for _, n := range []struct{ name, value string }{
		{"namespace name with a dot", `"a.b"`},
		{"namespace name over 63 characters", `"` + strings.Repeat("a", 64) + `"`},
		{"namespace name uppercase", `"UP"`},
	} {
		cases = append(cases, hostileCase{name: "create: " + n.name, method: "POST", path: "/api/v1/namespaces",
			body: `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":` + n.value + `}}`, code: 422, reason: "Invalid"})
	}
	for _, n := range []hostileVariant{
		{"uppercase namespace", "UPPER", 404, "NotFound"},
		{"namespace ..", "..", 500, "InternalError"},
		{"namespace with NUL", "a%00b", 404, "NotFound"},
		{"namespace over 63 characters", strings.Repeat("a", 64), 404, "NotFound"},
		{"SQL in a namespace", "x'%3B%20DROP%20TABLE%20log%3B--", 404, "NotFound"},
	} {
		cases = append(cases, hostileCase{name: "create in a bad namespace: " + n.name, method: "POST",
			path: "/api/v1/namespaces/" + n.part + "/configmaps", body: obj(`"x"`), code: n.code, reason: n.reason})
	}

	// ---- list options ----
	for _, l := range []hostileVariant{
		{"label selector unparsable", "labelSelector=a%20in%20(b", 400, "BadRequest"},
		{"label selector bad key", "labelSelector=a%20b%3Dc", 400, "BadRequest"},
		{"label selector bad value", "labelSelector=a%3D" + strings.Repeat("v", 64), 400, "BadRequest"},
		{"label selector empty term", "labelSelector=a%3Db%2C%2Cc", 400, "BadRequest"},
		{"label selector SQL", "labelSelector=x'%3B%20DROP%20TABLE%20log", 400, "BadRequest"},
		{"label selector NUL", "labelSelector=a%00%3Db", 200, ""},
		{"field selector unknown field", "fieldSelector=spec.bogus%3Da", 400, "BadRequest"},
		{"field selector no operator", "fieldSelector=metadata.name", 400, "BadRequest"},
		{"field selector unescaped =", "fieldSelector=metadata.name%3Da%3Db", 400, "BadRequest"},
		{"field selector bad escape", "fieldSelector=metadata.name%3Da%5Cb", 400, "BadRequest"},
		{"field selector space", "fieldSelector=metadata.name%20%3D%20a", 400, "BadRequest"},
		{"field selector of an empty field", "fieldSelector=%3Da", 400, "BadRequest"},
		{"field selector =", "fieldSelector=%3D", 200, ""},
		{"limit negative", "limit=-1", 200, ""},
		{"limit not a number", "limit=ten", 400, "BadRequest"},
		{"limit over int64", "limit=9223372036854775808", 400, "BadRequest"},
		{"resourceVersion not a number", "resourceVersion=abc", 400, "BadRequest"},
		{"resourceVersion negative", "resourceVersion=-1", 400, "BadRequest"},
		{"resourceVersion over int64", "resourceVersion=9223372036854775808", 504, "Timeout"},
		{"resourceVersion in the future", "resourceVersion=9000000000", 504, "Timeout"},
		{"resourceVersionMatch without resourceVersion", "resourceVersionMatch=NotOlderThan", 422, "Invalid"},
		{"resourceVersionMatch unknown", "resourceVersion=1&resourceVersionMatch=Newest", 422, "Invalid"},
		{"resourceVersionMatch Exact with 0", "resourceVersion=0&resourceVersionMatch=Exact", 422, "Invalid"},
		{"continue with resourceVersion", "continue={token}&resourceVersion=1", 400, "BadRequest"},
		{"continue garbage", "continue=garbage", 400, "BadRequest"},
		{"continue base64 of garbage", "continue=" + base64.RawURLEncoding.EncodeToString([]byte("garbage")), 400, "BadRequest"},
		{"continue base64 JSON without a key", "continue=" + base64.RawURLEncoding.EncodeToString([]byte(`{"v":"meta.k8s.io/v1","rv":1}`)), 400, "BadRequest"},
		{"continue of another version", "continue=" + base64.RawURLEncoding.EncodeToString([]byte(`{"v":"meta.k8s.io/v2","rv":1,"start":"a"}`)), 400, "BadRequest"},
		{"continue at a compacted revision", "continue={oldToken}", 410, "Expired"},
		{"continue of another namespace's list", "continue={otherToken}", 200, ""},
		{"bad dryRun on a list", "dryRun=All", 200, ""},
	} {
		cases = append(cases, hostileCase{name: "list: " + l.name, method: "GET", path: cm + "?" + l.part, code: l.code, reason: l.reason})
	}

	// ---- watch parameters ----
	for _, w := range []hostileVariant{
		{"timeoutSeconds negative", "timeoutSeconds=-1", 200, ""}, // it ends at once
		{"timeoutSeconds not a number", "timeoutSeconds=soon", 400, "BadRequest"},
		{"timeoutSeconds huge", "timeoutSeconds=99999999999999999999", 400, "BadRequest"},
		{"allowWatchBookmarks bogus", "timeoutSeconds=1&allowWatchBookmarks=maybe", 200, ""}, // not true: no bookmarks
		{"sendInitialEvents without resourceVersionMatch", "sendInitialEvents=true", 422, "Invalid"},
		{"sendInitialEvents with Exact", "sendInitialEvents=true&resourceVersionMatch=Exact&resourceVersion=1", 422, "Invalid"},
		{"resourceVersion not a number", "resourceVersion=abc", 500, ""},
		{"resourceVersion compacted", "resourceVersion=2", 200, ""}, // a 410 Expired ERROR event
		{"label selector unparsable", "labelSelector=a%20in%20(", 400, "BadRequest"},
		{"field selector unknown field", "fieldSelector=spec.bogus%3Da", 400, "BadRequest"},
	} {
		query := w.part
		if !strings.Contains(query, "timeoutSeconds") {
			query = "timeoutSeconds=1&" + query // a watch that is served ends
		}
		cases = append(cases, hostileCase{name: "watch: " + w.name, method: "GET", path: cm + "?watch=true&" + query, code: w.code, reason: w.reason})
	}

	// ---- patches ----
	jp, mp, smp := "Content-Type: application/json-patch+json", "Content-Type: application/merge-patch+json", "Content-Type: application/strategic-merge-patch+json"
	for _, p := range []struct {
		name, ctype, body string
		code              int
		reason            string
	}{
		{"JSON patch not a list", jp, `{"op":"add"}`, 400, "BadRequest"},
		{"JSON patch not JSON", jp, `[{`, 400, "BadRequest"},
		{"JSON patch a list of numbers", jp, `[1]`, 400, "BadRequest"},
		{"JSON patch op a number", jp, `[{"op":5,"path":"/data"}]`, 400, "BadRequest"},
		{"JSON patch unknown op", jp, `[{"op":"bogus","path":"/data"}]`, 422, "Invalid"},
		{"JSON patch no op", jp, `[{"path":"/data"}]`, 422, "Invalid"},
		{"JSON patch no path", jp, `[{"op":"remove"}]`, 422, "Invalid"},
		{"JSON patch path without a slash", jp, `[{"op":"add","path":"data","value":{}}]`, 422, "Invalid"},
		{"JSON patch remove a missing field", jp, `[{"op":"remove","path":"/data/nothere"}]`, 422, "Invalid"},
		{"JSON patch replace a missing field", jp, `[{"op":"replace","path":"/nothere","value":null}]`, 200, ""},
		{"JSON patch test fails", jp, `[{"op":"test","path":"/metadata/name","value":"other"}]`, 422, "Invalid"},
		{"JSON patch test without a value", jp, `[{"op":"test","path":"/metadata/name"}]`, 422, "Invalid"},
		{"JSON patch test of the whole object without a value", jp, `[{"op":"test","path":""}]`, 422, "Invalid"}, // Kubernetes' json-patch panics: the connection drops
		{"JSON patch move from a missing path", jp, `[{"op":"move","from":"/nothere","path":"/data/x"}]`, 422, "Invalid"},
		{"JSON patch move into itself", jp, `[{"op":"move","from":"/metadata","path":"/metadata/x"}]`, 422, "Invalid"},
		{"JSON patch copy without from", jp, `[{"op":"copy","path":"/data/x"}]`, 422, "Invalid"},
		{"JSON patch index past the end", jp, `[{"op":"add","path":"/metadata/finalizers/5","value":"x"}]`, 422, "Invalid"},
		{"JSON patch renames", jp, `[{"op":"replace","path":"/metadata/name","value":"other"}]`, 400, "BadRequest"},
		{"JSON patch makes a bad label", jp, `[{"op":"add","path":"/metadata/labels","value":{"a b":"c"}}]`, 422, "Invalid"},
		{"JSON patch makes data a number (dry run)", jp, `[{"op":"add","path":"/data","value":{"a":1}}]`, 422, "Invalid"},
		{"merge patch a list", mp, `[1]`, 400, "BadRequest"},
		{"merge patch a string", mp, `"x"`, 400, "BadRequest"},
		{"merge patch not JSON", mp, `{`, 400, "BadRequest"},
		{"merge patch with a stray brace", mp, `{}}`, 400, "BadRequest"},
		{"strategic patch with a stray bracket", smp, `{}]`, 400, "BadRequest"},
		{"merge patch renames", mp, `{"metadata":{"name":"other"}}`, 400, "BadRequest"},
		{"merge patch moves namespace", mp, `{"metadata":{"namespace":"default"}}`, 400, "BadRequest"},
		{"merge patch bad label", mp, `{"metadata":{"labels":{"a b":"c"}}}`, 422, "Invalid"},
		{"merge patch stale resourceVersion", mp, `{"metadata":{"resourceVersion":"1"}}`, 409, "Conflict"},
		{"merge patch data a number (dry run)", mp, `{"data":{"a":1}}`, 422, "Invalid"},
		{"strategic patch $patch bogus", smp, `{"$patch":"bogus"}`, 500, ""},
		{"strategic patch $patch delete", smp, `{"$patch":"delete"}`, 400, "BadRequest"},
		{"strategic patch unknown directive", smp, `{"$bogus":1}`, 200, ""},
		{"strategic patch $retainKeys garbage", smp, `{"metadata":{"$retainKeys":"x"}}`, 400, "BadRequest"},
		{"strategic patch $setElementOrder garbage", smp, `{"metadata":{"$setElementOrder/finalizers":"x"}}`, 500, ""},
		{"strategic patch a list", smp, `[1]`, 400, "BadRequest"},
		{"strategic patch not JSON", smp, `{`, 400, "BadRequest"},
		{"strategic patch renames", smp, `{"metadata":{"name":"other"}}`, 400, "BadRequest"},
		{"strategic patch bad label", smp, `{"metadata":{"labels":{"a b":"c"}}}`, 422, "Invalid"},
		{"patch of an unknown type", "Content-Type: application/x-bogus-patch", `{}`, 415, "UnsupportedMediaType"},
		{"patch as plain JSON", "Content-Type: application/json", `{}`, 415, "UnsupportedMediaType"},
		{"patch without a content type", "Content-Type:", `{}`, 415, "UnsupportedMediaType"},
	} {
		path := cm + "/cm"
		if strings.HasSuffix(p.name, "(dry run)") {
			path += "?dryRun=All"
		}
		c := hostileCase{name: "patch: " + p.name, method: "PATCH", path: path, header: []string{p.ctype}, body: p.body, code: p.code, reason: p.reason}
		if strings.HasPrefix(p.body, `[{"op":"test","path":""}`) {
			c.kube = "the connection drops: the JSON patch library panics"
		}
		cases = append(cases, c)
	}
	pod := hostileNS + "/pods/p"
	for _, p := range []struct {
		name, body string
		code       int
		reason     string
	}{
		{"containers not a list", `{"spec":{"containers":{"name":"c"}}}`, 422, "Invalid"},
		{"a container not an object", `{"spec":{"containers":[1]}}`, 500, ""},
		{"a container without its key", `{"spec":{"containers":[{"image":"x"}]}}`, 500, ""},
		{"$setElementOrder naming missing containers", `{"spec":{"$setElementOrder/containers":[{"name":"nothere"}]}}`, 200, ""},
		{"$retainKeys not a list", `{"spec":{"$retainKeys":{"a":1}}}`, 400, "BadRequest"},
		{"$deleteFromPrimitiveList garbage", `{"metadata":{"$deleteFromPrimitiveList/finalizers":"x"}}`, 200, ""},
		{"image changed to a number", `{"spec":{"containers":[{"name":"c","image":5}]}}`, 422, "Invalid"},
	} {
		cases = append(cases, hostileCase{name: "strategic patch of a pod: " + p.name, method: "PATCH", path: pod, header: []string{smp}, body: p.body, code: p.code, reason: p.reason})
	}

	// ---- custom resources, checked against their schema ----
	widgets := "/apis/hostile.example.com/v1/namespaces/hostile/widgets?dryRun=All"
	widget := func(spec string) string {
		return `{"apiVersion":"hostile.example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":` + spec + `}`
	}
	for _, w := range []hostileVariant{
		{"replicas negative", widget(`{"replicas":-1}`), 422, "Invalid"},
		{"replicas a float", widget(`{"replicas":1.5}`), 422, "Invalid"},
		{"replicas over int64", widget(`{"replicas":9223372036854775808}`), 422, "Invalid"},
		{"replicas a string", widget(`{"replicas":"1"}`), 422, "Invalid"},
		{"a string too long", widget(`{"size":"toolong"}`), 422, "Invalid"},
		{"spec a string", widget(`"x"`), 422, "Invalid"},
		{"deeply nested", widget(nested), 400, "BadRequest"},
	} {
		cases = append(cases, hostileCase{name: "widget: " + w.name, method: "POST", path: widgets, body: w.part, code: w.code, reason: w.reason})
	}
	cases = append(cases,
		hostileCase{name: "widget: duplicate keys, strict", method: "POST", path: widgets + "&fieldValidation=Strict", body: widget(`{"replicas":1,"replicas":2}`),
			code: 400, reason: "BadRequest", message: `strict decoding error: duplicate field "spec.replicas"`},
		hostileCase{name: "widget: duplicate keys, warn", method: "POST", path: widgets + "&fieldValidation=Warn", body: widget(`{"replicas":1,"replicas":2}`),
			code: 201, warning: `duplicate field \"spec.replicas\"`},
		hostileCase{name: "widget: unknown field, strict", method: "POST", path: widgets + "&fieldValidation=Strict", body: widget(`{"bogus":1}`),
			code: 400, reason: "BadRequest", message: `strict decoding error: unknown field "spec.bogus"`},
		hostileCase{name: "widget: unknown field, warn", method: "POST", path: widgets + "&fieldValidation=Warn", body: widget(`{"bogus":1}`),
			code: 201, warning: `unknown field \"spec.bogus\"`},
		hostileCase{name: "widget: strategic merge patch", method: "PATCH", path: "/apis/hostile.example.com/v1/namespaces/hostile/widgets/w",
			header: []string{"Content-Type: application/strategic-merge-patch+json"}, body: `{}`, code: 415, reason: "UnsupportedMediaType"},
	)

	// ---- server-side apply ----
	ap := "Content-Type: application/apply-patch+yaml"
	for _, p := range []struct {
		name, query, body string
		code              int
		reason, message   string
	}{
		{"without a fieldManager", "", obj(`"cm"`), 422, "Invalid", "fieldManager: Required value: is required for apply patch"},
		{"with a fieldManager over 128 bytes", "fieldManager=" + strings.Repeat("m", 129), obj(`"cm"`), 422, "Invalid", "fieldManager: Too long"},
		{"not YAML", "fieldManager=m", ": : :", 400, "BadRequest", ""},
		{"a list", "fieldManager=m", "[1]", 400, "BadRequest", ""},
		{"renaming", "fieldManager=m&dryRun=All", obj(`"other"`), 400, "BadRequest", "does not match the name on the URL"},
		{"without apiVersion and kind", "fieldManager=m&dryRun=All", `{"metadata":{"name":"cm"}}`, 400, "BadRequest", ""},
		{"with managedFields", "fieldManager=m&dryRun=All", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","managedFields":[{"manager":"x"}]}}`,
			400, "BadRequest", "metadata.managedFields must be nil"},
	} {
		cases = append(cases, hostileCase{name: "apply " + p.name, method: "PATCH", path: cm + "/cm?" + p.query, header: []string{ap}, body: p.body,
			code: p.code, reason: p.reason, message: p.message})
	}

	// ---- headers ----
	cases = append(cases,
		hostileCase{name: "content type missing", method: "POST", path: cm + "?dryRun=All", header: []string{"Content-Type:"}, body: obj(`"ct"`), code: 201}, // read as JSON
		hostileCase{name: "content type unknown", method: "POST", path: cm, header: []string{"Content-Type: text/plain"}, body: obj(`"ct"`), code: 415, reason: "UnsupportedMediaType"},
		hostileCase{name: "content type latin1", method: "POST", path: cm + "?dryRun=All", header: []string{"Content-Type: application/json; charset=latin1"}, body: obj(`"ct"`), code: 201},
		hostileCase{name: "content type malformed", method: "POST", path: cm, header: []string{"Content-Type: application/"}, body: obj(`"ct"`), code: 415, reason: "UnsupportedMediaType"},
		hostileCase{name: "content type yaml with JSON in it", method: "POST", path: cm + "/x", header: []string{"Content-Type: application/yaml"}, body: obj(`"x"`), code: 405, reason: "MethodNotAllowed"},
		hostileCase{name: "accept unsupported", method: "GET", path: cm + "/cm", header: []string{"Accept: text/html"}, code: 406, reason: "NotAcceptable"},
		hostileCase{name: "accept protobuf only", method: "GET", path: cm + "/cm", header: []string{"Accept: application/vnd.kubernetes.protobuf;q=1, */*;q=0"}, code: 200}, // final's in JSON
		hostileCase{name: "accept garbage", method: "GET", path: cm + "/cm", header: []string{"Accept: ;;;"}, code: 406, reason: "NotAcceptable"},
		hostileCase{name: "Bearer without a token", method: "GET", path: cm, as: "anonymous", header: []string{"Authorization: Bearer"}, code: 403, reason: "Forbidden"},
		hostileCase{name: "Bearer an unknown token", method: "GET", path: cm, as: "anonymous", header: []string{"Authorization: Bearer not-a-token"}, code: 401, reason: "Unauthorized"},
		hostileCase{name: "Bearer two words", method: "GET", path: cm, as: "anonymous", header: []string{"Authorization: Bearer a b"}, code: 401, reason: "Unauthorized"},
		hostileCase{name: "Basic credentials", method: "GET", path: cm, as: "anonymous", header: []string{"Authorization: Basic YWRtaW46YWRtaW4="}, code: 403, reason: "Forbidden"},
		hostileCase{name: "two Authorization headers", method: "GET", path: cm, as: "anonymous", header: []string{"Authorization: Bearer not-a-token", "Authorization: Bearer other"}, code: 401, reason: "Unauthorized"},
		hostileCase{name: "a forged JWT", method: "GET", path: cm, as: "anonymous",
			header: []string{"Authorization: Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2t1YmVybmV0ZXMuZGVmYXVsdC5zdmMuY2x1c3Rlci5sb2NhbCJ9."}, code: 401, reason: "Unauthorized"},
		hostileCase{name: "anonymous is forbidden", method: "GET", path: cm, as: "anonymous", code: 403, reason: "Forbidden"},
		hostileCase{name: "X-Remote-User from an ordinary client", method: "GET", path: cm, as: "anonymous", header: []string{"X-Remote-User: admin", "X-Remote-Group: system:masters"},
			code: 403, reason: "Forbidden", message: `User "system:anonymous"`},
		hostileCase{name: "X-Remote-User from a user", method: "GET", path: cm, as: "alice", header: []string{"X-Remote-User: admin", "X-Remote-Group: system:masters"},
			code: 403, reason: "Forbidden", message: `User "alice"`},
		hostileCase{name: "impersonating without the right", method: "GET", path: cm, as: "alice", header: []string{"Impersonate-User: admin"}, code: 403, reason: "Forbidden"},
		hostileCase{name: "impersonating a group without the right", method: "GET", path: cm, as: "alice", header: []string{"Impersonate-User: alice", "Impersonate-Group: system:masters"}, code: 403, reason: "Forbidden"},
		hostileCase{name: "impersonating a group without a user", method: "GET", path: cm, header: []string{"Impersonate-Group: system:masters"}, code: 400, reason: "BadRequest"},
		hostileCase{name: "Impersonate-Extra without a user", method: "GET", path: cm, header: []string{"Impersonate-Extra-scopes: x"}, code: 400, reason: "BadRequest"},
		hostileCase{name: "Impersonate-Extra garbage", method: "GET", path: cm, as: "alice", header: []string{"Impersonate-User: alice", "Impersonate-Extra-%ZZ: x"}, code: 403, reason: "Forbidden"},
		hostileCase{name: "Impersonate-Uid without a user", method: "GET", path: cm, header: []string{"Impersonate-Uid: 1"}, code: 400, reason: "BadRequest"},
		hostileCase{name: "an unprivileged write", method: "POST", path: cm, as: "alice", body: obj(`"alice"`), code: 403, reason: "Forbidden"},
	)

	// ---- methods and paths ----
	for _, m := range []string{"PROPFIND", "TRACE", "OPTIONS", "DeLETE", "gEt", "MKCOL"} {
		cases = append(cases, hostileCase{name: "method " + m, method: m, path: cm + "/cm", code: 405, reason: "MethodNotAllowed"},
			hostileCase{name: "method " + m + " by a user", method: m, path: cm, as: "alice", code: 403, reason: "Forbidden"})
	}
	cases = append(cases,
		hostileCase{name: "POST on an object", method: "POST", path: cm + "/cm", body: obj(`"cm"`), code: 405, reason: "MethodNotAllowed"},
		hostileCase{name: "PUT on a collection", method: "PUT", path: cm, body: obj(`"cm"`), code: 405, reason: "MethodNotAllowed"},
		hostileCase{name: "PATCH on a collection", method: "PATCH", path: cm, header: []string{mp}, body: `{}`, code: 405, reason: "MethodNotAllowed"},
		hostileCase{name: "continue of another resource's list", method: "GET", path: hostileNS + "/secrets?continue={token}", code: 200},
		hostileCase{name: "unknown resource", method: "GET", path: hostileNS + "/bogus", code: 404, reason: "NotFound"},
		hostileCase{name: "unknown group", method: "GET", path: "/apis/bogus.example.com/v1/things", code: 404}, // "404 page not found"
		hostileCase{name: "unknown version", method: "GET", path: "/api/v2/namespaces", code: 404, reason: "NotFound"},
		hostileCase{name: "unknown subresource", method: "GET", path: cm + "/cm/bogus", code: 404, reason: "NotFound"},
		hostileCase{name: "too many segments", method: "GET", path: cm + "/cm/status/x/y", code: 404, reason: "NotFound"},
		hostileCase{name: "double slashes", method: "GET", path: "/api/v1//namespaces//hostile/configmaps", code: 404, reason: "NotFound"},
		hostileCase{name: "dot segment", method: "GET", path: "/api/v1/namespaces/./hostile/configmaps", code: 404, reason: "NotFound"},
		hostileCase{name: "dot-dot segment", method: "GET", path: "/api/v1/namespaces/hostile/../default/configmaps", code: 404, reason: "NotFound"},
		hostileCase{name: "encoded slash in the namespace", method: "GET", path: "/api/v1/namespaces/hostile%2Fconfigmaps", code: 200}, // the path decodes first
		hostileCase{name: "trailing slash", method: "GET", path: cm + "/", code: 200},
		hostileCase{name: "very long URL", method: "GET", path: cm + "/" + strings.Repeat("a", 100000), code: 404, reason: "NotFound"},
		hostileCase{name: "very long query", method: "GET", path: cm + "?labelSelector=" + strings.Repeat("a", 100000), code: 400, reason: "BadRequest"},
		hostileCase{name: "headers over the limit", method: "GET", path: cm, header: []string{"X-Padding: " + strings.Repeat("a", 2<<20)}, code: 431},
		hostileCase{name: "many headers", method: "GET", path: cm, header: manyHeaders(2000), code: 200},
	)
	return cases
}

// finalDiffers is where final answers otherwise than Kubernetes (whose
// answers the catalogue holds), by case name: final's code and reason, and
// why. Several are Kubernetes answering 500 or dropping the connection on
// bad input, where final answers the client's mistake.
var finalDiffers = map[string]struct {
	code   int
	reason string
	why    string
}{
	"Bearer without a token": {401, "Unauthorized", "an Authorization header that is not a bearer token is refused; Kubernetes serves the request as anonymous"},
	"Basic credentials":      {401, "Unauthorized", "an Authorization header that is not a bearer token is refused; Kubernetes serves the request as anonymous"},
	"body null":              {400, "BadRequest", "null is not an object, rather than an empty one"},
	"name a number":          {422, "Invalid", "read as no name at all"},
	"labels a list":          {422, "Invalid", "labels are checked by validation, not by decoding into Go types"},
	"unknown field, strict":  {201, "", "built-in objects are stored as sent, whatever fieldValidation says (documented)"},
	"data value a number":    {201, "", "validation of built-in kinds is partial (documented)"},
	"data a list":            {201, "", "validation of built-in kinds is partial (documented)"},
	"replicas negative":      {201, "", "validation of built-in kinds is partial (documented)"},
	"replicas a float":       {201, "", "validation of built-in kinds is partial (documented)"},
	"replicas over int32":    {201, "", "validation of built-in kinds is partial (documented)"},
	"replicas over int64":    {201, "", "validation of built-in kinds is partial (documented)"},
	"replicas a string":      {201, "", "validation of built-in kinds is partial (documented)"},
	"patch: JSON patch makes data a number (dry run)": {200, "", "validation of built-in kinds is partial (documented)"},
	"patch: merge patch data a number (dry run)":      {200, "", "validation of built-in kinds is partial (documented)"},
	"update with a resourceVersion not a number":      {409, "Conflict", "Kubernetes answers 500 (strconv.ParseUint)"},
	"create in a bad namespace: namespace ..":         {404, "NotFound", "no such namespace; Kubernetes answers 500"},
	"trailing slash":                                        {404, "NotFound", "no route ends in a slash"},
	"list: label selector NUL":                              {400, "BadRequest", "a NUL is not a label key character"},
	"list: resourceVersion over int64":                      {400, "BadRequest", "not a number this store can have"},
	"watch: resourceVersion not a number":                   {400, "BadRequest", "Kubernetes answers 500 (strconv.ParseUint)"},
	"patch: JSON patch replace a missing field":             {422, "Invalid", "RFC 6902: replace needs the value to exist"},
	"patch: strategic patch $setElementOrder garbage":       {400, "BadRequest", "Kubernetes answers 500"},
	"patch: strategic patch $patch bogus":                   {400, "BadRequest", "Kubernetes answers 500"},
	"patch: strategic patch unknown directive":              {400, "BadRequest", "unknown directives are refused rather than ignored"},
	"strategic patch of a pod: a container not an object":   {400, "BadRequest", "Kubernetes answers 500"},
	"strategic patch of a pod: a container without its key": {422, "Invalid", "merged as a new container, which validation refuses; Kubernetes answers 500"},
}

const widgetsCRD = `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.hostile.example.com"},
	"spec":{"group":"hostile.example.com","scope":"Namespaced","names":{"plural":"widgets","singular":"widget","kind":"Widget","listKind":"WidgetList"},
	"versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object",
	"properties":{"replicas":{"type":"integer","minimum":0},"size":{"type":"string","maxLength":5}}}}}}}]}}`

func deployment(name, replicas string) string {
	return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `"},"spec":{"replicas":` + replicas +
		`,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`
}

func manyHeaders(n int) []string {
	h := make([]string, n)
	for i := range h {
		h[i] = fmt.Sprintf("X-Header-%d: %d", i, i)
	}
	return h
}

// hostileTarget is a server the catalogue runs against: final, or with
// HOSTILE_REFERENCE_KUBECONFIG a real kube-apiserver.
type hostileTarget struct {
	url     string
	clients map[string]*http.Client // by hostileCase.as
	tokens  map[string]string       // bearer tokens, by user
	vars    map[string]string       // {token} and the like
}

// send sends a case: the status code, the body decoded and raw, and the
// Warning headers.
func (h *hostileTarget) send(c hostileCase) (int, map[string]any, string, []string, error) {
	path := c.path
	for k, v := range h.vars {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	req, err := http.NewRequest(c.method, h.url+path, strings.NewReader(c.body))
	if err != nil {
		return 0, nil, "", nil, err
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token := h.tokens[c.as]; token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, kv := range c.header { // the case's headers replace the defaults
		k, _, _ := strings.Cut(kv, ":")
		req.Header.Del(k)
	}
	for _, kv := range c.header {
		if k, v, _ := strings.Cut(kv, ":"); strings.TrimSpace(v) != "" {
			req.Header.Add(k, strings.TrimSpace(v))
		}
	}
	client := h.clients[c.as]
	if client == nil {
		client = h.clients[""]
	}
	noRedirects := *client // a redirect is the answer
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirects.Do(req)
	if err != nil {
		return 0, nil, "", nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var status map[string]any
	_ = json.Unmarshal(raw, &status)
	return resp.StatusCode, status, string(raw), resp.Header.Values("Warning"), nil
}

// check sends a case and reports an answer other than the case's.
func (h *hostileTarget) check(t *testing.T, c hostileCase) {
	t.Helper()
	code, status, raw, warnings, err := h.send(c)
	switch {
	case err != nil:
		t.Errorf("%s: %v", c.name, err)
	case !strings.Contains(strings.Join(warnings, "\n"), c.warning):
		t.Errorf("%s: %s warns %q, want %q", c.name, h.url, warnings, c.warning)
	case code != c.code || c.reason != "" && status["reason"] != c.reason || !strings.Contains(fmt.Sprint(status["message"]), c.message):
		t.Errorf("%s: %s answers %d %v, want %d %s %q: %.300s", c.name, h.url, code, status["reason"], c.code, c.reason, c.message, raw)
	}
}

// fixtures makes what the catalogue acts on, on either server: namespace
// hostile with configmap cm, deployment web and pod p, the widgets CRD, and
// the continue tokens.
func (h *hostileTarget) fixtures(t *testing.T) {
	t.Helper()
	for _, f := range []struct{ path, body string }{
		{"/api/v1/namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hostile"}}`},
		{hostileNS + "/serviceaccounts", `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}`},
		{hostileNS + "/configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","finalizers":["example.com/x"]},"data":{"a":"b"}}`},
		{hostileNS + "/configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm2"}}`},
		{"/api/v1/namespaces/default/configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hostile-a"}}`},
		{"/api/v1/namespaces/default/configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hostile-b"}}`},
		{"/apis/apps/v1/namespaces/hostile/deployments", deployment("web", "1")},
		{hostileNS + "/pods", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`},
		{"/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widgetsCRD},
	} {
		code, _, raw, _, err := h.send(hostileCase{method: "POST", path: f.path, body: f.body})
		if err != nil || code != 201 && code != 409 {
			t.Fatalf("creating %s: %d %v %s", f.path, code, err, raw)
		}
	}
	// The CRD's resource is served a little after the CRD is created.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, _, raw, _, err := h.send(hostileCase{method: "GET", path: "/apis/hostile.example.com/v1/namespaces/hostile/widgets"})
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("widgets are not served: %d %v %s", code, err, raw)
		}
	}
	for name, path := range map[string]string{"token": hostileNS + "/configmaps?limit=1", "otherToken": "/api/v1/namespaces/default/configmaps?limit=1"} {
		_, list, raw, _, err := h.send(hostileCase{method: "GET", path: path})
		token, _ := field(list, "metadata", "continue").(string)
		if err != nil || token == "" {
			t.Fatalf("listing %s: no continue token: %v %s", path, err, raw)
		}
		h.vars[name] = token
	}
}

// TestHostileInputs sends the catalogue to one final server: each request
// gets its status code and reason, the store does not change, and the
// server stays ready.
func TestHostileInputs(t *testing.T) {
	ts := startServer(t)
	h := &hostileTarget{url: ts.url, clients: map[string]*http.Client{"": ts.client, "anonymous": anonymousClient(ts.client)},
		tokens: map[string]string{"alice": readToken(t, filepath.Join(ts.dir, "tokens.csv"), "alice")}, vars: map[string]string{}}
	h.clients["alice"] = h.clients["anonymous"]
	h.fixtures(t)

	// Compact everything so far: a token or a watch at revision 2 is too old.
	ctx := context.Background()
	rev, err := ts.srv.backend.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.backend.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	h.vars["oldToken"] = base64.RawURLEncoding.EncodeToString([]byte(`{"v":"meta.k8s.io/v1","rv":2,"start":"/registry/configmaps/hostile/cm"}`))
	writes := watchWrites(t, ts.srv.backend, rev)

	for i, c := range hostileCases() {
		if i%25 == 0 {
			expect(t, ts.do(t, "GET", "/readyz", "", ""), 200, "")
		}
		before, err := ts.srv.backend.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := finalDiffers[c.name]; ok {
			c.code, c.reason, c.message = d.code, d.reason, ""
		}
		h.check(t, c)
		if keys := writes(before); len(keys) > 0 {
			t.Errorf("%s: the store changed: %v", c.name, keys)
		}
	}
	expect(t, ts.do(t, "GET", "/readyz", "", ""), 200, "")
}

// watchWrites watches every key from revision rev on, and returns a
// function that lists the keys written after a revision, up to the
// store's current one. Leader election renews its Lease all along;
// those writes are not the catalogue's.
func watchWrites(t *testing.T, backend storage.Backend, rev int64) func(after int64) []string {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events, err := backend.Watch(ctx, "/registry/", rev)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []storage.Event
	var last int64
	go func() {
		for e := range events {
			mu.Lock()
			seen, last = append(seen, e), e.KV.ModRevision
			mu.Unlock()
		}
	}()
	return func(after int64) []string {
		now, err := backend.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if now == after {
			return nil
		}
		// Writes happened; wait for the watch to have seen them all.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			caught := last >= now
			mu.Unlock()
			if caught || time.Now().After(deadline) {
				break
			}
		}
		mu.Lock()
		defer mu.Unlock()
		var keys []string
		for _, e := range seen {
			if e.KV.ModRevision > after && e.KV.ModRevision <= now && !strings.HasPrefix(e.KV.Key, "/registry/coordination.k8s.io/leases/") {
				keys = append(keys, e.KV.Key)
			}
		}
		return keys
	}
}

// TestHostileInputsOnKubernetes sends the catalogue to a real
// kube-apiserver, named by the kubeconfig in HOSTILE_REFERENCE_KUBECONFIG
// (a bearer token and the CA inline), with alice's token in
// HOSTILE_REFERENCE_ALICE, to check that its answers are Kubernetes'.
func TestHostileInputsOnKubernetes(t *testing.T) {
	kubeconfig := os.Getenv("HOSTILE_REFERENCE_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("HOSTILE_REFERENCE_KUBECONFIG names no kube-apiserver to compare with")
	}
	server, ca, token := readKubeconfig(t, kubeconfig)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	h := &hostileTarget{url: server, clients: map[string]*http.Client{"": client},
		tokens: map[string]string{"": token, "alice": os.Getenv("HOSTILE_REFERENCE_ALICE")}, vars: map[string]string{}}
	h.fixtures(t)
	h.vars["oldToken"] = base64.RawURLEncoding.EncodeToString([]byte(`{"v":"meta.k8s.io/v1","rv":2,"start":"cm\u0000"}`))
	for _, c := range hostileCases() {
		if c.kube != "" {
			continue
		}
		h.check(t, c)
	}
}

// anonymousClient is the admin's client without its certificate.
func anonymousClient(admin *http.Client) *http.Client {
	transport := admin.Transport.(*http.Transport).Clone()
	transport.TLSClientConfig.Certificates = nil
	return &http.Client{Timeout: admin.Timeout, Transport: transport}
}

// readToken reads a user's token from a --token-auth-file.
func readToken(t *testing.T, path, user string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range records {
		if len(rec) > 1 && rec[1] == user {
			return rec[0]
		}
	}
	t.Fatalf("%s has no token for %s", path, user)
	return ""
}

// readKubeconfig reads the server, the CA and the token of a kubeconfig's
// first cluster and user.
func readKubeconfig(t *testing.T, path string) (server string, ca []byte, token string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var config struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
				CA     []byte `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			User struct {
				Token string `json:"token"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal(data, &config); err != nil || len(config.Clusters) == 0 || len(config.Users) == 0 {
		t.Fatalf("%s: no cluster or user (%v)", path, err)
	}
	return config.Clusters[0].Cluster.Server, config.Clusters[0].Cluster.CA, config.Users[0].User.Token
}
