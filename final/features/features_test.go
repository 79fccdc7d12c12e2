package features

import (
	"slices"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	var none *Gates // no flag
	for _, g := range []*Gates{none, mustParse(t)} {
		if !g.Enabled(WatchList) || !g.Enabled(RemoteRequestHeaderUID) {
			t.Errorf("WatchList %v, RemoteRequestHeaderUID %v: both are beta and on by default in 1.37",
				g.Enabled(WatchList), g.Enabled(RemoteRequestHeaderUID))
		}
		if g.Enabled("APIServingWithRoutine") { // alpha
			t.Error("an alpha gate is on by default")
		}
	}
}

// The seeds' --feature-gates=AllAlpha=false changes nothing: alpha gates
// are off by default.
func TestAllAlphaFalse(t *testing.T) {
	g := mustParse(t, "AllAlpha=false")
	if !g.Enabled(WatchList) || g.Enabled("APIServingWithRoutine") {
		t.Errorf("WatchList %v, APIServingWithRoutine %v", g.Enabled(WatchList), g.Enabled("APIServingWithRoutine"))
	}
	if ignored := g.Ignored(); len(ignored) != 0 {
		t.Errorf("ignored %v", ignored)
	}
	if g.String() != "AllAlpha=false" {
		t.Errorf("String %q", g.String())
	}
}

// AllBeta=false turns every beta gate off, a gate named on its own wins
// whichever side of AllBeta it is on, and a later value of a gate wins.
func TestAllBetaAndOverrides(t *testing.T) {
	g := mustParse(t, "AllBeta=false")
	if g.Enabled(WatchList) || g.Enabled(RemoteRequestHeaderUID) {
		t.Errorf("AllBeta=false left a beta gate on")
	}
	if !g.Enabled("DeclarativeValidation") { // GA: AllBeta does not touch it
		t.Error("AllBeta=false turned a GA gate off")
	}
	for _, values := range [][]string{{"WatchList=true,AllBeta=false"}, {"AllBeta=false,WatchList=true"}, {"AllBeta=false", "WatchList=true"}} {
		g := mustParse(t, values...)
		if !g.Enabled(WatchList) || g.Enabled(RemoteRequestHeaderUID) {
			t.Errorf("%v: WatchList %v, RemoteRequestHeaderUID %v", values, g.Enabled(WatchList), g.Enabled(RemoteRequestHeaderUID))
		}
	}
	g = mustParse(t, "kube:WatchList=false", "kube:WatchList=true , kube:RemoteRequestHeaderUID=FALSE")
	if !g.Enabled(WatchList) || g.Enabled(RemoteRequestHeaderUID) {
		t.Errorf("WatchList %v, RemoteRequestHeaderUID %v", g.Enabled(WatchList), g.Enabled(RemoteRequestHeaderUID))
	}
	g = mustParse(t, "AllAlpha=true")
	if !g.Enabled("APIServingWithRoutine") || !g.Enabled(WatchList) {
		t.Error("AllAlpha=true")
	}
}

// Gates this server does not act on are accepted; those moved from their
// default are listed, so that the server can say they change nothing.
func TestIgnored(t *testing.T) {
	g := mustParse(t, "APIServerIdentity=true,APIResponseCompression=false,WatchList=false,InPlacePodVerticalScaling=true")
	want := []string{"APIResponseCompression=false"}
	if got := g.Ignored(); !slices.Equal(got, want) {
		t.Errorf("ignored %v, want %v", got, want)
	}
	g = mustParse(t, "AllAlpha=true,AllBeta=false,APIServingWithRoutine=false,APIResponseCompression=false")
	ignored := g.Ignored()
	if len(ignored) != 3 || ignored[0] != "APIResponseCompression=false" ||
		!strings.HasPrefix(ignored[1], "AllAlpha=true (") || !strings.HasPrefix(ignored[2], "AllBeta=false (") {
		t.Errorf("ignored %q", ignored)
	}
	g = mustParse(t, "KMSv1=true") // deprecated, off by default
	if len(g.Warnings()) != 1 || g.Warnings()[0] != "setting deprecated feature gate KMSv1=true. It will be removed in a future release." {
		t.Errorf("warnings %q", g.Warnings())
	}
}

// The errors are k8s.io/component-base's, word for word.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   string
	}{
		{[]string{"Foo=true"}, "unrecognized feature gate: Foo"},
		{[]string{"AllAlpha=true,Foo=false"}, "unrecognized feature gate: Foo"},
		{[]string{"WatchList=true", "kube:Foo=true"}, "set kube feature gates with default empty prefix or kube: prefix consistently, do not mix use"},
		{[]string{"kube:Foo=true"}, "unrecognized feature gate: Foo"},
		{[]string{"WatchList"}, "missing bool value for WatchList"},
		{[]string{"WatchList=maybe"}, `invalid value of WatchList=maybe, err: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{[]string{"wardle:Foo=true"}, "component not registered: wardle"},
		{[]string{"DeclarativeValidation=false"}, "cannot set feature gate DeclarativeValidation to false, feature is locked to true"},
		{[]string{"DeclarativeValidation=false,WatchCacheInitializationPostStartHook=false"},
			"[cannot set feature gate DeclarativeValidation to false, feature is locked to true, cannot set feature gate WatchCacheInitializationPostStartHook to false, feature is locked to true]"},
	} {
		_, err := Parse(tc.values)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: %v, want %q", tc.values, err, tc.want)
		}
	}
}

func TestEnabledPanicsOnAnUnknownName(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	(*Gates)(nil).Enabled("NoSuchGate")
}

func mustParse(t *testing.T, values ...string) *Gates {
	t.Helper()
	g, err := Parse(values)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
