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
