// OpenID Connect: ID tokens an identity provider signed are bearer tokens
// here (--oidc-issuer-url, --oidc-client-id and the other --oidc-* flags).
// The provider publishes where its keys are in a discovery document,
// <issuer>/.well-known/openid-configuration, and the keys at its jwks_uri;
// a token is verified with them and its claims name the user. In Kubernetes:
// k8s.io/apiserver/plugin/pkg/authenticator/token/oidc, over
// github.com/coreos/go-oidc.
package authn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// OIDCSigningAlgs are the algorithms --oidc-signing-algs may name: asymmetric
// ones only, so that a provider's public key can never be used as an HMAC
// secret.
var OIDCSigningAlgs = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}

// OIDCUsernamePrefix applies kube-apiserver's rules for --oidc-username-prefix:
// "-" is no prefix; no prefix given is none for the email claim (an address
// already names its domain) and the issuer URL and "#" for any other claim,
// so that a provider's "sub": "admin" cannot pass for a local admin.
func OIDCUsernamePrefix(flag, usernameClaim, issuerURL string) string {
	switch {
	case flag == "-":
		return ""
	case flag == "" && usernameClaim != "email":
		return issuerURL + "#"
	}
	return flag
}

// OIDC is the --oidc-* authenticator.
type OIDC struct {
	IssuerURL      string
	ClientID       string            // the audience a token must name
	UsernameClaim  string            // "sub" when empty
	UsernamePrefix string            // as OIDCUsernamePrefix resolved it
	GroupsClaim    string            // none: no groups
	GroupsPrefix   string            // put before each group
	SigningAlgs    []string          // RS256 when empty
	RequiredClaims map[string]string // claim: the string it must equal
	// Client fetches discovery and keys; --oidc-ca-file is its trust.
	Client *http.Client
	// MinRefreshInterval is the least time between two fetches of the keys
	// (0: 10 s). A token with a key id nobody knows makes the keys be
	// fetched again, in case the provider rotated them; without a limit, a
	// flood of tokens with random key ids would be a flood of fetches.
	MinRefreshInterval time.Duration
	// Now is the clock (nil: time.Now); tests move it.
	Now func() time.Time

	mu          sync.Mutex
	jwksURI     string       // from discovery, once it succeeded
	keys        []jsonWebKey // the provider's keys, as last fetched
	lastAttempt time.Time    // of a fetch, successful or not
	attempted   bool         // whether lastAttempt is set
	fetchErr    error        // the last fetch's failure, if it failed
}

// jsonWebKey is one key of a JWKS, parsed.
type jsonWebKey struct {
	kid string
	key crypto.PublicKey
}

func (o *OIDC) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// AuthenticateToken implements TokenAuthenticator. A token that is not a
// JWT, or whose iss is not the issuer, is another authenticator's business
// (iss is read before anything is verified, only to decide that). Any other
// token must verify completely: a signature by one of the provider's keys,
// with an algorithm of SigningAlgs; iss; aud naming the client ID (a string
// or a list); exp (required) and nbf; the required claims; and a username.
func (o *OIDC) AuthenticateToken(ctx context.Context, token string) (*request.User, bool, error) {
	var unverified jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil || unverified.Issuer != o.IssuerURL {
		return nil, false, nil
	}
	algs := o.SigningAlgs
	if len(algs) == 0 {
		algs = []string{"RS256"}
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) { return o.keysFor(ctx, t) },
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(o.IssuerURL),
		jwt.WithAudience(o.ClientID),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(o.now),
	)
	if err != nil {
		return nil, false, fmt.Errorf("oidc: verify token: %w", err)
	}
	user, err := o.userFrom(claims)
	if err != nil {
		return nil, false, err
	}
	return user, true, nil
}

// userFrom maps verified claims to the user, as Kubernetes maps them.
func (o *OIDC) userFrom(claims jwt.MapClaims) (*request.User, error) {
	usernameClaim := o.UsernameClaim
	if usernameClaim == "" {
		usernameClaim = "sub"
	}
	name, ok := claims[usernameClaim].(string)
	if !ok || name == "" {
		return nil, fmt.Errorf("oidc: parse username claims %q: not a non-empty string", usernameClaim)
	}
	// An unverified address could be anybody's. Kubernetes 1.37 refuses
	// email_verified: false, and a token without the claim passes.
	if v, present := claims["email_verified"]; usernameClaim == "email" && present {
		if verified, isBool := v.(bool); !isBool || !verified {
			return nil, errors.New("oidc: email not verified")
		}
	}
	user := &request.User{Name: o.UsernamePrefix + name}
	if v, present := claims[o.GroupsClaim]; o.GroupsClaim != "" && present {
		groups, err := stringOrStrings(v)
		if err != nil {
			return nil, fmt.Errorf("oidc: parse groups claim %q: %w", o.GroupsClaim, err)
		}
		for _, g := range groups {
			user.Groups = append(user.Groups, o.GroupsPrefix+g)
		}
	}
	for claim, want := range o.RequiredClaims {
		v, present := claims[claim]
		if !present {
			return nil, fmt.Errorf("oidc: required claim %s not present in ID token", claim)
		}
		if got, _ := v.(string); got != want {
			return nil, fmt.Errorf("oidc: required claim %s value does not match. Got = %v, want = %s", claim, v, want)
		}
	}
	return user, nil
}

