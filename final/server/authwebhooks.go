// The authenticators and the authorizer that ask another service: OIDC ID
// tokens (--oidc-*), the token webhook (--authentication-token-webhook-*) and
// the authorization webhook (--authorization-webhook-*), built from their
// flags as kube-apiserver builds them (pkg/kubeapiserver/authenticator and
// pkg/kubeapiserver/authorizer).

package server

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authz"
)

// appendTokenAuthenticators adds OIDC, then the token webhook, to tokens,
// if their flags ask for them. audiences are the API audiences the webhook
// is told of.
func appendTokenAuthenticators(o *Options, tokens authn.TokenAuthenticators, audiences []string) (authn.TokenAuthenticators, error) {
	if o.OIDCIssuerURL != "" {
		config := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.OIDCCAFile != "" {
			pool, err := certPool(o.OIDCCAFile)
			if err != nil {
				return nil, fmt.Errorf("--oidc-ca-file: %w", err)
			}
			config.RootCAs = pool
		}
		tokens = append(tokens, &authn.OIDC{
			IssuerURL:      o.OIDCIssuerURL,
			ClientID:       o.OIDCClientID,
			UsernameClaim:  o.OIDCUsernameClaim,
			UsernamePrefix: authn.OIDCUsernamePrefix(o.OIDCUsernamePrefix, o.OIDCUsernameClaim, o.OIDCIssuerURL),
			GroupsClaim:    o.OIDCGroupsClaim,
			GroupsPrefix:   o.OIDCGroupsPrefix,
			SigningAlgs:    o.OIDCSigningAlgs,
			RequiredClaims: o.OIDCRequiredClaims,
			Client:         &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: config}},
		})
	}
	if o.AuthenticationTokenWebhookConfigFile != "" {
		client, err := authn.LoadWebhookClient(o.AuthenticationTokenWebhookConfigFile)
		if err != nil {
			return nil, fmt.Errorf("--authentication-token-webhook-config-file: %w", err)
		}
		tokens = append(tokens, &authn.WebhookTokens{Client: client, Audiences: audiences, CacheTTL: o.AuthenticationTokenWebhookCacheTTL})
	}
	return tokens, nil
}

// authorizationWebhook is the Webhook mode's authorizer, or nil without
// --authorization-webhook-config-file (options refuse the mode without it).
func authorizationWebhook(o *Options) (*authz.Webhook, error) {
	if o.AuthorizationWebhookConfigFile == "" {
		return nil, nil
	}
	client, err := authn.LoadWebhookClient(o.AuthorizationWebhookConfigFile)
	if err != nil {
		return nil, fmt.Errorf("--authorization-webhook-config-file: %w", err)
	}
	return &authz.Webhook{Client: client, AuthorizedTTL: o.AuthorizationWebhookCacheAuthorizedTTL,
		UnauthorizedTTL: o.AuthorizationWebhookCacheUnauthorizedTTL}, nil
}
