package appliance

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/prefilter"
)

// minTokenBytes keeps a guessable token off a network listener.
const minTokenBytes = 16

// validateDetection checks the detection, EVE and admin keys.
func (c *Config) validateDetection(s *Settings) error {
	m, err := enforce.ParseMode(c.Mode)
	if err != nil {
		return c.errorf("mode", "%q not supported (want ips or ids)", c.Mode)
	}
	s.Mode, s.FailOpen = m, c.FailOpen

	names := map[string]bool{}
	seen := map[netip.Prefix]string{}
	for i, id := range c.Identities {
		key := "identities." + strconv.Itoa(i)
		if id.Name == "" {
			return c.errorf(key+".name", "empty (every identity needs a name)")
		}
		if names[id.Name] {
			return c.errorf(key+".name", "%q defined twice", id.Name)
		}
		names[id.Name] = true
		if len(id.Prefixes) == 0 {
			return c.errorf(key+".prefixes", "identity %q has no source prefixes", id.Name)
		}
		out := Identity{Name: id.Name}
		for _, tag := range id.Tags {
			if !validTag(tag) {
				return c.errorf(key+".tags", "invalid tag %q (letters, digits, '-', '_', '.', ':' only)", tag)
			}
			out.Tags = append(out.Tags, tag)
		}
		for _, p := range id.Prefixes {
			pp, err := netip.ParsePrefix(p)
			if err != nil {
				return c.errorf(key+".prefixes", "invalid prefix %q (want address/bits, e.g. 10.0.1.0/24)", p)
			}
			pp = pp.Masked()
			if other, dup := seen[pp]; dup {
				return c.errorf(key+".prefixes", "prefix %s already belongs to identity %q", pp, other)
			}
			seen[pp] = id.Name
			out.Prefixes = append(out.Prefixes, pp)
		}
		if id.Mode != "" {
			im, err := enforce.ParseMode(id.Mode)
			if err != nil {
				return c.errorf(key+".mode", "%q not supported (want ips or ids)", id.Mode)
			}
			out.Mode = im
			if s.IdentityModes == nil {
				s.IdentityModes = map[string]enforce.Mode{}
			}
			s.IdentityModes[id.Name] = im
		}
		s.Identities = append(s.Identities, out)
	}

	r := c.Rules
	s.Rules = RuleSettings{
		DefaultPack: r.DefaultPack == nil || *r.DefaultPack, AllowPartial: r.AllowPartial,
		Classification: c.path(r.Classification), ThresholdConfig: c.path(r.ThresholdConfig),
		Vars: map[string]string{}, HTTPBodyLimit: r.HTTPBodyLimit,
	}
	for i, f := range r.Files {
		if f == "" {
			return c.errorf("rules.files", "entry %d is empty", i+1)
		}
		s.Rules.Files = append(s.Rules.Files, c.path(f))
	}
	if !s.Rules.DefaultPack && len(s.Rules.Files) == 0 && s.Handler.Mode == "detect" {
		return c.errorf("rules", "no rules: default_pack is false and files is empty")
	}
	for name, v := range r.Vars {
		n := strings.TrimPrefix(name, "$")
		if n == "" || strings.TrimSpace(v) == "" {
			return c.errorf("rules.vars", "variable %q needs a name and a value", name)
		}
		s.Rules.Vars[n] = v
	}
	if err := c.nonNegative("rules.http_body_limit", r.HTTPBodyLimit); err != nil {
		return err
	}
	if s.Rules.HTTPLimits, err = c.httpLimits("rules.http", r.HTTP); err != nil {
		return err
	}
	for _, port := range r.HTTPPorts {
		if port < 1 || port > 65535 {
			return c.errorf("rules.http_ports", "port %d outside [1, 65535]", port)
		}
		s.Rules.HTTPPorts = append(s.Rules.HTTPPorts, uint16(port))
	}
	switch r.StreamDepthPast {
	case "", "stop":
	case "reject":
		s.Rules.StreamDepthReject = true
	default:
		return c.errorf("rules.stream_depth_past", "%q not supported (want stop or reject)", r.StreamDepthPast)
	}
	if r.Prefilter != "" {
		if s.Rules.Prefilter, err = prefilter.Lookup(r.Prefilter); err != nil {
			return c.errorf("rules.prefilter", "%s", strings.TrimPrefix(err.Error(), "prefilter: "))
		}
	}
	if r.StreamDepth != "" {
		d, err := c.size("rules.stream_depth", r.StreamDepth)
		if err != nil {
			return err
		}
		s.Rules.StreamDepth = d
	}

	s.EVEPath = defaultEVEPath(s.StateDir)
	if c.EVE.Path != nil {
		s.EVEPath = *c.EVE.Path
		if s.EVEPath != "-" {
			s.EVEPath = c.path(s.EVEPath)
		}
	}
	s.StatsInterval = DefaultStatsInterval
	if c.EVE.StatsInterval != "" {
		if s.StatsInterval, err = c.duration("eve.stats_interval", c.EVE.StatsInterval); err != nil {
			return err
		}
	}

	if err := c.eveOptions(s); err != nil {
		return err
	}

	s.AdminSocket = DefaultAdminSocketPath()
	if c.Admin.Socket != nil {
		s.AdminSocket = c.path(*c.Admin.Socket)
	}
	if t := c.Admin.TCP; t.Listen != "" {
		if _, _, err := net.SplitHostPort(t.Listen); err != nil {
			return c.errorf("admin.tcp.listen", "invalid address %q (want host:port)", t.Listen)
		}
		s.AdminTCP = t.Listen
		switch {
		case t.TokenFile != "" && t.TokenEnv != "":
			return c.errorf("admin.tcp.token_file", "set token_file or token_env, not both")
		case t.TokenFile != "":
			b, err := os.ReadFile(c.path(t.TokenFile))
			if err != nil {
				return c.errorf("admin.tcp.token_file", "%v", err)
			}
			s.AdminToken = strings.TrimSpace(string(b))
		case t.TokenEnv != "":
			s.AdminToken = strings.TrimSpace(os.Getenv(t.TokenEnv))
		default:
			return c.errorf("admin.tcp", "a TCP listener needs a bearer token (token_file or token_env)")
		}
		if len(s.AdminToken) < minTokenBytes {
			return c.errorf("admin.tcp", "token is empty or shorter than %d bytes", minTokenBytes)
		}
	}
	return nil
}

