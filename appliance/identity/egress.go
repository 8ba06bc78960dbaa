package identity

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	// Schedules name IANA zones; the binary must not depend on the
	// host's zoneinfo (a distroless image has none).
	_ "time/tzdata"

	"github.com/interdict/interdict/netstack"
)

// PolicyConfig is one entry of the "policies" section: the egress an
// identity (or a tag's identities) may reach. The most specific policy
// wins: one naming the identity, then one naming one of its tags, then
// one naming neither (every identity); among equals the first listed.
type PolicyConfig struct {
	// Name names the policy in EVE policy events.
	Name string `yaml:"name"`
	// Identities the policy applies to (with Tags; both empty: every
	// identity without a more specific policy).
	Identities []string `yaml:"identities"`
	// Tags whose identities the policy applies to.
	Tags []string `yaml:"tags"`
	// Mode ips (default) denies; ids only records would-deny events.
	Mode string `yaml:"mode"`
	// Default is deny (default): only the allow list passes; or allow.
	Default string `yaml:"default"`
	// DNS is what a DNS query for a name outside the allow list gets:
	// refuse (an answer with rcode REFUSED, default) or drop.
	DNS string `yaml:"dns"`
	// Allow are the destinations allowed.
	Allow []AllowConfig `yaml:"allow"`
}

// AllowConfig is one allow entry. To is a prefix or address, an exact
// name, or a "*." wildcard name (any name below it, not the name
// itself). Empty Ports and Proto allow any.
type AllowConfig struct {
	// To is a prefix or address, a name, or *.name (names below it).
	To string `yaml:"to"`
	// Ports allowed (empty: any).
	Ports []int `yaml:"ports"`
	// Proto is tcp, udp or any (default).
	Proto string `yaml:"proto"`
	// Methods are the HTTP methods allowed (empty: any).
	Methods []string `yaml:"methods"`
	// Paths are URL path prefixes ("/api/") or globs with * ("/v1/*/status").
	Paths []string `yaml:"paths"`
	// Schedule limits the entry to days and hours.
	Schedule *ScheduleConfig `yaml:"schedule"`
}

// ScheduleConfig limits an entry to days and hours in a time zone.
type ScheduleConfig struct {
	Days  []string `yaml:"days"`  // mon, tue, ... sun; empty is every day
	Hours string   `yaml:"hours"` // "08:00-18:00"; empty is all day
	TZ    string   `yaml:"tz"`    // IANA name, e.g. Europe/Berlin; empty is UTC
}

// Policies is a compiled, immutable set of egress policies.
type Policies struct {
	byIdentity map[string]*egress
	byTag      map[string]*egress
	all        *egress
}

type egress struct {
	name      string
	idx       int
	enforcing bool
	defAllow  bool
	dnsDrop   bool
	entries   []*allowEntry
	exact     map[string][]*allowEntry
	wild      map[string][]*allowEntry // by the suffix after "*."
	prefixes  map[netip.Prefix][]*allowEntry
	v4lens    []int
	v6lens    []int
	// namePorts are the ports a name entry allows (anyNamePort: some name
	// entry allows every port): a flow to such a port may be allowed by
	// its SNI or Host.
	namePorts   map[uint16]bool
	anyNamePort bool
}

type allowEntry struct {
	idx      int
	prefix   netip.Prefix // valid for an address entry
	name     string       // exact name, or the suffix of a wildcard
	wildcard bool
	ports    []uint16
	proto    netstack.Proto // 0: any
	methods  []string
	paths    []string
	sched    *schedule
}

type schedule struct {
	days     [7]bool
	from, to int // minutes of the day; from == to is all day
	loc      *time.Location
}

