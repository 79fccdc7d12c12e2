package object

import (
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

func TestNameValidators(t *testing.T) {
	validators := map[string]func(string) string{
		"subdomain": ValidateDNS1123Subdomain, "label": ValidateDNS1123Label,
		"dns1035": ValidateDNS1035Label, "path": ValidatePathSegmentName,
	}
	tests := []struct {
		name  string
		valid []string // the validators that accept it
	}{
		{"web", []string{"subdomain", "label", "dns1035", "path"}},
		{"team-a", []string{"subdomain", "label", "dns1035", "path"}},
		{"app.config", []string{"subdomain", "path"}},
		{"1web", []string{"subdomain", "label", "path"}},
		{"App", []string{"path"}},
		{"system:discovery", []string{"path"}},
		{"-web", []string{"path"}},
		{"a/b", nil},
		{"..", nil},
		{strings.Repeat("a", 63), []string{"subdomain", "label", "dns1035", "path"}},
		{strings.Repeat("a", 64), []string{"subdomain", "path"}},
		{strings.Repeat("a", 254), []string{"path"}},
	}
	for _, tt := range tests {
		for which, validate := range validators {
			if got, want := validate(tt.name) == "", slices.Contains(tt.valid, which); got != want {
				t.Errorf("%s(%q) = %q; want valid: %v", which, tt.name, validate(tt.name), want)
			}
		}
	}
}

// The messages are Kubernetes' own.
func TestNameMessages(t *testing.T) {
	tests := []struct{ got, want string }{
		{ValidateDNS1123Subdomain("App"), "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"},
		{ValidateDNS1123Label("team.a"), "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')"},
		{ValidateDNS1035Label("1web"), "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name')"},
		{ValidateDNS1035Label(strings.Repeat("a", 64)), "must be no more than 63 characters"},
		{ValidatePathSegmentName(".."), "may not be '..'"},
		{ValidatePathSegmentName("a%b"), "may not contain '/' or '%'"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %q\nwant %q", tt.got, tt.want)
		}
	}
}

// causeList renders causes as "field reason" lines, sorted: label causes come
// from a map, so their order is not fixed.
func causeList(causes []apierrors.Cause) []string {
	out := []string{}
	for _, c := range causes {
		out = append(out, c.Field+" "+c.Reason)
	}
	slices.Sort(out)
	return out
}

// labelsOf decodes {"labels": labels} and returns the labels as decoded.
func labelsOf(t *testing.T, labels string) any {
	t.Helper()
	obj, err := Decode([]byte(`{"labels":` + labels + `}`))
	if err != nil {
		t.Fatalf("bad JSON in test: %v", err)
	}
	return obj["labels"]
}

func TestValidateLabels(t *testing.T) {
	tests := []struct {
		name, labels string
		want         []string
	}{
		{"none", `null`, []string{}},
		{"valid", `{"app":"web","example.com/tier":"front_end.v1","empty":""}`, []string{}},
		{"not an object", `["app"]`, []string{"metadata.labels FieldValueInvalid"}},
		{"bad key name", `{"-app":"web"}`, []string{"metadata.labels FieldValueInvalid"}},
		{"bad key prefix", `{"Example.com/app":"web"}`, []string{"metadata.labels FieldValueInvalid"}},
		{"empty key name", `{"example.com/":"web"}`, []string{"metadata.labels FieldValueInvalid"}},
		{"key name over 63", `{"` + strings.Repeat("a", 64) + `":"web"}`, []string{"metadata.labels FieldValueInvalid"}},
		{"bad value", `{"app":"-web"}`, []string{"metadata.labels.app FieldValueInvalid"}},
		{"value over 63", `{"app":"` + strings.Repeat("a", 64) + `"}`, []string{"metadata.labels.app FieldValueInvalid"}},
		{"value not a string", `{"replicas":3}`, []string{"metadata.labels.replicas FieldValueInvalid"}},
		{"bad key and bad value", `{"-app":"web!","tier":"a b"}`,
			[]string{"metadata.labels FieldValueInvalid", "metadata.labels.-app FieldValueInvalid", "metadata.labels.tier FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := causeList(ValidateLabels(labelsOf(t, tt.labels))); !slices.Equal(got, tt.want) {
				t.Errorf("ValidateLabels(%s) = %q, want %q", tt.labels, got, tt.want)
			}
		})
	}
}

// The messages name the bad key or value, as Kubernetes' do.
func TestValidateLabelsMessages(t *testing.T) {
	causes := ValidateLabels(labelsOf(t, `{"-app":"ok"}`))
	if len(causes) != 1 || !strings.HasPrefix(causes[0].Message, `Invalid value: "-app": `) {
		t.Errorf("bad key: %+v, want one cause whose message starts with Invalid value: \"-app\"", causes)
	}
	causes = ValidateLabels(labelsOf(t, `{"app":"a b"}`))
	if len(causes) != 1 || !strings.HasPrefix(causes[0].Message, "Invalid value: a b: a valid label must be an empty string") {
		t.Errorf("bad value: %+v, want one cause that names the value", causes)
	}
}
