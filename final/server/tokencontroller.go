// The token controller, the part of kube-controller-manager's
// service-account controllers (pkg/controller/serviceaccount/
// tokens_controller.go) that clients still rely on: a Secret of type
// kubernetes.io/service-account-token, annotated with the name of a
// ServiceAccount, gets a long-lived token for that account in data.token, the
// cluster CA in data.ca.crt and its namespace in data.namespace. A token
// Secret whose account does not exist is deleted, and so are an account's
// token Secrets when the account is deleted. The leader runs it, following
// Secrets and ServiceAccounts with watches of the store, as the controller
// follows them with informers.
package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

type tokenController struct {
	store             *store.Store
	secrets, accounts *registry.Resource
	sas               *authn.ServiceAccounts // signs the tokens
	rootCA            []byte                 // the cluster CA, PEM (kube-controller-manager's --root-ca-file)
}

// newTokenController signs with the service-account key and hands out the
// CA bundle that verifies this server, the one kube-root-ca.crt holds:
// kube-controller-manager gives both its --root-ca-file. Without that
// bundle, the data directory's CA.
func newTokenController(s *Server, sas *authn.ServiceAccounts) (*tokenController, error) {
	ca := []byte(s.rootCA)
	if len(ca) == 0 {
		var err error
		if ca, err = os.ReadFile(s.creds.caCert); err != nil {
			return nil, fmt.Errorf("token controller: %w", err)
		}
	}
	return &tokenController{store: s.store, secrets: s.registry.Lookup("", "secrets"),
		accounts: s.registry.Lookup("", "serviceaccounts"), sas: sas, rootCA: ca}, nil
}

// errNothingToDo ends an update that would change nothing.
var errNothingToDo = errors.New("nothing to do")

// Run follows the Secrets and the ServiceAccounts until ctx ends.
func (c *tokenController) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.follow(ctx, c.accounts, c.accountChanged) })
	c.follow(ctx, c.secrets, c.secretChanged)
	wg.Wait()
}