func (s *schedule) open(now time.Time) bool {
	t := now.In(s.loc)
	if !s.days[t.Weekday()] {
		return false
	}
	if s.from == s.to {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	if s.from < s.to {
		return m >= s.from && m < s.to
	}
	return m >= s.from || m < s.to // over midnight
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// CompilePolicies validates and compiles the policies section; errors are
// *ConfigError with keys like "policies[1].allow[0].to". known reports
// whether an identity name exists (nil: not checked).
func CompilePolicies(list []PolicyConfig, known func(string) bool) (*Policies, error) {
	ps := &Policies{byIdentity: map[string]*egress{}, byTag: map[string]*egress{}}
	names := map[string]bool{}
	for i, pc := range list {
		key := fmt.Sprintf("policies[%d]", i)
		if !validName(pc.Name) {
			return nil, cfgErr(key+".name", "%q: want a short name of letters, digits, '-', '_'", pc.Name)
		}
		if names[pc.Name] {
			return nil, cfgErr(key+".name", "%q names two policies", pc.Name)
		}
		names[pc.Name] = true
		eg := &egress{name: pc.Name, idx: i, enforcing: true, exact: map[string][]*allowEntry{}, wild: map[string][]*allowEntry{},
			prefixes: map[netip.Prefix][]*allowEntry{}, namePorts: map[uint16]bool{}}
		switch pc.Mode {
		case "", "ips":
		case "ids":
			eg.enforcing = false
		default:
			return nil, cfgErr(key+".mode", "%q: want ips or ids", pc.Mode)
		}
		switch pc.Default {
		case "", "deny":
		case "allow":
			eg.defAllow = true
		default:
			return nil, cfgErr(key+".default", "%q: want deny or allow", pc.Default)
		}
		switch pc.DNS {
		case "", "refuse":
		case "drop":
			eg.dnsDrop = true
		default:
			return nil, cfgErr(key+".dns", "%q: want refuse or drop", pc.DNS)
		}
		v4, v6 := map[int]bool{}, map[int]bool{}
		for j, ac := range pc.Allow {
			e, err := compileEntry(fmt.Sprintf("%s.allow[%d]", key, j), j, ac)
			if err != nil {
				return nil, err
			}
			eg.entries = append(eg.entries, e)
			switch {
			case e.prefix.IsValid():
				eg.prefixes[e.prefix] = append(eg.prefixes[e.prefix], e)
				if e.prefix.Addr().Is4() {
					v4[e.prefix.Bits()] = true
				} else {
					v6[e.prefix.Bits()] = true
				}
			case e.wildcard:
				eg.wild[e.name] = append(eg.wild[e.name], e)
			default:
				eg.exact[e.name] = append(eg.exact[e.name], e)
			}
			if !e.prefix.IsValid() {
				if len(e.ports) == 0 {
					eg.anyNamePort = true
				}
				for _, p := range e.ports {
					eg.namePorts[p] = true
				}
			}
		}
		eg.v4lens, eg.v6lens = descending(v4), descending(v6)
		for j, n := range pc.Identities {
			if known != nil && !known(n) {
				return nil, cfgErr(fmt.Sprintf("%s.identities[%d]", key, j), "unknown identity %q", n)
			}
			if _, dup := ps.byIdentity[n]; !dup {
				ps.byIdentity[n] = eg
			}
		}
		for _, t := range pc.Tags {
			if _, dup := ps.byTag[t]; !dup {
				ps.byTag[t] = eg
			}
		}
		if len(pc.Identities) == 0 && len(pc.Tags) == 0 && ps.all == nil {
			ps.all = eg
		}
	}
	return ps, nil
}

func compileEntry(key string, idx int, ac AllowConfig) (*allowEntry, error) {
	e := &allowEntry{idx: idx}
	to := strings.TrimSpace(ac.To)
	switch {
	case to == "":
		return nil, cfgErr(key+".to", "missing (a prefix, an address, a name or *.name)")
	case strings.ContainsAny(to, ":/") || isAddrLike(to):
		if p, err := netip.ParsePrefix(to); err == nil {
			e.prefix = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked()
		} else if a, err := netip.ParseAddr(to); err == nil {
			a = a.Unmap()
			e.prefix = netip.PrefixFrom(a, a.BitLen())
		} else {
			return nil, cfgErr(key+".to", "invalid prefix %q (want e.g. 10.0.0.0/8 or an address)", to)
		}
	default:
		name := strings.ToLower(strings.TrimSuffix(to, "."))
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			e.wildcard, name = true, rest
		}
		if !validHostname(name) {
			return nil, cfgErr(key+".to", "invalid name %q (want host.example.com or *.example.com)", to)
		}
		e.name = name
	}
	for _, p := range ac.Ports {
		if p < 1 || p > 65535 {
			return nil, cfgErr(key+".ports", "%d outside [1, 65535]", p)
		}
		e.ports = append(e.ports, uint16(p))
	}
	switch strings.ToLower(ac.Proto) {
	case "", "any":
	case "tcp":
		e.proto = netstack.TCP
	case "udp":
		e.proto = netstack.UDP
	default:
		return nil, cfgErr(key+".proto", "%q: want tcp, udp or any", ac.Proto)
	}
	for _, m := range ac.Methods {
		if m == "" || strings.ContainsAny(m, " \t\r\n") {
			return nil, cfgErr(key+".methods", "invalid method %q", m)
		}
		e.methods = append(e.methods, strings.ToUpper(m))
	}
	for _, p := range ac.Paths {
		if !strings.HasPrefix(p, "/") {
			return nil, cfgErr(key+".paths", "%q: a path starts with /", p)
		}
		if _, err := path.Match(p, "/"); err != nil {
			return nil, cfgErr(key+".paths", "%q: %v", p, err)
		}
		e.paths = append(e.paths, p)
	}
	if (len(e.methods) > 0 || len(e.paths) > 0) && e.proto == netstack.UDP {
		return nil, cfgErr(key+".proto", "methods and paths need tcp (HTTP)")
	}
	if sc := ac.Schedule; sc != nil {
		s, err := compileSchedule(key+".schedule", sc)
		if err != nil {
			return nil, err
		}
		e.sched = s
	}
	return e, nil
}

func compileSchedule(key string, sc *ScheduleConfig) (*schedule, error) {
	s := &schedule{loc: time.UTC}
	if sc.TZ != "" {
		loc, err := time.LoadLocation(sc.TZ)
		if err != nil || sc.TZ == "Local" {
			return nil, cfgErr(key+".tz", "unknown time zone %q (want an IANA name, e.g. Europe/Berlin)", sc.TZ)
		}
		s.loc = loc
	}
	if len(sc.Days) == 0 {
		s.days = [7]bool{true, true, true, true, true, true, true}
	}
	for _, d := range sc.Days {
		lo := strings.ToLower(d)
		if from, to, ok := strings.Cut(lo, "-"); ok {
			a, okA := dayNames[from]
			b, okB := dayNames[to]
			if !okA || !okB {
				return nil, cfgErr(key+".days", "%q: want mon..sun or a range such as mon-fri", d)
			}
			for w := a; ; w = (w + 1) % 7 {
				s.days[w] = true
				if w == b {
					break
				}
			}
			continue
		}
		w, ok := dayNames[lo]
		if !ok {
			return nil, cfgErr(key+".days", "%q: want mon..sun or a range such as mon-fri", d)
		}
		s.days[w] = true
	}
	if sc.Hours != "" {
		from, to, ok := strings.Cut(sc.Hours, "-")
		a, errA := minutes(from)
		b, errB := minutes(to)
		if !ok || errA != nil || errB != nil {
			return nil, cfgErr(key+".hours", "%q: want HH:MM-HH:MM, e.g. 08:00-18:00", sc.Hours)
		}
		s.from, s.to = a, b
	}
	return s, nil
}

func minutes(hhmm string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(hhmm), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time %q", hhmm)
	}
	return (hh*60 + mm) % (24 * 60), nil
}