// stringOrStrings reads a claim that may be one string or a list of them:
// providers send a single group as a plain string.
func stringOrStrings(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("%v is not a string", item)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%v is neither a string nor a list of strings", v)
}

// keysFor finds the keys that may have signed the token: the one with its
// kid, or all of them for a token without one. A kid not among the cached
// keys makes them be fetched again, at most once per MinRefreshInterval;
// the lock is held while fetching, so that concurrent requests wait for
// one fetch instead of each making their own.
func (o *OIDC) keysFor(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	o.mu.Lock()
	defer o.mu.Unlock()
	set := o.matching(kid)
	if len(set.Keys) == 0 && o.mayFetch() {
		o.fetchKeys(ctx)
		set = o.matching(kid)
	}
	if len(set.Keys) > 0 {
		return set, nil
	}
	if o.fetchErr != nil {
		return nil, fmt.Errorf("fetching the provider's keys: %w", o.fetchErr)
	}
	return nil, fmt.Errorf("no key with id %q among the provider's keys", kid)
}

func (o *OIDC) matching(kid string) jwt.VerificationKeySet {
	var set jwt.VerificationKeySet
	for _, k := range o.keys {
		if kid == "" || k.kid == kid {
			set.Keys = append(set.Keys, k.key)
		}
	}
	return set
}

func (o *OIDC) mayFetch() bool {
	interval := o.MinRefreshInterval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return !o.attempted || o.now().Sub(o.lastAttempt) >= interval
}

// fetchKeys reads discovery (until it once succeeds) and the JWKS. A
// failure keeps the keys there were: a provider briefly down must not log
// everybody out.
func (o *OIDC) fetchKeys(ctx context.Context) {
	o.attempted, o.lastAttempt = true, o.now()
	o.fetchErr = nil
	if o.jwksURI == "" {
		var discovery struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := o.getJSON(ctx, strings.TrimSuffix(o.IssuerURL, "/")+"/.well-known/openid-configuration", &discovery); err != nil {
			o.fetchErr = fmt.Errorf("discovery: %w", err)
			return
		}
		// A discovery document for another issuer is a misconfiguration or
		// an attack; OpenID Connect Discovery 1.0, section 4.3.
		if discovery.Issuer != o.IssuerURL {
			o.fetchErr = fmt.Errorf("discovery: issuer did not match the issuer returned by provider, expected %q got %q", o.IssuerURL, discovery.Issuer)
			return
		}
		if discovery.JWKSURI == "" {
			o.fetchErr = errors.New("discovery: no jwks_uri")
			return
		}
		o.jwksURI = discovery.JWKSURI
	}
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := o.getJSON(ctx, o.jwksURI, &jwks); err != nil {
		o.fetchErr = fmt.Errorf("jwks: %w", err)
		return
	}
	var keys []jsonWebKey
	for _, raw := range jwks.Keys {
		// A key this server cannot use (another type, or for encryption)
		// is skipped, not fatal: providers publish several kinds.
		if k, err := parseJWK(raw); err == nil {
			keys = append(keys, k)
		}
	}
	o.keys = keys
}

// maxProviderDocument bounds discovery and JWKS documents.
const maxProviderDocument = 1 << 20

func (o *OIDC) getJSON(ctx context.Context, url string, out any) error {
	// The request must not outlive the lock's patience: a slow provider
	// would hold every OIDC request up.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderDocument))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// parseJWK reads an RSA or EC public key in JWK form (RFC 7517, 7518).
func parseJWK(raw json.RawMessage) (jsonWebKey, error) {
	var k struct {
		Kty, Kid, Use, Crv, N, E, X, Y string
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return jsonWebKey{}, err
	}
	if k.Use != "" && k.Use != "sig" {
		return jsonWebKey{}, fmt.Errorf("key %q is for %q", k.Kid, k.Use)
	}
	b64 := base64.RawURLEncoding
	switch k.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(k.N)
		e, err2 := b64.DecodeString(k.E)
		if err := errors.Join(err1, err2); err != nil || len(e) == 0 || len(e) > 4 {
			return jsonWebKey{}, fmt.Errorf("RSA key %q: bad n or e", k.Kid)
		}
		exponent := int(new(big.Int).SetBytes(e).Int64())
		return jsonWebKey{k.Kid, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exponent}}, nil
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		curve, ok := curves[k.Crv]
		if !ok {
			return jsonWebKey{}, fmt.Errorf("EC key %q: curve %q", k.Kid, k.Crv)
		}
		x, err1 := b64.DecodeString(k.X)
		y, err2 := b64.DecodeString(k.Y)
		size := (curve.Params().BitSize + 7) / 8
		if err := errors.Join(err1, err2); err != nil || len(x) != size || len(y) != size {
			return jsonWebKey{}, fmt.Errorf("EC key %q: bad x or y", k.Kid)
		}
		// Parsing the uncompressed point checks that it is on the curve.
		key, err := ecdsa.ParseUncompressedPublicKey(curve, slices.Concat([]byte{4}, x, y))
		if err != nil {
			return jsonWebKey{}, fmt.Errorf("EC key %q: %w", k.Kid, err)
		}
		return jsonWebKey{k.Kid, key}, nil
	}
	return jsonWebKey{}, fmt.Errorf("key %q: type %q", k.Kid, k.Kty)
}
