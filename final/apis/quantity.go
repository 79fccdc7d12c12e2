// Quantities: the numbers of resource requests, limits and quotas, written
// with a suffix ("100m" of a CPU, "1.5Gi" of memory, "2k" pods) as
// k8s.io/apimachinery/pkg/api/resource reads and writes them.

package apis

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// QuantityFormat is how a quantity is written back: with the decimal SI
// suffixes (m, k, M, G...), the binary ones (Ki, Mi, Gi...), or a decimal
// exponent (1e3). A quantity keeps the format it was written in.
type QuantityFormat string

const (
	DecimalSI       QuantityFormat = "DecimalSI"
	BinarySI        QuantityFormat = "BinarySI"
	DecimalExponent QuantityFormat = "DecimalExponent"
)

// Quantity is an exact number with its format. The value is held in
// billionths (Kubernetes' precision: a finer value is rounded up, away from
// zero, so that asking for a tiny amount still asks for some). The zero
// Quantity is 0.
type Quantity struct {
	nanos  *big.Int
	format QuantityFormat
}

// Errors of ParseQuantity, in Kubernetes' words.
var (
	ErrQuantityFormat = errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
	ErrQuantitySuffix = errors.New("unable to parse quantity's suffix")
)

// quantityPattern splits a quantity into sign, whole digits, fraction
// digits and suffix. It accepts what Kubernetes' parser accepts, including
// its oddities: "+", "." and "1." are all numbers.
var quantityPattern = regexp.MustCompile(`^([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)$`)