// isAddrLike is true for dotted digits: "10.0.0" is a bad address, not
// a name.
func isAddrLike(s string) bool {
	return strings.Trim(s, "0123456789.") == ""
}

func validHostname(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// lookup returns the policy of an identity, nil if none applies.
func (ps *Policies) lookup(id *Identity) *egress {
	if ps == nil {
		return nil
	}
	if eg, ok := ps.byIdentity[id.Name]; ok {
		return eg
	}
	var best *egress
	for _, t := range id.Tags {
		if eg, ok := ps.byTag[t]; ok && (best == nil || eg.idx < best.idx) {
			best = eg
		}
	}
	if best != nil {
		return best
	}
	return ps.all
}

// l4 outcomes.
const (
	l4Deny = iota
	l4Allow
	l4NeedL7 // the first bytes decide (SNI, Host, method, path)
)

func (e *allowEntry) l4ok(port uint16, proto netstack.Proto, now time.Time) bool {
	if e.proto != 0 && e.proto != proto {
		return false
	}
	if len(e.ports) > 0 && !slices.Contains(e.ports, port) {
		return false
	}
	return e.sched == nil || e.sched.open(now)
}

func (e *allowEntry) needsL7() bool { return len(e.methods) > 0 || len(e.paths) > 0 }

// byAddr calls fn with the address entries holding a, most specific
// first, until fn returns true.
func (eg *egress) byAddr(a netip.Addr, fn func(*allowEntry) bool) bool {
	lens := eg.v6lens
	if a.Is4() {
		lens = eg.v4lens
	}
	for _, bits := range lens {
		p, err := a.Prefix(bits)
		if err != nil {
			continue
		}
		for _, e := range eg.prefixes[p] {
			if fn(e) {
				return true
			}
		}
	}
	return false
}

// byName calls fn with the name entries matching name (exact, then
// wildcards from the closest parent up) until fn returns true.
func (eg *egress) byName(name string, fn func(*allowEntry) bool) bool {
	for _, e := range eg.exact[name] {
		if fn(e) {
			return true
		}
	}
	for i := strings.IndexByte(name, '.'); i >= 0; {
		suffix := name[i+1:]
		for _, e := range eg.wild[suffix] {
			if fn(e) {
				return true
			}
		}
		j := strings.IndexByte(suffix, '.')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
}

// nameAllowed reports whether some name entry allows name at all (any
// port): what a DNS query for it needs.
func (eg *egress) nameAllowed(name string) bool {
	return eg.defAllow || eg.byName(name, func(*allowEntry) bool { return true })
}

// decideL4 decides a new flow by its address, port and protocol, and by
// the names a DNS answer the appliance forwarded gave that address
// (resolved). It returns the outcome and, for l4Allow, the entry.
func (eg *egress) decideL4(dst netip.AddrPort, proto netstack.Proto, now time.Time, resolved []cachedName) (int, *allowEntry, string) {
	a, port := dst.Addr().Unmap(), dst.Port()
	var allow *allowEntry
	needL7 := false
	check := func(e *allowEntry) bool {
		if !e.l4ok(port, proto, now) {
			return false
		}
		if e.needsL7() {
			needL7 = true
			return false
		}
		allow = e
		return true
	}
	if eg.byAddr(a, check) {
		return l4Allow, allow, ""
	}
	for _, r := range resolved {
		if !now.Before(r.until) {
			continue
		}
		if eg.byName(r.name, check) {
			return l4Allow, allow, r.name
		}
	}
	if proto == netstack.TCP && (eg.anyNamePort || eg.namePorts[port]) {
		needL7 = true
	}
	if needL7 {
		return l4NeedL7, nil, ""
	}
	return l4Deny, nil, ""
}

// decideL7 decides a TCP flow (or one HTTP request of it) by the name it
// shows (SNI or Host; "" if none), the method and path ("" for TLS).
func (eg *egress) decideL7(dst netip.AddrPort, now time.Time, name, method, reqPath string, resolved []cachedName) (*allowEntry, bool) {
	a, port := dst.Addr().Unmap(), dst.Port()
	if !canonicalPath(reqPath) {
		reqPath = "" // matches no entry with paths
	}
	var allow *allowEntry
	check := func(e *allowEntry) bool {
		if !e.l4ok(port, netstack.TCP, now) || !e.l7ok(method, reqPath) {
			return false
		}
		allow = e
		return true
	}
	if eg.byAddr(a, check) {
		return allow, true
	}
	if name != "" {
		return allow, eg.byName(name, check)
	}
	for _, r := range resolved {
		if now.Before(r.until) && eg.byName(r.name, check) {
			return allow, true
		}
	}
	return nil, false
}

// canonicalPath reports whether a request path is one a server reads as
// written: no dot segments, empty segments, backslashes or encoded dots,
// slashes and backslashes, which servers resolve to another path
// (/v1/../admin is /admin) after a prefix such as /v1/ matched.
func canonicalPath(p string) bool {
	if p == "" {
		return true
	}
	if !strings.HasPrefix(p, "/") || strings.ContainsRune(p, '\\') {
		return false
	}
	clean := path.Clean(p)
	if clean != p && clean+"/" != p {
		return false
	}
	for rest := p; ; {
		i := strings.IndexByte(rest, '%')
		if i < 0 {
			return true
		}
		if len(rest) < i+3 {
			return false
		}
		switch strings.ToLower(rest[i+1 : i+3]) {
		case "2e", "2f", "5c":
			return false
		}
		rest = rest[i+3:]
	}
}

func (e *allowEntry) l7ok(method, reqPath string) bool {
	if len(e.methods) > 0 && !slices.Contains(e.methods, method) {
		return false
	}
	if len(e.paths) == 0 {
		return true
	}
	if reqPath == "" {
		return false
	}
	for _, p := range e.paths {
		if strings.ContainsAny(p, "*?[") {
			if ok, _ := path.Match(p, reqPath); ok {
				return true
			}
			continue
		}
		if strings.HasPrefix(reqPath, p) {
			return true
		}
	}
	return false
}
