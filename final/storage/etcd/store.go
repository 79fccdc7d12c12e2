// Package etcd is the storage.Backend on a real etcd cluster, through the etcd
// v3 client: what --etcd-servers selects, so that several API servers share
// one state. The contract is etcd's own model, so most methods are one
// request: a create is a transaction that puts only if the key's
// create_revision is 0, an update or a delete one that writes only if its
// mod_revision is the caller's and otherwise reads the key back (the
// conflict), a list is a range read with a limit at a revision, and a watch
// is etcd's watch from a revision with the previous values. This is what
// k8s.io/apiserver/pkg/storage/etcd3 does.
//
// Keys live under a prefix (kube-apiserver's --etcd-prefix, "/registry"):
// the store adds it on the way in and strips it on the way out, so every
// process with the same prefix sees the same state and other prefixes on the
// cluster stay out of its lists and watches. A prefix is a plain byte prefix,
// as in etcd: "/registry" and "/registry2" overlap. The revision, though, is
// the cluster's: writes under any prefix move it, and a compaction forgets
// the history of every prefix.
package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/logutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// Store is a storage.Backend on an etcd cluster.
type Store struct {
	client *clientv3.Client
	prefix string

	closeOnce sync.Once
	closeErr  error
}

var _ storage.Backend = (*Store)(nil)

// New connects to etcd at endpoints (URLs such as "http://127.0.0.1:2379";
// tlsConfig for https ones, nil otherwise) and checks that it answers
// within ctx. Every key is stored under prefix.
func New(ctx context.Context, endpoints []string, tlsConfig *tls.Config, prefix string) (*Store, error) {
	// The client logs a warning for every failed request, ErrCompacted
	// included, which an API server meets in normal work; errors reach
	// the caller anyway, so the client keeps only its own errors.
	lg, err := logutil.CreateDefaultZapLogger(zap.ErrorLevel)
	if err != nil {
		return nil, fmt.Errorf("creating the etcd client's logger: %w", err)
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints,
		TLS:       tlsConfig,
		Logger:    lg.Named("etcd-client"),
		// When etcd goes away and comes back, reconnect within seconds:
		// gRPC's default backoff grows to two minutes.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd at %s: %w", strings.Join(endpoints, ","), err)
	}
	s := &Store{client: client, prefix: prefix}
	if _, err := s.Revision(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("connecting to etcd at %s: %w", strings.Join(endpoints, ","), err)
	}
	return s, nil
}

// Close ends every watch and the connection.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.client.Close() })
	return s.closeErr
}

// toStorage turns etcd's errors into the contract's; the rest stay as they
// are, wrapped by the callers with what they were doing.
func toStorage(err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%w (%w)", storage.ErrCompacted, err)
	case errors.Is(err, rpctypes.ErrFutureRev):
		return fmt.Errorf("%w (%w)", storage.ErrFutureRevision, err)
	}
	return err
}

// keyValue is etcd's KeyValue with the prefix stripped.
func (s *Store) keyValue(kv *mvccpb.KeyValue) storage.KeyValue {
	return storage.KeyValue{
		Key:            strings.TrimPrefix(string(kv.Key), s.prefix),
		Value:          kv.Value,
		CreateRevision: kv.CreateRevision,
		ModRevision:    kv.ModRevision,
	}
}

func (s *Store) Revision(ctx context.Context) (int64, error) {
	rev, err := s.probe(ctx, 0)
	if err != nil {
		return 0, fmt.Errorf("reading the revision: %w", err)
	}
	return rev, nil
}

// probe reads at a revision (0: now) to learn the current revision, or that
// the one asked for is compacted or in the future. Every read answers with
// the cluster's revision in its header; the cheapest is of one key, which
// need not exist, counted only.
func (s *Store) probe(ctx context.Context, revision int64) (int64, error) {
	opts := []clientv3.OpOption{clientv3.WithCountOnly()}
	if revision > 0 {
		opts = append(opts, clientv3.WithRev(revision))
	}
	resp, err := s.client.Get(ctx, s.prefix+"/", opts...)
	if err != nil {
		return 0, toStorage(err)
	}
	return resp.Header.Revision, nil
}

