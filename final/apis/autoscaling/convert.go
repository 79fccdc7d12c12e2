// Conversion between the JSON the server holds and the typed versions:
// decode a version, convert it to the hub, convert the hub to the other
// version, encode. This is the one entry point the server uses, through
// Converter: objects are stored in StorageVersion, and every read and
// write in another version goes through here.

package autoscaling

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// ToHub decodes an autoscaler in whichever version its apiVersion names
// into the hub. An object that does not fit its version's types is a 400,
// as Kubernetes' decoder makes it.
func ToHub(obj object.Object) (*HorizontalPodAutoscaler, error) {
	apiVersion, _ := obj["apiVersion"].(string)
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding a %s: %w", Kind, err)
	}
	cannot := func(err error) error {
		return apierrors.NewBadRequest("%s in version %q cannot be handled as a %s: %v",
			Kind, strings.TrimPrefix(apiVersion, Group+"/"), Kind, err)
	}
	switch apiVersion {
	case V1:
		var v hpaV1
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, cannot(err)
		}
		return v1ToHub(&v), nil
	case V2:
		var v hpaV2
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, cannot(err)
		}
		return v2ToHub(&v), nil
	}
	return nil, apierrors.NewBadRequest("no kind %q is registered for version %q", Kind, apiVersion)
}

// FromHub encodes the hub in a version ("autoscaling/v1" or "autoscaling/v2").
func FromHub(hpa *HorizontalPodAutoscaler, version string) (object.Object, error) {
	var v any
	switch version {
	case V1:
		converted, err := hubToV1(hpa)
		if err != nil {
			return nil, err
		}
		v = converted
	case V2:
		v = hubToV2(hpa)
	default:
		return nil, fmt.Errorf("%s is not served in version %q", Kind, version)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding a %s in %s: %w", Kind, version, err)
	}
	return object.Decode(data)
}

// Convert returns a copy of obj in another version, through the hub.
func Convert(obj object.Object, version string) (object.Object, error) {
	hub, err := ToHub(obj)
	if err != nil {
		return nil, err
	}
	return FromHub(hub, version)
}

// Converter is what the registry entry of one served version carries
// (registry.Converter): reads convert from the storage version to it,
// writes from it to the storage version.
type Converter struct {
	Version string // "autoscaling/v1"
}

// ToStorage converts an object written in this version to the storage version.
func (c Converter) ToStorage(_ context.Context, obj object.Object) (object.Object, error) {
	return Convert(obj, StorageVersion)
}

// FromStorage converts stored objects to this version. An object stored in
// it already is served as stored (conversion to the storage version left
// nothing of another version in it); the others are converted copies.
func (c Converter) FromStorage(_ context.Context, objs []object.Object) ([]object.Object, error) {
	out := make([]object.Object, len(objs))
	for i, obj := range objs {
		if obj["apiVersion"] == c.Version {
			out[i] = obj
			continue
		}
		converted, err := Convert(obj, c.Version)
		if err != nil {
			return nil, fmt.Errorf("converting %s %s/%s to %s: %w", Kind, obj.MetaString("namespace"), obj.MetaString("name"), c.Version, err)
		}
		out[i] = converted
	}
	return out, nil
}

// MarshalJSON writes a quantity as a string; the zero Quantity is "0", as
// v1's quantities that are not pointers always read.
func (q Quantity) MarshalJSON() ([]byte, error) {
	if q == "" {
		return []byte(`"0"`), nil
	}
	return json.Marshal(string(q))
}

// UnmarshalJSON reads a quantity as a string or a number and keeps it in
// its canonical form ("0.05" becomes "50m"), as Kubernetes' decoder does.
func (q *Quantity) UnmarshalJSON(data []byte) error {
	s := string(bytes.TrimSpace(data))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
	}
	parsed, err := apis.ParseQuantity(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*q = Quantity(parsed.String())
	return nil
}

func (q Quantity) isZero() bool {
	parsed, err := apis.ParseQuantity(string(q))
	return q == "" || (err == nil && parsed.IsZero())
}

func (q Quantity) positive() bool {
	parsed, err := apis.ParseQuantity(string(q))
	return err == nil && parsed.Sign() > 0
}