// follow watches every object of a resource and hands each change to handle;
// when it starts, and whenever a watch is lost, it first hands every object
// as it is now, so that nothing changed meanwhile is missed.
func (c *tokenController) follow(ctx context.Context, res *registry.Resource, handle func(context.Context, store.Event)) {
	for {
		events, err := c.store.Watch(ctx, res, "", 0)
		if err == nil {
			items, _, _, listErr := c.store.List(ctx, res, "", store.ListOptions{})
			if listErr == nil {
				for _, item := range items {
					handle(ctx, store.Event{Type: "ADDED", Object: item})
				}
			}
			for ev := range events { // closed when ctx ends or the watch falls behind
				handle(ctx, ev)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func isTokenSecret(secret object.Object) bool {
	t, _ := secret["type"].(string)
	return t == authn.ServiceAccountTokenType
}

func annotation(obj object.Object, key string) string {
	annotations, _ := obj.Metadata()["annotations"].(map[string]any)
	v, _ := annotations[key].(string)
	return v
}

// secretChanged fills a token Secret, or, when one is gone, takes it off
// its account's list of secrets.
func (c *tokenController) secretChanged(ctx context.Context, ev store.Event) {
	secret := ev.Object
	if !isTokenSecret(secret) || annotation(secret, authn.ServiceAccountNameAnnotation) == "" {
		return
	}
	var err error
	if ev.Type == "DELETED" {
		err = c.removeReference(ctx, secret)
	} else {
		err = c.syncSecret(ctx, secret)
	}
	if err != nil && ctx.Err() == nil {
		log.Printf("token controller: secret %s/%s: %v", secret.MetaString("namespace"), secret.MetaString("name"), err)
	}
}

// account is the ServiceAccount a token Secret is for: the one its
// annotations name, with the uid they record if they record one; nil if
// there is no such account.
func (c *tokenController) account(ctx context.Context, secret object.Object) (object.Object, error) {
	sa, err := c.store.Get(ctx, c.accounts, secret.MetaString("namespace"), annotation(secret, authn.ServiceAccountNameAnnotation))
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if uid := annotation(secret, authn.ServiceAccountUIDAnnotation); uid != "" && uid != sa.MetaString("uid") {
		return nil, nil
	}
	return sa, nil
}

// syncSecret deletes a token Secret without an account, and fills in what
// an account's token Secret lacks: a token if it has none, the CA if it
// has another, the namespace.
func (c *tokenController) syncSecret(ctx context.Context, secret object.Object) error {
	sa, err := c.account(ctx, secret)
	if err != nil {
		return err
	}
	if sa == nil {
		return c.deleteSecret(ctx, secret)
	}
	if !c.needsUpdate(secret) {
		return nil
	}
	uid := secret.MetaString("uid")
	_, err = c.store.Update(ctx, c.secrets, secret.MetaString("namespace"), secret.MetaString("name"), func(current object.Object) (object.Object, error) {
		if current.MetaString("uid") != uid || !c.needsUpdate(current) {
			return nil, errNothingToDo // replaced, or filled in meanwhile
		}
		data, _ := current["data"].(map[string]any)
		if data == nil {
			data = map[string]any{}
		}
		if value(data, "token") == nil {
			token, err := c.sas.IssueLegacy(sa, current)
			if err != nil {
				return nil, err
			}
			data["token"] = base64.StdEncoding.EncodeToString([]byte(token))
		}
		data["ca.crt"] = base64.StdEncoding.EncodeToString(c.rootCA)
		if value(data, "namespace") == nil {
			data["namespace"] = base64.StdEncoding.EncodeToString([]byte(current.MetaString("namespace")))
		}
		current["data"] = data
		meta := current.Metadata()
		annotations, _ := meta["annotations"].(map[string]any)
		if annotations == nil {
			annotations = map[string]any{}
		}
		annotations[authn.ServiceAccountNameAnnotation] = sa.MetaString("name")
		annotations[authn.ServiceAccountUIDAnnotation] = sa.MetaString("uid")
		meta["annotations"] = annotations
		return current, nil
	})
	if errors.Is(err, errNothingToDo) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// needsUpdate: no token, no namespace, or a CA other than the cluster's.
func (c *tokenController) needsUpdate(secret object.Object) bool {
	data, _ := secret["data"].(map[string]any)
	return value(data, "token") == nil || value(data, "namespace") == nil || !bytes.Equal(value(data, "ca.crt"), c.rootCA)
}

// value is one of a Secret's data values, decoded; nil when missing or empty.
func value(data map[string]any, key string) []byte {
	encoded, _ := data[key].(string)
	decoded, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(decoded) == 0 {
		return nil
	}
	return decoded
}

// deleteSecret deletes this Secret, not one created since with its name.
func (c *tokenController) deleteSecret(ctx context.Context, secret object.Object) error {
	uid := secret.MetaString("uid")
	_, err := c.store.Delete(ctx, c.secrets, secret.MetaString("namespace"), secret.MetaString("name"), func(current object.Object) error {
		if current.MetaString("uid") != uid {
			return errNothingToDo
		}
		return nil
	})
	if errors.Is(err, errNothingToDo) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// removeReference takes a deleted token Secret off its account's secrets.
func (c *tokenController) removeReference(ctx context.Context, secret object.Object) error {
	sa, err := c.account(ctx, secret)
	if sa == nil || err != nil {
		return err
	}
	name, uid := secret.MetaString("name"), sa.MetaString("uid")
	_, err = c.store.Update(ctx, c.accounts, sa.MetaString("namespace"), sa.MetaString("name"), func(current object.Object) (object.Object, error) {
		refs, _ := current["secrets"].([]any)
		kept := slices.DeleteFunc(slices.Clone(refs), func(ref any) bool {
			r, _ := ref.(map[string]any)
			return r["name"] == name
		})
		if current.MetaString("uid") != uid || len(kept) == len(refs) {
			return nil, errNothingToDo
		}
		current["secrets"] = kept
		if len(kept) == 0 {
			delete(current, "secrets") // an empty list is left out, as Kubernetes leaves it
		}
		return current, nil
	})
	if errors.Is(err, errNothingToDo) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// accountChanged deletes a deleted account's token Secrets: those naming it,
// with its uid or none.
func (c *tokenController) accountChanged(ctx context.Context, ev store.Event) {
	if ev.Type != "DELETED" {
		return
	}
	sa := ev.Object
	ns := sa.MetaString("namespace")
	items, _, _, err := c.store.List(ctx, c.secrets, ns, store.ListOptions{})
	for _, secret := range items {
		uid := annotation(secret, authn.ServiceAccountUIDAnnotation)
		if isTokenSecret(secret) && annotation(secret, authn.ServiceAccountNameAnnotation) == sa.MetaString("name") &&
			(uid == "" || uid == sa.MetaString("uid")) {
			err = errors.Join(err, c.deleteSecret(ctx, secret))
		}
	}
	if err != nil && ctx.Err() == nil {
		log.Printf("token controller: deleting the token secrets of %s/%s: %v", ns, sa.MetaString("name"), err)
	}
}
