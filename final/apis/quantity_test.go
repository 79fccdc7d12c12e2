package apis

import (
	"encoding/json"
	"errors"
	"testing"
)

// The canonical forms are what k8s.io/apimachinery's Quantity.String gives
// for the same input (checked against v0.37.1).
func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in, want string
		milli    int64
		err      error
	}{
		{in: "0", want: "0", milli: 0},
		{in: "100m", want: "100m", milli: 100},
		{in: "0.5", want: "500m", milli: 500},
		{in: "1.5", want: "1500m", milli: 1500},
		{in: "1000m", want: "1", milli: 1000},
		{in: "1500m", want: "1500m", milli: 1500},
		{in: "1.0", want: "1", milli: 1000},
		{in: "100.0m", want: "100m", milli: 100},
		{in: "0.1m", want: "100u", milli: 1}, // thousandths round up
		{in: "1n", want: "1n", milli: 1},
		{in: "1u", want: "1u", milli: 1},
		{in: "0.0000000001", want: "1n", milli: 1}, // finer than a billionth rounds up
		{in: "2k", want: "2k", milli: 2_000_000},
		{in: "1500", want: "1500", milli: 1_500_000},
		{in: "129M", want: "129M", milli: 129_000_000_000},
		{in: "128974848", want: "128974848", milli: 128_974_848_000},
		{in: "1Ki", want: "1Ki", milli: 1_024_000},
		{in: "123Mi", want: "123Mi", milli: 128_974_848_000},
		{in: "1024Mi", want: "1Gi", milli: 1_073_741_824_000},
		{in: "1.5Gi", want: "1536Mi", milli: 1_610_612_736_000},
		{in: "3Gi", want: "3Gi", milli: 3_221_225_472_000},
		{in: "2048Ki", want: "2Mi", milli: 2_097_152_000},
		{in: "1025Ki", want: "1025Ki", milli: 1_049_600_000},
		{in: "1000Ki", want: "1000Ki", milli: 1_024_000_000},
		{in: "0.5Ki", want: "512", milli: 512_000}, // binary under 1024: written in decimal
		{in: "0.1Ki", want: "102400m", milli: 102_400},
		{in: "1e3", want: "1e3", milli: 1_000_000},
		{in: "1.5e3", want: "1500", milli: 1_500_000},
		{in: "12e6", want: "12e6", milli: 12_000_000_000},
		{in: "5e-3", want: "5e-3", milli: 5},
		{in: "-1", want: "-1", milli: -1000},
		{in: "1E", want: "1E"}, // exa, not an exponent
		{in: "", err: ErrQuantityFormat},
		{in: " 1", err: ErrQuantityFormat},
		{in: "1x", err: ErrQuantityFormat},
		{in: "1.2.3", err: ErrQuantityFormat},
		{in: "1K", err: ErrQuantitySuffix}, // kilo is a lower-case k
		{in: "1e", err: ErrQuantitySuffix},
		{in: "1Mb", err: ErrQuantityFormat},
	}
	for _, tt := range tests {
		q, err := ParseQuantity(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseQuantity(%q) = %v, %v; want the error %v", tt.in, q, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseQuantity(%q): %v", tt.in, err)
			continue
		}
		if got := q.String(); got != tt.want {
			t.Errorf("ParseQuantity(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		if tt.in != "1E" {
			if got := q.MilliValue().Int64(); got != tt.milli {
				t.Errorf("ParseQuantity(%q).MilliValue() = %d, want %d", tt.in, got, tt.milli)
			}
		}
	}
	if ErrQuantityFormat.Error() != "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" {
		t.Errorf("the format error reads %q", ErrQuantityFormat)
	}
}

func TestQuantityArithmetic(t *testing.T) {
	tests := []struct {
		a, b, sum string
		cmp       int
	}{
		{"100m", "0.1", "200m", 0},
		{"1", "500m", "1500m", 1},
		{"1Gi", "1024Mi", "2Gi", 0},
		{"512Mi", "1Gi", "1536Mi", -1},
		{"1G", "1Gi", "2073741824", -1}, // decimal G is less than binary Gi
		{"0", "1Ki", "1Ki", -1},         // zero takes the other's format
		{"2", "-2", "0", 1},
	}
	for _, tt := range tests {
		a, b := MustParseQuantity(tt.a), MustParseQuantity(tt.b)
		if got := a.Add(b).String(); got != tt.sum {
			t.Errorf("%s + %s = %s, want %s", tt.a, tt.b, got, tt.sum)
		}
		if got := a.Cmp(b); got != tt.cmp {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.cmp)
		}
	}
	var zero Quantity
	if zero.String() != "0" || !zero.IsZero() || zero.Cmp(MustParseQuantity("0m")) != 0 {
		t.Errorf("the zero Quantity is %q", zero)
	}
	if f := MustParseQuantity("250m").Float64(); f != 0.25 {
		t.Errorf("Float64(250m) = %v", f)
	}
}

func TestQuantityOf(t *testing.T) {
	tests := []struct {
		in     any
		want   string
		wantOK bool
	}{
		{"500m", "500m", true},
		{" 2Gi ", "2Gi", true}, // Kubernetes trims a JSON string's spaces
		{json.Number("0.5"), "500m", true},
		{json.Number("2"), "2", true},
		{json.Number("1e3"), "1e3", true},
		{1.5, "1500m", true},
		{"1x", "", false},
		{true, "", false},
		{nil, "", false},
		{map[string]any{}, "", false},
	}
	for _, tt := range tests {
		q, ok := QuantityOf(tt.in)
		if ok != tt.wantOK || ok && q.String() != tt.want {
			t.Errorf("QuantityOf(%#v) = %s, %v; want %s, %v", tt.in, q, ok, tt.want, tt.wantOK)
		}
	}
	data, err := json.Marshal(map[string]Quantity{"cpu": MustParseQuantity("0.25")})
	if err != nil || string(data) != `{"cpu":"250m"}` {
		t.Errorf("json.Marshal = %s, %v", data, err)
	}
}
