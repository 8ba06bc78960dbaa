package identity

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/netstack"
)

// maxObservations bounds what is remembered per identity; past it new
// destinations are counted as dropped, not stored.
const maxObservations = 1024

const bucketObservations = "observations"

// Observation is one destination an identity reached under an egress
// policy: a name (SNI, Host, or a DNS answer the appliance forwarded) or
// an address, with port and protocol, and for HTTP the method and the
// first path segment.
type Observation struct {
	To     string    `json:"to"`
	Port   uint16    `json:"port"`
	Proto  string    `json:"proto"`
	Method string    `json:"method,omitempty"`
	Path   string    `json:"path,omitempty"` // "/v1/", or "/" for the root
	Count  uint64    `json:"count"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
}

// Observations are an identity's, as stored.
type Observations struct {
	Identity string        `json:"identity"`
	Tags     []string      `json:"tags,omitempty"`
	Dropped  uint64        `json:"dropped,omitempty"`
	List     []Observation `json:"observations"`
}

// obsKey is an observation's identity. An address is kept as a
// netip.Addr and the protocol as its number, so that counting a flow to
// a known destination (every flow under a policy) allocates nothing.
type obsKey struct {
	name   string
	addr   netip.Addr // when no name was seen
	port   uint16
	proto  netstack.Proto
	method string
	path   string
}

func (k obsKey) to() string {
	if k.name != "" {
		return k.name
	}
	return k.addr.String()
}

func protoName(p netstack.Proto) string {
	switch p {
	case netstack.TCP:
		return "tcp"
	case netstack.UDP:
		return "udp"
	}
	return strings.ToLower(p.String())
}

type identObs struct {
	tags    []string
	m       map[obsKey]*Observation
	dropped uint64
	dirty   bool
}

// learner keeps observations in memory and writes dirty ones to the
// store on Flush.
type learner struct {
	mu sync.Mutex
	m  map[string]*identObs
}

// observe counts a destination of id: its name if one was seen, else
// its address.
func (e *Engine) observe(id *Identity, name string, addr netip.Addr, port uint16, proto netstack.Proto, method, reqPath string) {
	k := obsKey{name: name, port: port, proto: proto, method: method}
	if name == "" {
		k.addr = addr
	}
	if method != "" {
		k.path = firstSegment(reqPath)
	}
	now := e.clock.Now()
	l := &e.learn
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*identObs{}
	}
	io := l.m[id.Name]
	if io == nil {
		io = &identObs{m: map[obsKey]*Observation{}}
		l.m[id.Name] = io
		e.loadObservations(id.Name, io)
	}
	io.tags = id.Tags
	io.dirty = true
	if o, ok := io.m[k]; ok {
		o.Count++
		o.Last = now
		return
	}
	if len(io.m) >= maxObservations {
		io.dropped++
		return
	}
	io.m[k] = &Observation{To: k.to(), Port: k.port, Proto: protoName(k.proto), Method: k.method, Path: k.path, Count: 1, First: now, Last: now}
}

// loadObservations merges what an earlier run stored; l.mu is held.
func (e *Engine) loadObservations(name string, io *identObs) {
	if e.store == nil {
		return
	}
	b, err := e.store.Get(bucketObservations, name)
	if err != nil {
		return
	}
	var obs Observations
	if json.Unmarshal(b, &obs) != nil {
		return
	}
	io.dropped = obs.Dropped
	for _, o := range obs.List {
		o := o
		k := obsKey{port: o.Port, method: o.Method, path: o.Path}
		switch o.Proto {
		case "tcp":
			k.proto = netstack.TCP
		case "udp":
			k.proto = netstack.UDP
		}
		if a, err := netip.ParseAddr(o.To); err == nil {
			k.addr = a
		} else {
			k.name = o.To
		}
		if len(io.m) < maxObservations {
			io.m[k] = &o
		}
	}
}

// FlushObservations writes the observations changed since the last
// flush to the store; the sweeper calls it every SweepEvery.
func (e *Engine) FlushObservations() {
	if e.store == nil {
		return
	}
	type out struct {
		name string
		b    []byte
	}
	var outs []out
	e.learn.mu.Lock()
	for name, io := range e.learn.m {
		if !io.dirty {
			continue
		}
		io.dirty = false
		obs := Observations{Identity: name, Tags: io.tags, Dropped: io.dropped}
		for _, o := range io.m {
			obs.List = append(obs.List, *o)
		}
		slices.SortFunc(obs.List, func(a, b Observation) int { return cmp.Compare(a.To, b.To) })
		if b, err := json.Marshal(obs); err == nil {
			outs = append(outs, out{name, b})
		}
	}
	e.learn.mu.Unlock()
	for _, o := range outs {
		if err := e.store.Put(bucketObservations, o.name, o.b); err != nil {
			e.log.Error("identity: state: observations not stored", "identity", o.name, "err", err)
		}
	}
}

// firstSegment is "/v1/" of "/v1/jobs/7", "/" of "/" or "/status".
func firstSegment(p string) string {
	if len(p) < 2 || p[0] != '/' {
		return "/"
	}
	if i := strings.IndexByte(p[1:], '/'); i >= 0 {
		return p[:i+2]
	}
	return "/"
}

// LoadObservations reads the stored observations of the named
// identities, or of every identity that carries tag.
func LoadObservations(st state.Store, name, tag string) ([]Observations, error) {
	var keys []string
	if name != "" {
		keys = []string{name}
	} else {
		var err error
		if keys, err = st.Keys(bucketObservations); err != nil {
			return nil, err
		}
	}
	var out []Observations
	for _, k := range keys {
		b, err := st.Get(bucketObservations, k)
		if errors.Is(err, state.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var obs Observations
		if err := json.Unmarshal(b, &obs); err != nil {
			return nil, fmt.Errorf("observations of %q: %w", k, err)
		}
		if tag != "" && !slices.Contains(obs.Tags, tag) {
			continue
		}
		out = append(out, obs)
	}
	return out, nil
}

// minSiblings is how many names under one parent make a "*." wildcard.
const minSiblings = 3

// Suggest turns observations seen since `since` into an allow list in the
// config's own syntax (a policies entry named name, for the identity or
// tag). Names are collapsed into "*.parent" when at least minSiblings
// names under the same parent were reached on the same port and protocol,
// and the parent has at least two labels (of which, when there are only
// two, the first is longer than three characters), so "*.co.uk" or
// "*.com.au" are never suggested.
func Suggest(obs []Observations, since time.Time, policyName, identity, tag string) string {
	type dest struct {
		to, proto string
		port      uint16
	}
	type httpKey struct {
		dest
		path string
	}
	plain := map[dest]bool{}
	httpMethods := map[httpKey]map[string]bool{}
	for _, o := range obs {
		for _, x := range o.List {
			if x.Last.Before(since) {
				continue
			}
			d := dest{x.To, x.Proto, x.Port}
			if x.Method != "" {
				k := httpKey{d, x.Path}
				if httpMethods[k] == nil {
					httpMethods[k] = map[string]bool{}
				}
				httpMethods[k][x.Method] = true
				continue
			}
			plain[d] = true
		}
	}
	// HTTP destinations are allowed with their methods and paths only;
	// a name reached both ways keeps its plain entry too.
	type parentKey struct {
		parent, proto string
		port          uint16
	}
	siblings := map[parentKey][]string{}
	for d := range plain {
		if isName(d.to) {
			if p, ok := wildcardParent(d.to); ok {
				k := parentKey{p, d.proto, d.port}
				siblings[k] = append(siblings[k], d.to)
			}
		}
	}
	for k, names := range siblings {
		if len(names) < minSiblings {
			continue
		}
		for _, n := range names {
			delete(plain, dest{n, k.proto, k.port})
		}
		plain[dest{"*." + k.parent, k.proto, k.port}] = true
	}
	var lines []string
	for d := range plain {
		lines = append(lines, entryLine(d.to, d.port, d.proto, nil, ""))
	}
	for k, ms := range httpMethods {
		methods := make([]string, 0, len(ms))
		for m := range ms {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		lines = append(lines, entryLine(k.to, k.port, k.proto, methods, k.path))
	}
	slices.Sort(lines)
	var b strings.Builder
	b.WriteString("policies:\n")
	fmt.Fprintf(&b, "  - name: %s\n", policyName)
	if identity != "" {
		fmt.Fprintf(&b, "    identities: [%s]\n", identity)
	}
	if tag != "" {
		fmt.Fprintf(&b, "    tags: [%s]\n", tag)
	}
	b.WriteString("    default: deny\n")
	if len(lines) == 0 {
		b.WriteString("    allow: []\n")
		return b.String()
	}
	b.WriteString("    allow:\n")
	for _, l := range lines {
		b.WriteString("      - " + l + "\n")
	}
	return b.String()
}

func entryLine(to string, port uint16, proto string, methods []string, reqPath string) string {
	if !isName(to) {
		if a, err := netip.ParseAddr(to); err == nil {
			to = netip.PrefixFrom(a, a.BitLen()).String()
		}
	}
	parts := []string{"to: " + strconv.Quote(to), "ports: [" + strconv.Itoa(int(port)) + "]", "proto: " + proto}
	if len(methods) > 0 {
		parts = append(parts, "methods: ["+strings.Join(methods, ", ")+"]")
	}
	if reqPath != "" {
		parts = append(parts, "paths: ["+strconv.Quote(reqPath)+"]")
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func isName(to string) bool {
	_, err := netip.ParseAddr(to)
	return err != nil
}

func wildcardParent(name string) (string, bool) {
	i := strings.IndexByte(name, '.')
	if i < 0 {
		return "", false
	}
	parent := name[i+1:]
	labels := strings.Split(parent, ".")
	if len(labels) < 2 || (len(labels) == 2 && len(labels[0]) <= 3) {
		return "", false
	}
	return parent, true
}
