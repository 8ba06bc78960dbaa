package cluster

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/appliance/state"
)

// Store is a state.Watcher over JetStream key-value buckets, one per
// state bucket (named interdict_<bucket>).
type Store struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	replicas int
	timeout  time.Duration
	log      *slog.Logger
	m        *metrics

	// sendMu makes a write to the cluster and a watch's decision about
	// the same store's queue one step each: a delivered change never
	// meets a write that is both queued and already taken.
	sendMu sync.Mutex
	// keys are the per-key locks of Lock, held by deliver while it
	// settles and applies a change.
	keys keyLocks

	mu  sync.Mutex
	kvs map[string]jetstream.KeyValue
	// seen is the latest revision of each bucket/key this store knows:
	// its own last write or the last change its watch delivered. It is
	// the base of a compare-and-set write, and the watch skips what is
	// not newer (its own echo, or a change it already overwrote).
	seen map[string]uint64
	// resolve settles conflicts per watched bucket (state.Resolve);
	// a bucket without one is written last-writer-wins.
	resolve map[string]state.Resolve
	// pending are writes the cluster did not take (disconnected, no
	// quorum, a conflict not settled yet), latest per bucket/key,
	// flushed in order (seq).
	pending map[string]*write
	seq     uint64
	failing bool // the flusher's last send failed (it logs once)
	// resync is closed (and replaced) on every reconnect: the watches
	// then read every key again from the bucket's latest revision.
	resync chan struct{}

	wake chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

type write struct {
	bucket, key string
	value       []byte
	del         bool
	seq         uint64
}

var _ state.Watcher = (*Store)(nil)

// Options are the run-time dependencies of a Store.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Name names the connection in the servers' monitoring.
	Name string
	// Buckets are created (or found) at Open, so a fleet's state is
	// readable before the appliance admits a flow.
	Buckets []string
	// Own keeps the connection to the given URLs: an embedded member's
	// Store talks to its own server only (cut off with it, not roaming
	// to the servers the cluster announces).
	Own bool
}

// Open connects to NATS (urls: an embedded server's ClientURL or an
// external cluster's) and makes the buckets, retrying until s.Timeout:
// an embedded cluster elects its JetStream leader only once a majority
// of members is up.
func Open(s *Settings, urls []string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	st := &Store{replicas: max(s.Replicas, 1), timeout: s.Timeout, log: o.Logger, m: m,
		kvs: map[string]jetstream.KeyValue{}, seen: map[string]uint64{}, resolve: map[string]state.Resolve{},
		pending: map[string]*write{}, resync: make(chan struct{}),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	nopts := []nats.Option{nats.Name(o.Name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(c *nats.Conn, err error) {
			m.connected.Set(0)
			if c.IsClosed() {
				return
			}
			st.log.Warn("cluster: disconnected from NATS; enforcing what is known, queueing writes", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			m.connected.Set(1)
			st.log.Info("cluster: reconnected to NATS", "server", c.ConnectedUrlRedacted())
			st.mu.Lock()
			close(st.resync)
			st.resync = make(chan struct{})
			st.mu.Unlock()
			st.kick()
		}),
	}
	if o.Own {
		nopts = append(nopts, nats.IgnoreDiscoveredServers(), nats.DontRandomize())
	}
	if s.CredsFile != "" {
		if err := state.CheckPrivate(s.CredsFile); err != nil {
			return nil, fmt.Errorf("cluster: creds_file: %w", err)
		}
		nopts = append(nopts, nats.UserCredentials(s.CredsFile))
	}
	if s.TLS.CA != "" {
		nopts = append(nopts, nats.RootCAs(s.TLS.CA))
	}
	if s.TLS.Cert != "" {
		if err := state.CheckPrivate(s.TLS.Key); err != nil {
			return nil, fmt.Errorf("cluster: tls.key: %w", err)
		}
		nopts = append(nopts, nats.ClientCert(s.TLS.Cert, s.TLS.Key))
	}
	if s.TLS.CA != "" || s.TLS.Cert != "" {
		nopts = append(nopts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nopts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect %s: %w", strings.Join(urls, ","), err)
	}
	st.nc = nc
	if st.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	for _, b := range o.Buckets {
		if _, err = st.bucket(b); err != nil {
			nc.Close()
			return nil, fmt.Errorf("cluster: bucket %s not available after %s (is a majority of the cluster up?): %w", b, s.Timeout, err)
		}
	}
	if nc.IsConnected() {
		m.connected.Set(1)
	}
	st.wg.Add(1)
	go st.flusher()
	return st, nil
}

// Close stops the watches' flusher and closes the connection; writes
// still queued are lost (logged).
func (s *Store) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	n := len(s.pending)
	s.mu.Unlock()
	if n > 0 {
		s.log.Error("cluster: closed with writes the cluster never took", "writes", n)
	}
	s.nc.Close()
}

// opTimeout bounds one request to the cluster: a request JetStream
// cannot answer yet (no leader) is retried, not waited on.
const opTimeout = 2 * time.Second

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), min(s.timeout, opTimeout))
}

