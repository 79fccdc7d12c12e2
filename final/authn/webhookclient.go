// Webhook clients: kube-apiserver's token-authentication and authorization
// webhooks are configured by a file in kubeconfig format, whose cluster is
// the webhook (its URL and CA) and whose user is how this server proves
// itself to it (a client certificate, or a token). A review is POSTed to the
// cluster's server URL as it is written, path included
// (k8s.io/apiserver/pkg/util/webhook and client-go's clientcmd).
package authn

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/yaml"
)

// WebhookClient posts reviews to one webhook.
type WebhookClient struct {
	URL    string
	Token  string // sent as a bearer token, if not empty
	Client *http.Client
}

// webhookKubeconfig is the part of a kubeconfig a webhook uses.
type webhookKubeconfig struct {
	CurrentContext string `json:"current-context"`
	Clusters       []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthority     string `json:"certificate-authority"`
			CertificateAuthorityData []byte `json:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify"`
			TLSServerName            string `json:"tls-server-name"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			ClientCertificate     string `json:"client-certificate"`
			ClientCertificateData []byte `json:"client-certificate-data"`
			ClientKey             string `json:"client-key"`
			ClientKeyData         []byte `json:"client-key-data"`
			Token                 string `json:"token"`
		} `json:"user"`
	} `json:"users"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
}

// LoadWebhookClient reads a webhook's kubeconfig file. The current context
// names the cluster and user; without one, the file must hold a single
// cluster (and at most one user). Relative file names are relative to the
// kubeconfig's directory, as clientcmd reads them.
func LoadWebhookClient(path string) (*WebhookClient, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kc webhookKubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	clusterName, userName := "", ""
	if kc.CurrentContext != "" {
		found := false
		for _, c := range kc.Contexts {
			if c.Name == kc.CurrentContext {
				clusterName, userName, found = c.Context.Cluster, c.Context.User, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: current-context %q is not among the contexts", path, kc.CurrentContext)
		}
	} else {
		if len(kc.Clusters) != 1 || len(kc.Users) > 1 {
			return nil, fmt.Errorf("%s: no current-context, and not exactly one cluster and at most one user", path)
		}
		clusterName = kc.Clusters[0].Name
		if len(kc.Users) == 1 {
			userName = kc.Users[0].Name
		}
	}
	dir := filepath.Dir(path)
	resolve := func(file string) string {
		if file == "" || filepath.IsAbs(file) {
			return file
		}
		return filepath.Join(dir, file)
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	client := &WebhookClient{}
	found := false
	for _, c := range kc.Clusters {
		if c.Name != clusterName {
			continue
		}
		found = true
		client.URL = c.Cluster.Server
		config.InsecureSkipVerify = c.Cluster.InsecureSkipTLSVerify //nolint:gosec // the administrator asked for it
		config.ServerName = c.Cluster.TLSServerName
		ca := c.Cluster.CertificateAuthorityData
		if file := resolve(c.Cluster.CertificateAuthority); file != "" {
			if ca, err = os.ReadFile(file); err != nil {
				return nil, fmt.Errorf("%s: certificate-authority: %w", path, err)
			}
		}
		if len(ca) > 0 {
			config.RootCAs = x509.NewCertPool()
			if !config.RootCAs.AppendCertsFromPEM(ca) {
				return nil, fmt.Errorf("%s: the certificate authority holds no PEM certificate", path)
			}
		}
	}
	if !found || client.URL == "" {
		return nil, fmt.Errorf("%s: cluster %q with a server URL not found", path, clusterName)
	}
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		client.Token = u.User.Token
		certPEM, keyPEM := u.User.ClientCertificateData, u.User.ClientKeyData
		if file := resolve(u.User.ClientCertificate); file != "" {
			if certPEM, err = os.ReadFile(file); err != nil {
				return nil, fmt.Errorf("%s: client-certificate: %w", path, err)
			}
		}
		if file := resolve(u.User.ClientKey); file != "" {
			if keyPEM, err = os.ReadFile(file); err != nil {
				return nil, fmt.Errorf("%s: client-key: %w", path, err)
			}
		}
		if len(certPEM) > 0 || len(keyPEM) > 0 {
			cert, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				return nil, fmt.Errorf("%s: client certificate: %w", path, err)
			}
			config.Certificates = []tls.Certificate{cert}
		}
	}
	client.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: config}}
	return client, nil
}

// maxReviewSize bounds a webhook's answer: a review is a few hundred bytes.
const maxReviewSize = 1 << 20

// Post sends review as JSON and decodes the answer into out. An answer
// other than 2xx is an error, worded with its status and the start of its body.
func (c *WebhookClient) Post(ctx context.Context, review, out any) error {
	body, err := json.Marshal(review)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReviewSize+1))
	if err != nil {
		return fmt.Errorf("reading the webhook's answer: %w", err)
	}
	if len(data) > maxReviewSize {
		return errors.New("the webhook's answer is larger than 1 MiB")
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the webhook answered %s: %.200s", resp.Status, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding the webhook's answer: %w", err)
	}
	return nil
}
