package crd

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/admission"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// A conversion webhook's answer is checked before it is used, with
// Kubernetes' words for what is wrong; objects already in the wanted
// version are not sent; metadata other than labels and annotations comes
// back as it was.
func TestConversionWebhookAnswers(t *testing.T) {
	// answer turns the request's objects into the webhook's answer.
	var answer func(uid string, objs []map[string]any) map[string]any
	var sent int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review struct {
			Request struct {
				UID               string           `json:"uid"`
				DesiredAPIVersion string           `json:"desiredAPIVersion"`
				Objects           []map[string]any `json:"objects"`
			} `json:"request"`
		}
		_ = json.NewDecoder(r.Body).Decode(&review)
		sent = len(review.Request.Objects)
		for _, o := range review.Request.Objects {
			o["apiVersion"] = review.Request.DesiredAPIVersion
		}
		_ = json.NewEncoder(w).Encode(answer(review.Request.UID, review.Request.Objects))
	}))
	defer srv.Close()
	caBundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	c := &converter{kind: "Widget", webhook: &admission.ClientConfig{URL: srv.URL, CABundle: caBundle}}
	review := func(response map[string]any) map[string]any {
		return map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "response": response}
	}
	success := func(uid string, objs []map[string]any) map[string]any {
		return review(map[string]any{"uid": uid, "convertedObjects": objs, "result": map[string]any{"status": "Success"}})
	}
	const prefix = "conversion webhook for example.com/v1, Kind=Widget "
	tests := []struct {
		name   string
		answer func(uid string, objs []map[string]any) map[string]any
		want   string // the error; "": converted
	}{
		{"converted", success, ""},
		{"labels changed", func(uid string, objs []map[string]any) map[string]any {
			objs[0]["metadata"].(map[string]any)["labels"] = map[string]any{"converted": "yes"}
			objs[0]["metadata"].(map[string]any)["generation"] = 99 // not the webhook's to change: restored
			return success(uid, objs)
		}, ""},
		{"another uid", func(_ string, objs []map[string]any) map[string]any { return success("other", objs) },
			prefix + `failed: expected response.uid=`},
		{"failure with a message", func(uid string, _ []map[string]any) map[string]any {
			return review(map[string]any{"uid": uid, "result": map[string]any{"status": "Failure", "message": "size is not a number"}})
		}, prefix + "failed: size is not a number"},
		{"failure without a message", func(uid string, _ []map[string]any) map[string]any {
			return review(map[string]any{"uid": uid, "result": map[string]any{"status": "Failure"}})
		}, prefix + "failed: response.result.status was 'Failure', not 'Success'"},
		{"not a ConversionReview", func(uid string, objs []map[string]any) map[string]any {
			out := success(uid, objs)
			out["kind"] = "AdmissionReview"
			return out
		}, prefix + "failed: expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got apiextensions.k8s.io/v1, Kind=AdmissionReview"},
		{"too few objects", func(uid string, objs []map[string]any) map[string]any { return success(uid, objs[:1]) },
			prefix + "returned 1 objects, expected 2"},
		{"renamed", func(uid string, objs []map[string]any) map[string]any {
			objs[1]["metadata"].(map[string]any)["name"] = "other"
			return success(uid, objs)
		}, prefix + "returned invalid converted object at index 1: must have the same name: b != other"},
		{"a bad annotation", func(uid string, objs []map[string]any) map[string]any {
			objs[0]["metadata"].(map[string]any)["annotations"] = map[string]any{"not a key!": "x"}
			return success(uid, objs)
		}, prefix + `returned invalid converted object at index 0: invalid metadata.annotations: "not a key!" is not a qualified name`},
		{"wrong version", func(uid string, objs []map[string]any) map[string]any {
			objs[0]["apiVersion"] = "example.com/v3"
			return success(uid, objs)
		}, prefix + "returned invalid converted object at index 0: invalid groupVersion (expected example.com/v2, received example.com/v3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer = tt.answer
			objs := []object.Object{
				{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "a", "uid": "1", "generation": 1}},
				{"apiVersion": "example.com/v2", "kind": "Widget", "metadata": map[string]any{"name": "already", "uid": "2"}},
				{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "b", "uid": "3"}},
			}
			before := object.DeepCopy([]any{objs[0], objs[1], objs[2]})
			out, err := c.convert(context.Background(), objs, "example.com/v2")
			if tt.want != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Fatalf("got %v, want %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sent != 2 {
				t.Errorf("sent %d objects, want the 2 not in v2", sent)
			}
			for i, o := range out {
				if o["apiVersion"] != "example.com/v2" || o.MetaString("name") != objs[i].MetaString("name") {
					t.Errorf("object %d: %v", i, o)
				}
			}
			if g := out[0].Metadata()["generation"]; g != 1 && g != json.Number("1") && g != 1.0 {
				t.Errorf("generation %v: metadata must come back as it was", g)
			}
			if tt.name == "labels changed" && !reflect.DeepEqual(out[0].Metadata()["labels"], map[string]any{"converted": "yes"}) {
				t.Errorf("labels %v", out[0].Metadata()["labels"])
			}
			if !reflect.DeepEqual(before, object.DeepCopy([]any{objs[0], objs[1], objs[2]})) {
				t.Error("the objects given were changed")
			}
		})
	}
}