// retry runs op with a short deadline until it succeeds, the store's
// timeout passes or the store closes: while the members elect leaders
// (a start, a member lost) a request has no one to answer it yet.
func (s *Store) retry(op func(ctx context.Context) error) error {
	deadline := time.Now().Add(s.timeout)
	for {
		ctx, cancel := s.ctx()
		err := op(ctx)
		cancel()
		if err == nil || !retriable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-s.done:
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// retriable errors are the cluster's not being ready, not answers: a
// JetStream API error with code 503 ("JetStream system temporarily
// unavailable" while a member joins the meta group) included.
func retriable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 503 {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
}

// bucket returns the bucket's key-value store, made on first use.
func (s *Store) bucket(b string) (jetstream.KeyValue, error) {
	s.mu.Lock()
	kv := s.kvs[b]
	s.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	err := s.retry(func(ctx context.Context) (err error) {
		kv, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "interdict_" + b,
			Replicas: s.replicas, History: 1, Storage: jetstream.FileStorage})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.kvs[b] = kv
	s.mu.Unlock()
	return kv, nil
}

// Get implements state.Store; a write still queued is read back.
func (s *Store) Get(bucket, key string) ([]byte, error) {
	s.mu.Lock()
	w := s.pending[bucket+"/"+key]
	s.mu.Unlock()
	if w != nil {
		if w.del {
			return nil, fmt.Errorf("%w: %s/%s", state.ErrNotFound, bucket, key)
		}
		return slices.Clone(w.value), nil
	}
	kv, err := s.bucket(bucket)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	var e jetstream.KeyValueEntry
	err = s.retry(func(ctx context.Context) (err error) {
		e, err = kv.Get(ctx, encodeKey(key))
		return err
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s/%s", state.ErrNotFound, bucket, key)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: get %s/%s: %w", bucket, key, err)
	}
	return e.Value(), nil
}

// Keys implements state.Store, queued writes included.
func (s *Store) Keys(bucket string) ([]string, error) {
	kv, err := s.bucket(bucket)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	var raw []string
	err = s.retry(func(ctx context.Context) (err error) {
		if raw, err = kv.Keys(ctx); errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil
		}
		return err
	})
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, fmt.Errorf("cluster: keys %s: %w", bucket, err)
	}
	set := map[string]bool{}
	for _, k := range raw {
		if d, ok := decodeKey(k); ok {
			set[d] = true
		}
	}
	s.mu.Lock()
	for _, w := range s.pending {
		if w.bucket == bucket {
			set[w.key] = !w.del
		}
	}
	s.mu.Unlock()
	var out []string
	for k, ok := range set {
		if ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Put implements state.Store. The write is queued and sent at once; one
// the cluster does not take stays queued (and is read back by Get) until
// the cluster is back.
func (s *Store) Put(bucket, key string, value []byte) error {
	// A put is never nil, so a conflict tells it from a delete.
	return s.write(&write{bucket: bucket, key: key, value: append([]byte{}, value...)})
}

// Delete implements state.Store, queued as Put.
func (s *Store) Delete(bucket, key string) error {
	return s.write(&write{bucket: bucket, key: key, del: true})
}

// write queues w for the flusher: the caller (often the data path's
// decision) never waits for the cluster, and writes reach it in order.
func (s *Store) write(w *write) error {
	if w.key == "" {
		return fmt.Errorf("cluster: %s: empty key", w.bucket)
	}
	s.mu.Lock()
	s.seq++
	w.seq = s.seq
	s.pending[w.bucket+"/"+w.key] = w
	s.m.pending.Set(float64(len(s.pending)))
	s.mu.Unlock()
	s.kick()
	return nil
}

// flushBatch bounds the writes in flight at once: each waits for the
// cluster's acknowledgement (R3: a majority has it), so one at a time
// took 1,000 quarantines 6 s to send (BenchmarkClusterPropagation/burst).
const flushBatch = 256

// sendBatch publishes the writes of batch a watch has not settled
// meanwhile (dropped or replaced), all at once, and waits for their
// acknowledgements; each taken write's revision is noted and it leaves
// the queue. It returns how many were taken and the first failure that
// is not a conflict.
func (s *Store) sendBatch(batch []*write) (int, error) {
	if !s.nc.IsConnected() {
		return 0, nats.ErrDisconnected
	}
	kvs := make([]jetstream.KeyValue, len(batch))
	for i, w := range batch {
		kv, err := s.bucket(w.bucket)
		if err != nil {
			return 0, err
		}
		kvs[i] = kv
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	type inflight struct {
		w  *write
		id string
		f  jetstream.PubAckFuture
	}
	var fl []inflight
	var first error
	for i, w := range batch {
		id := w.bucket + "/" + w.key
		s.mu.Lock()
		current := s.pending[id] == w
		base, cas := s.seen[id], s.resolve[w.bucket] != nil
		s.mu.Unlock()
		if !current {
			continue
		}
		f, err := s.js.PublishMsgAsync(s.message(kvs[i], w), s.expect(base, cas)...)
		if err != nil {
			first = err
			break
		}
		fl = append(fl, inflight{w: w, id: id, f: f})
	}
	ctx, cancel := s.ctx() // one deadline for the batch's acknowledgements
	defer cancel()
	taken := 0
	for _, x := range fl {
		var rev uint64
		select {
		case ack := <-x.f.Ok():
			rev = ack.Sequence
		case err := <-x.f.Err():
			if !isConflict(err) && first == nil {
				first = err
			}
			continue
		case <-ctx.Done():
			// Unanswered: it may have been taken; a retry's
			// compare-and-set then meets it as a conflict.
			if first == nil {
				first = context.DeadlineExceeded
			}
			continue
		}
		taken++
		s.m.writes.Inc()
		s.mu.Lock()
		if rev > s.seen[x.id] {
			s.seen[x.id] = rev
		}
		if s.pending[x.id] == x.w {
			delete(s.pending, x.id)
		}
		s.m.pending.Set(float64(len(s.pending)))
		s.mu.Unlock()
	}
	return taken, first
}

var _ state.Creator = (*Store)(nil)

// Create implements state.Creator with the bucket's create-if-absent
// (a compare-and-set on "no revision, or a delete"): of two appliances
// creating one key at once, the cluster takes one. It is not queued: a
// reservation the cluster has not taken is no reservation, so a cut-off
// appliance gets an error.
func (s *Store) Create(bucket, key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("cluster: %s: empty key", bucket)
	}
	id := bucket + "/" + key
	s.mu.Lock()
	w := s.pending[id]
	s.mu.Unlock()
	if w != nil && !w.del {
		return fmt.Errorf("%w: %s", state.ErrExists, id)
	}
	if !s.nc.IsConnected() {
		return fmt.Errorf("cluster: create %s: %w", id, nats.ErrDisconnected)
	}
	kv, err := s.bucket(bucket)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	var rev uint64
	err = s.retry(func(ctx context.Context) (err error) {
		rev, err = kv.Create(ctx, encodeKey(key), value)
		return err
	})
	// A key whose last entry is a delete is created on that delete's
	// revision: another appliance creating it first fails that
	// compare-and-set, which kv.Create does not report as ErrKeyExists.
	if errors.Is(err, jetstream.ErrKeyExists) || isConflict(err) {
		return fmt.Errorf("%w: %s", state.ErrExists, id)
	}
	if err != nil {
		return fmt.Errorf("cluster: create %s: %w", id, err)
	}
	s.m.writes.Inc()
	s.mu.Lock()
	// The watch may have delivered it already (the caller then met its
	// own write, which it must take as applied).
	s.seen[id] = max(s.seen[id], rev)
	s.mu.Unlock()
	return nil
}

// kvOperation is the header that marks a key-value delete (ADR-8).
const kvOperation = "KV-Operation"

// message is w as the key-value API publishes it (kv.Update /
// kv.Delete). The store publishes itself because kv.Delete does not
// return the revision of its marker, and reading it back afterwards
// (History) returned another appliance's later write when one came in
// between: this store then took that write for its own echo and never
// applied it, so two hubs ended with different values. The publish
// acknowledgement gives every write's revision.
func (s *Store) message(kv jetstream.KeyValue, w *write) *nats.Msg {
	m := nats.NewMsg("$KV." + kv.Bucket() + "." + encodeKey(w.key))
	if w.del {
		m.Header.Set(kvOperation, "DEL")
	} else {
		m.Data = w.value
	}
	return m
}

// expect makes a write compare-and-set: it is taken only if the key's
// last revision is still base (0: the key was never written).
func (s *Store) expect(base uint64, cas bool) []jetstream.PublishOpt {
	if !cas {
		return nil
	}
	return []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(base)}
}

// isConflict reports a compare-and-set the bucket refused: the key has
// a revision this store has not seen yet. The watch delivers it and
// settles the conflict (deliver); the write waits in the queue.
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func (s *Store) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// flusher writes the queued writes in order when woken (a write, a
// reconnect, a settled conflict) and every second.
func (s *Store) flusher() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-t.C:
		}
		s.flush()
	}
}