// path resolves a relative path against the config file's directory, so
// a config and its rule files can move together.
func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.source == DefaultSource {
		return p
	}
	return filepath.Join(filepath.Dir(c.source), p)
}

// String describes an identity for logs.
func (id Identity) String() string { return fmt.Sprintf("%s %v", id.Name, id.Prefixes) }

// httpLimits validates rules.http: each line or section size at most
// 1 MiB (Go's net/http header bound), so a typo cannot make one flow hold
// gigabytes; decoded bounds bytes that are inspected, not kept.
func (c *Config) httpLimits(key string, h HTTPLimitsConfig) (http1.Limits, error) {
	var l http1.Limits
	for _, f := range []struct {
		name string
		v    string
		dst  *int
	}{
		{"start_line", h.StartLine, &l.StartLine}, {"header_line", h.HeaderLine, &l.HeaderLine},
		{"header_section", h.HeaderSection, &l.HeaderSection}, {"chunk_line", h.ChunkLine, &l.ChunkLine},
	} {
		if f.v == "" {
			continue
		}
		n, err := c.size(key+"."+f.name, f.v)
		if err != nil {
			return l, err
		}
		if n > 1<<20 {
			return l, c.errorf(key+"."+f.name, "%s is over 1MiB", f.v)
		}
		*f.dst = int(n)
	}
	if h.Decoded != "" {
		n, err := c.size(key+".decoded", h.Decoded)
		if err != nil {
			return l, err
		}
		l.Decoded = n
	}
	if h.DecoderMemory != "" {
		n, err := c.size(key+".decoder_memory", h.DecoderMemory)
		if err != nil {
			return l, err
		}
		switch {
		case n == 0:
			l.DecoderMemory = -1 // unlimited, as the config says
		case n < 1<<20:
			// Under one br window of the smallest kind, every compressed
			// body would be refused: a forgotten unit, not a choice.
			return l, c.errorf(key+".decoder_memory", "%s is under 1MiB (0 is unlimited)", h.DecoderMemory)
		default:
			l.DecoderMemory = n
		}
	}
	if h.HeaderCount < 0 || h.HeaderCount > 65536 {
		return l, c.errorf(key+".header_count", "%d outside [0, 65536]", h.HeaderCount)
	}
	l.HeaderCount = h.HeaderCount
	l.FileInfo = h.FileInfo
	return l, nil
}

// validTag accepts the tag spelling policies and the CLI use: a short
// word of letters, digits and - _ . : (so it is safe in logs and URLs).
func validTag(t string) bool {
	if t == "" || len(t) > 64 {
		return false
	}
	for _, r := range t {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ':':
		default:
			return false
		}
	}
	return true
}

// eveOptions validates eve.http and eve.alert; dump_all_headers is the
// HTTP parser's to collect.
func (c *Config) eveOptions(s *Settings) error {
	h := c.EVE.HTTP
	s.EVE.HTTPBasic = h.Extended != nil && !*h.Extended
	switch h.DumpAllHeaders {
	case "", "request", "response", "both":
		s.Rules.HTTPLimits.HeaderLog = h.DumpAllHeaders
	default:
		return c.errorf("eve.http.dump_all_headers", "%q not supported (want request, response or both)", h.DumpAllHeaders)
	}
	var err error
	if s.EVE.HTTPXFF, err = c.xff("eve.http.xff", h.XFF); err != nil {
		return err
	}
	s.EVE.AlertXFF, err = c.xff("eve.alert.xff", c.EVE.Alert.XFF)
	return err
}

func (c *Config) xff(key string, x *EVEXFFConfig) (*eve.XFF, error) {
	if x == nil {
		return nil, nil
	}
	out := &eve.XFF{Mode: x.Mode, Deployment: x.Deployment}
	if err := out.Validate(); err != nil {
		return nil, c.errorf(key, "%v", err)
	}
	return out, nil
}