func (s *Store) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	resp, err := s.client.Get(ctx, s.prefix+key)
	if err != nil {
		return storage.KeyValue{}, fmt.Errorf("reading %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return storage.KeyValue{}, fmt.Errorf("reading %q: %w", key, storage.ErrNotFound)
	}
	return s.keyValue(resp.Kvs[0]), nil
}

func (s *Store) Create(ctx context.Context, key string, value []byte) (storage.KeyValue, error) {
	k := s.prefix + key
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(value))).
		Commit()
	if err != nil {
		return storage.KeyValue{}, fmt.Errorf("creating %q: %w", key, err)
	}
	if !resp.Succeeded {
		return storage.KeyValue{}, fmt.Errorf("creating %q: %w", key, storage.ErrKeyExists)
	}
	// A transaction's header revision is the revision it wrote.
	rev := resp.Header.Revision
	return storage.KeyValue{Key: key, Value: value, CreateRevision: rev, ModRevision: rev}, nil
}

// cas is the transaction of an update or a delete: op if the key's
// mod_revision is modRevision (0: if the key exists at all), else read the
// key, to tell a conflict from a missing key.
func (s *Store) cas(ctx context.Context, key string, modRevision int64, op clientv3.Op) (*clientv3.TxnResponse, error) {
	k := s.prefix + key
	cmp := clientv3.Compare(clientv3.ModRevision(k), "=", modRevision)
	if modRevision == 0 {
		cmp = clientv3.Compare(clientv3.ModRevision(k), ">", 0)
	}
	resp, err := s.client.Txn(ctx).If(cmp).Then(op).Else(clientv3.OpGet(k)).Commit()
	if err != nil {
		return nil, err
	}
	if resp.Succeeded {
		return resp, nil
	}
	current := resp.Responses[0].GetResponseRange().Kvs
	if len(current) == 0 {
		return nil, storage.ErrNotFound
	}
	return nil, &storage.ConflictError{Expected: modRevision, Current: s.keyValue(current[0])}
}

func (s *Store) Update(ctx context.Context, key string, value []byte, modRevision int64) (storage.KeyValue, error) {
	resp, err := s.cas(ctx, key, modRevision, clientv3.OpPut(s.prefix+key, string(value), clientv3.WithPrevKV()))
	if err != nil {
		return storage.KeyValue{}, fmt.Errorf("updating %q: %w", key, err)
	}
	prev := resp.Responses[0].GetResponsePut().PrevKv
	return storage.KeyValue{Key: key, Value: value, CreateRevision: prev.CreateRevision, ModRevision: resp.Header.Revision}, nil
}

func (s *Store) Delete(ctx context.Context, key string, modRevision int64) (storage.KeyValue, error) {
	resp, err := s.cas(ctx, key, modRevision, clientv3.OpDelete(s.prefix+key, clientv3.WithPrevKV()))
	if err != nil {
		return storage.KeyValue{}, fmt.Errorf("deleting %q: %w", key, err)
	}
	prev := resp.Responses[0].GetResponseDeleteRange().PrevKvs[0]
	return storage.KeyValue{Key: key, Value: prev.Value, CreateRevision: prev.CreateRevision, ModRevision: resp.Header.Revision}, nil
}