// flush sends the queue oldest first, flushBatch writes at a time, and
// stops at the first failure; a write in conflict stays queued for its
// watch to settle and the writes after it go on.
func (s *Store) flush() {
	for {
		s.mu.Lock()
		queue := make([]*write, 0, len(s.pending))
		for _, w := range s.pending {
			queue = append(queue, w)
		}
		s.mu.Unlock()
		slices.SortFunc(queue, func(a, b *write) int { return cmp.Compare(a.seq, b.seq) })
		if len(queue) == 0 {
			return
		}
		taken, err := s.sendBatch(queue[:min(len(queue), flushBatch)])
		if err != nil {
			if !s.failing {
				s.failing = true
				s.log.Warn("cluster: writes queued until the cluster takes them", "err", err)
			}
			return
		}
		s.failing = false
		if taken == 0 {
			return // only conflicts left: the watches settle them
		}
	}
}

// Watch implements state.Watcher.
func (s *Store) Watch(bucket string, fn func(state.Change), resolve state.Resolve) (func(), error) {
	kv, err := s.bucket(bucket)
	if err != nil {
		return nil, fmt.Errorf("cluster: watch %s: %w", bucket, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("cluster: watch %s: %w", bucket, err)
	}
	s.mu.Lock()
	if resolve != nil {
		s.resolve[bucket] = resolve
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.follow(ctx, kv, w, bucket, fn)
	}()
	return func() {
		cancel()
		<-done
		s.mu.Lock()
		delete(s.resolve, bucket) // no one left to settle a conflict
		s.mu.Unlock()
		s.kick()
	}, nil
}

// follow delivers a watch's entries. A watch the connection lost, and
// every watch after a reconnect, is made again: its first values are the
// bucket's latest revision of every key (deletes included), so a hub
// that was cut off ends with what the bucket holds whatever its old
// watch missed; what it knew already is skipped by revision.
func (s *Store) follow(ctx context.Context, kv jetstream.KeyValue, w jetstream.KeyWatcher, bucket string, fn func(state.Change)) {
	for {
		s.mu.Lock()
		resync := s.resync
		s.mu.Unlock()
	read:
		for {
			select {
			case e, ok := <-w.Updates():
				if !ok {
					break read
				}
				if e != nil { // nil ends the initial values
					s.deliver(bucket, e, fn)
				}
			case <-resync:
				break read
			case <-ctx.Done():
				_ = w.Stop()
				return
			}
		}
		_ = w.Stop()
		for {
			var err error
			if w, err = kv.WatchAll(ctx); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// deliver hands fn a change another appliance made. A change to a key
// with a queued write of this store is a conflict: the bucket's
// resolver keeps this store's write (it is then written over the change,
// which is not applied) or drops it and applies the change.
func (s *Store) deliver(bucket string, e jetstream.KeyValueEntry, fn func(state.Change)) {
	key, ok := decodeKey(e.Key())
	if !ok {
		return
	}
	c := state.Change{Bucket: bucket, Key: key, Revision: e.Revision(), Written: e.Created()}
	if e.Operation() == jetstream.KeyValuePut {
		c.Value = e.Value()
		if c.Value == nil {
			c.Value = []byte{}
		}
	} else {
		c.Deleted = true
	}
	id := bucket + "/" + key
	// sendMu first: a caller holding the key lock never waits for a
	// batch's acknowledgements, only for this check and fn.
	s.sendMu.Lock()
	unlock := s.keys.lock(id)
	defer unlock()
	s.mu.Lock()
	if c.Revision <= s.seen[id] {
		// Ours, or older than what this store wrote or applied.
		s.mu.Unlock()
		s.sendMu.Unlock()
		return
	}
	s.seen[id] = c.Revision
	apply := true
	if w := s.pending[id]; w != nil {
		resolve := s.resolve[bucket]
		mine := w.value
		if w.del {
			mine = nil
		}
		switch {
		case resolve == nil:
			apply = false // written last-writer-wins after this change
		case resolve(key, mine, c.Value):
			apply = false
			s.m.conflicts.WithLabelValues("local").Inc()
			s.log.Info("cluster: conflict settled: this appliance's write wins", "bucket", bucket, "key", key, "over_revision", c.Revision)
		default:
			delete(s.pending, id)
			s.m.pending.Set(float64(len(s.pending)))
			s.m.conflicts.WithLabelValues("remote").Inc()
			s.log.Info("cluster: conflict settled: the bucket's value wins", "bucket", bucket, "key", key, "revision", c.Revision)
		}
	}
	s.mu.Unlock()
	s.sendMu.Unlock()
	if !apply {
		s.kick()
		return
	}
	fn(c)
	s.m.applyLag.Observe(time.Since(c.Written).Seconds())
}

// Lock implements state.Watcher.
func (s *Store) Lock(bucket, key string) func() { return s.keys.lock(bucket + "/" + key) }

// keyLocks is a mutex per key, made on demand and dropped when no one
// holds or waits for it, so the map stays as small as the keys in use.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu    sync.Mutex
	users int // holders and waiters
}

func (k *keyLocks) lock(id string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[id]
	if l == nil {
		l = &keyLock{}
		k.m[id] = l
	}
	l.users++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.m, id)
		}
		k.mu.Unlock()
	}
}

// encodeKey maps a state key to the key-value alphabet
// ([A-Za-z0-9_-]; anything else as =XX).
func encodeKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "=%02X", c)
	}
	return b.String()
}

func decodeKey(k string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] != '=' {
			b.WriteByte(k[i])
			continue
		}
		if i+3 > len(k) {
			return "", false
		}
		c, err := strconv.ParseUint(k[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(c))
		i += 2
	}
	return b.String(), true
}