// decimalSuffixes and binarySuffixes map a suffix to its power of ten or of two.
var (
	decimalSuffixes = map[string]int{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
	binarySuffixes  = map[string]int{"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
)

var (
	bigTen      = big.NewInt(10)
	nanosPerOne = big.NewInt(1_000_000_000)
)

// ParseQuantity reads a quantity as Kubernetes does: "100m", "0.5", "1.5Gi",
// "1e3", "2k". Left out: Kubernetes' cap of binary quantities at 2^63-1.
func ParseQuantity(s string) (Quantity, error) {
	m := quantityPattern.FindStringSubmatch(s)
	if s == "" || m == nil {
		return Quantity{}, ErrQuantityFormat
	}
	sign, whole, fraction, suffix := m[1], m[2], m[3], m[4]
	format, base, exponent := DecimalSI, 10, 0
	if e, ok := decimalSuffixes[suffix]; ok {
		exponent = e
	} else if e, ok := binarySuffixes[suffix]; ok {
		format, base, exponent = BinarySI, 2, e
	} else if len(suffix) > 1 && (suffix[0] == 'e' || suffix[0] == 'E') {
		e, err := strconv.Atoi(suffix[1:])
		if err != nil || e < -1000 || e > 1000 {
			return Quantity{}, ErrQuantitySuffix
		}
		format, exponent = DecimalExponent, e
	} else {
		return Quantity{}, ErrQuantitySuffix
	}

	// value = digits / 10^len(fraction) * base^exponent, as an exact fraction.
	digits, _ := new(big.Int).SetString("0"+whole+fraction, 10)
	value := new(big.Rat).SetFrac(digits, new(big.Int).Exp(bigTen, big.NewInt(int64(len(fraction))), nil))
	power := new(big.Int).Exp(big.NewInt(int64(base)), big.NewInt(int64(abs(exponent))), nil)
	if exponent >= 0 {
		value.Mul(value, new(big.Rat).SetInt(power))
	} else {
		value.Quo(value, new(big.Rat).SetInt(power))
	}
	value.Mul(value, new(big.Rat).SetInt(nanosPerOne))
	nanos, rest := new(big.Int).QuoRem(value.Num(), value.Denom(), new(big.Int))
	if rest.Sign() != 0 {
		nanos.Add(nanos, big.NewInt(1)) // round up, to a whole billionth
	}
	if sign == "-" {
		nanos.Neg(nanos)
	}
	// A binary quantity between 0 and 1 becomes decimal for good.
	if format == BinarySI && nanos.Sign() > 0 && nanos.Cmp(nanosPerOne) < 0 {
		format = DecimalSI
	}
	return Quantity{nanos: nanos, format: format}, nil
}

// QuantityOf reads a quantity from decoded JSON, where it is a string
// ("500m") or a number (0.5, which Kubernetes reads as "0.5"). ok is false
// for anything else, or a string that does not parse.
func QuantityOf(v any) (Quantity, bool) {
	var s string
	switch n := v.(type) {
	case string:
		s = strings.TrimSpace(n)
	case json.Number:
		s = n.String()
	case float64:
		s = fmt.Sprint(n)
	case int:
		s = fmt.Sprint(n)
	case int64:
		s = fmt.Sprint(n)
	default:
		return Quantity{}, false
	}
	q, err := ParseQuantity(s)
	return q, err == nil
}

// MustParseQuantity is ParseQuantity for constants in code; it panics on a
// malformed one.
func MustParseQuantity(s string) Quantity {
	q, err := ParseQuantity(s)
	if err != nil {
		panic(fmt.Sprintf("quantity %q: %v", s, err))
	}
	return q
}

func (q Quantity) value() *big.Int {
	if q.nanos == nil {
		return new(big.Int)
	}
	return q.nanos
}

// Cmp compares two quantities: -1, 0 or 1.
func (q Quantity) Cmp(other Quantity) int { return q.value().Cmp(other.value()) }

// Sign is -1, 0 or 1.
func (q Quantity) Sign() int { return q.value().Sign() }

// IsZero tells whether the quantity is 0.
func (q Quantity) IsZero() bool { return q.Sign() == 0 }

// Add returns q+other, in q's format, or other's if q is zero (as
// Kubernetes' Quantity.Add does: a sum of Gi starts from 0 and stays Gi).
func (q Quantity) Add(other Quantity) Quantity {
	format := q.format
	if q.IsZero() {
		format = other.format
	}
	return Quantity{nanos: new(big.Int).Add(q.value(), other.value()), format: format}
}

// MilliValue is the value in thousandths, rounded up: the precision at which
// Kubernetes compares requests and limits with a LimitRange.
func (q Quantity) MilliValue() *big.Int {
	milli, rest := new(big.Int).QuoRem(q.value(), big.NewInt(1_000_000), new(big.Int))
	if rest.Sign() > 0 {
		milli.Add(milli, big.NewInt(1))
	}
	return milli
}

// Float64 is the value as a float, for ratios.
func (q Quantity) Float64() float64 {
	f, _ := new(big.Rat).SetFrac(q.value(), nanosPerOne).Float64()
	return f
}

// String writes the quantity the way Kubernetes writes it back: in its
// format, with the largest suffix that keeps the number whole ("0.5" is
// "500m", "1000m" is "1", "1024Mi" is "1Gi", "1.5Gi" is "1536Mi"). A binary
// quantity that is not a whole number, or is under 1024, is written in
// decimal.
func (q Quantity) String() string {
	v := q.value()
	if v.Sign() == 0 {
		return "0"
	}
	format := q.format
	if format == BinarySI {
		whole, rest := new(big.Int).QuoRem(v, nanosPerOne, new(big.Int))
		if rest.Sign() != 0 || new(big.Int).Abs(whole).Cmp(big.NewInt(1024)) < 0 {
			format = DecimalSI
		} else {
			return binaryString(whole)
		}
	}
	// Strip powers of ten from the billionths, a thousand at a time, so
	// that the exponent stays a multiple of three.
	mantissa, exponent := new(big.Int).Set(v), -9
	thousand := big.NewInt(1000)
	for {
		if format == DecimalSI && exponent >= 18 {
			break
		}
		q, r := new(big.Int).QuoRem(mantissa, thousand, new(big.Int))
		if r.Sign() != 0 {
			break
		}
		mantissa, exponent = q, exponent+3
	}
	if format == DecimalExponent {
		if exponent == 0 {
			return mantissa.String()
		}
		return fmt.Sprintf("%se%d", mantissa, exponent)
	}
	for suffix, e := range decimalSuffixes {
		if e == exponent {
			return mantissa.String() + suffix
		}
	}
	return mantissa.String() // not reached: every multiple of 3 in -9..18 has a suffix
}

// binaryString writes a whole number with the largest binary suffix that
// divides it.
func binaryString(whole *big.Int) string {
	mantissa, exponent := new(big.Int).Set(whole), 0
	kibi := big.NewInt(1024)
	for exponent < 60 {
		q, r := new(big.Int).QuoRem(mantissa, kibi, new(big.Int))
		if r.Sign() != 0 {
			break
		}
		mantissa, exponent = q, exponent+10
	}
	for suffix, e := range binarySuffixes {
		if e == exponent {
			return mantissa.String() + suffix
		}
	}
	return mantissa.String()
}

// MarshalJSON writes the quantity as Kubernetes does: a JSON string.
func (q Quantity) MarshalJSON() ([]byte, error) { return json.Marshal(q.String()) }

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