// List is one range read. etcd says whether more keys follow (More), and
// answers ErrCompacted and ErrFutureRev for revisions out of its history.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int, revision int64) ([]storage.KeyValue, int64, bool, error) {
	start := s.prefix + prefix
	end := clientv3.GetPrefixRangeEnd(start) // "\x00", all keys, for ""
	// The first key after startAfter is startAfter followed by a zero
	// byte, and the first key of all is "\x00" (etcd refuses "").
	if after := s.prefix + startAfter + "\x00"; startAfter != "" && after > start {
		start = after
	}
	if start == "" {
		start = "\x00"
	}
	opts := []clientv3.OpOption{clientv3.WithRange(end)}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	if revision > 0 {
		opts = append(opts, clientv3.WithRev(revision))
	}
	resp, err := s.client.Get(ctx, start, opts...)
	if err != nil {
		return nil, 0, false, fmt.Errorf("listing %q at revision %d: %w", prefix, revision, toStorage(err))
	}
	kvs := make([]storage.KeyValue, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		kvs = append(kvs, s.keyValue(kv))
	}
	// The header has the current revision, not the one read at.
	rev := revision
	if rev == 0 {
		rev = resp.Header.Revision
	}
	return kvs, rev, resp.More, nil
}

// Count is a range read that returns the count only, as kube-apiserver's
// object-count metrics read it.
func (s *Store) Count(ctx context.Context, prefix string) (int64, error) {
	start := s.prefix + prefix
	if start == "" {
		start = "\x00"
	}
	resp, err := s.client.Get(ctx, start, clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.prefix+prefix)), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("counting %q: %w", prefix, toStorage(err))
	}
	return resp.Count, nil
}

// Compact compacts the whole cluster's history, not only this prefix's:
// etcd has one history.
func (s *Store) Compact(ctx context.Context, revision int64) error {
	if _, err := s.client.Compact(ctx, revision); err != nil {
		return fmt.Errorf("compacting to %d: %w", revision, toStorage(err))
	}
	return nil
}

// Watch checks the revision with a read at it first: etcd reports a
// compacted or future revision to a watch only later, on its channel, and
// the contract wants it as an error now. That read also pins "now" for
// revision 0: etcd registers a watch after the call returns, and a watch
// from the read's revision misses nothing committed in between.
func (s *Store) Watch(ctx context.Context, prefix string, revision int64) (<-chan storage.Event, error) {
	now, err := s.probe(ctx, revision)
	if err != nil {
		return nil, fmt.Errorf("watching %q from revision %d: %w", prefix, revision, err)
	}
	if revision == 0 {
		revision = now
	}
	// WithRequireLeader: a member cut off from its cluster ends the watch
	// rather than going quiet (Kubernetes does the same).
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := s.client.Watch(wctx, s.prefix+prefix, clientv3.WithPrefix(),
		clientv3.WithRev(revision+1), clientv3.WithPrevKV())
	out := make(chan storage.Event, storage.WatchBuffer)
	go func() {
		defer cancel() // ends etcd's watch when forward gives up on it
		s.forward(wch, out)
	}()
	return out, nil
}

// forward translates etcd's watch responses into events until the watch
// ends, and closes out. The etcd client buffers without bound, so the
// bound is here: out holds WatchBuffer events, and a watcher that leaves it
// full is behind and closed.
func (s *Store) forward(wch clientv3.WatchChan, out chan<- storage.Event) {
	defer close(out)
	for resp := range wch {
		// A compaction that overtook the watch, a lost leader, a closed
		// client or context: the client lists and watches again.
		if resp.Err() != nil {
			return
		}
		for _, ev := range resp.Events {
			select {
			case out <- s.event(ev):
			default:
				return // fell behind
			}
		}
	}
}

// event is etcd's event in the contract's terms. etcd's delete event has
// only the key and the revision: the value is the PrevKV's.
func (s *Store) event(ev *clientv3.Event) storage.Event {
	out := storage.Event{KV: s.keyValue(ev.Kv)}
	if ev.PrevKv != nil {
		prev := s.keyValue(ev.PrevKv)
		out.PrevKV = &prev
	}
	if ev.Type == mvccpb.DELETE {
		out.Type = storage.Delete
		if out.PrevKV != nil {
			out.KV.Value = out.PrevKV.Value
			out.KV.CreateRevision = out.PrevKV.CreateRevision
		}
	}
	return out
}
