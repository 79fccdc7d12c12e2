// Reading at a revision. A list is consistent: every item is as of one
// revision, the list's resourceVersion. The options say which:
//
//	resourceVersion=""                 the latest (a consistent read)
//	resourceVersion="0"                any; this store serves the latest
//	resourceVersion=N                  not older than N (resourceVersionMatch=NotOlderThan, the default;
//	                                   with limit and no match, exactly at N: the legacy rule)
//	resourceVersion=N&resourceVersionMatch=Exact   exactly at N, read from the log
//
// With limit, a list comes in pages; the continue token of a page names the
// revision of the first page and the key to go on after, so every page is
// read at that same revision, however many writes happen in between.
package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
)

func parseResourceVersion(rv string) (int64, error) {
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, errBadRequest("invalid resource version %q: a resourceVersion is a non-negative integer", rv)
	}
	return n, nil
}

// parseListOptions reads limit, continue, resourceVersion and resourceVersionMatch.
func (s *server) parseListOptions(r *http.Request) (listQuery, error) {
	query := r.URL.Query()
	var q listQuery
	if l := query.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return q, errBadRequest("invalid limit %q: must be a non-negative integer", l)
		}
		q.limit = n
	}
	rv, match, token := query.Get("resourceVersion"), query.Get("resourceVersionMatch"), query.Get("continue")
	if token != "" {
		if rv != "" || match != "" {
			return q, errBadRequest("specifying resource version is not allowed when using continue")
		}
		rev, after, err := decodeContinue(token)
		if err != nil {
			return q, err
		}
		if rev < s.store.compacted() {
			return q, errExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
		}
		q.revision, q.after = rev, after
		return q, nil
	}
	if match != "" && rv == "" {
		return q, errBadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if match != "" && match != "Exact" && match != "NotOlderThan" {
		return q, errBadRequest("unsupported resourceVersionMatch %q: want Exact or NotOlderThan", match)
	}
	if rv == "" || rv == "0" {
		if match == "Exact" {
			return q, errBadRequest(`resourceVersionMatch "Exact" is forbidden for resourceVersion "%s"`, rv)
		}
		return q, nil // the latest
	}
	n, err := parseResourceVersion(rv)
	if err != nil {
		return q, err
	}
	switch match {
	case "", "NotOlderThan":
		if now := s.store.revision(); n > now {
			return q, errTooLargeResourceVersion(n, now)
		}
	case "Exact":
		q.revision = n
	}
	return q, nil
}

// continueToken is what a continue parameter holds: the revision of the
// first page and the last key returned. Like Kubernetes, base64 JSON.
type continueToken struct {
	APIVersion string `json:"v"`
	Revision   int64  `json:"rv"`
	After      string `json:"start"`
}

func encodeContinue(rev int64, after string) string {
	return base64.RawURLEncoding.EncodeToString(mustMarshal(continueToken{"meta.k8s.io/v1", rev, after}))
}

func decodeContinue(token string) (int64, string, error) {
	data, err := base64.RawURLEncoding.DecodeString(token)
	var c continueToken
	if err != nil || json.Unmarshal(data, &c) != nil || c.APIVersion != "meta.k8s.io/v1" || c.Revision <= 0 || c.After == "" {
		return 0, "", errBadRequest("invalid continue token: it must be one returned by a previous list")
	}
	return c.Revision, c.After, nil
}

// readPreconditions reads DeleteOptions (JSON or protobuf): the delete
// happens only if the object still has the preconditions' uid and
// resourceVersion (409 otherwise). A dry run is refused, as everywhere.
func readPreconditions(r *http.Request, res *resource, name string) (func(object) error, error) {
	if r.ContentLength == 0 {
		return nil, nil
	}
	mediaType, body, err := readBody(r, "application/json", protobufType)
	if err != nil || len(body) == 0 {
		return nil, err
	}
	if mediaType == protobufType {
		if body, err = protobufToJSON(body); err != nil {
			return nil, err
		}
	}
	var options struct {
		DryRun        []string `json:"dryRun"`
		Preconditions *struct {
			UID             *string `json:"uid"`
			ResourceVersion *string `json:"resourceVersion"`
		} `json:"preconditions"`
	}
	if err := json.Unmarshal(body, &options); err != nil {
		return nil, errBadRequest("the body is not DeleteOptions: %v", err)
	}
	if len(options.DryRun) > 0 { // kubectl delete --dry-run=server puts it here
		return nil, errBadRequest("dryRun is not supported by this server")
	}
	if options.Preconditions == nil {
		return nil, nil
	}
	p := options.Preconditions
	return func(current object) error {
		if p.UID != nil && *p.UID != current.metaString("uid") {
			return &statusError{http.StatusConflict, "Conflict",
				"Precondition failed: UID in precondition: " + *p.UID + ", UID in object meta: " + current.metaString("uid"),
				map[string]any{"name": name, "group": res.group, "kind": res.name}}
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != current.metaString("resourceVersion") {
			return &statusError{http.StatusConflict, "Conflict",
				"Precondition failed: ResourceVersion in precondition: " + *p.ResourceVersion + ", ResourceVersion in object meta: " + current.metaString("resourceVersion"),
				map[string]any{"name": name, "group": res.group, "kind": res.name}}
		}
		return nil
	}, nil
}
