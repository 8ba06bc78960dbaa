package appliance

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/interdict/interdict/appliance/cluster"
	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/policy"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/configs"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/interdict/interdict/netstack"
	"go.yaml.in/yaml/v4"
)

// Config is the appliance configuration as written in YAML. Durations and
// addresses are kept as strings here and parsed by Validate, so every bad
// value is reported with its file and line.
type Config struct {
	Link     LinkConfig     `yaml:"link"`
	Upstream UpstreamConfig `yaml:"upstream"`
	Limits   LimitsConfig   `yaml:"limits"`
	Handler  HandlerConfig  `yaml:"handler"`
	Metrics  MetricsConfig  `yaml:"metrics"`
	Log      LogConfig      `yaml:"log"`

	// Mode is the default inspection mode: ips enforces, ids only logs
	// what it would have done.
	Mode string `yaml:"mode"`
	// FailOpen passes a flow whose inspection failed instead of
	// resetting it.
	FailOpen   bool             `yaml:"fail_open"`
	Identities []IdentityConfig `yaml:"identities"`
	Rules      RulesConfig      `yaml:"rules"`
	EVE        EVEConfig        `yaml:"eve"`
	Admin      AdminConfig      `yaml:"admin"`
	// Policy is the inline policy in front of inspection: block lists,
	// rule consequences, rate limits, protocol validation.
	Policy policy.Config `yaml:"policy"`
	// StateDir keeps what outlives a restart (the WireGuard key, peers
	// added at runtime, interruptions, offences); empty is
	// state.DefaultDir().
	StateDir string `yaml:"state_dir"`
	// Interruption pauses and quarantines identities on triggers.
	Interruption identity.InterruptConfig `yaml:"interruption"`
	// Policies are the per-identity egress allow lists.
	Policies []identity.PolicyConfig `yaml:"policies"`
	// Tokens binds cleartext HTTP credentials to identities.
	Tokens identity.TokensConfig `yaml:"tokens"`

	// Cluster shares interruptions and token bindings with a fleet
	// (docs/cluster.md).
	Cluster cluster.Config `yaml:"cluster"`

	// source names the file (or "default.yaml (embedded)") in errors.
	source string
	root   *yaml.Node
}

// LinkConfig is the client-facing link.
type LinkConfig struct {
	// Mode is "wireguard" (a hub: peers are identities, no privileges)
	// or "tun" (an OS TUN device, CAP_NET_ADMIN).
	Mode      string          `yaml:"mode"`
	TUN       TUNConfig       `yaml:"tun"`
	WireGuard WireGuardConfig `yaml:"wireguard"`
}

// TUNConfig describes a TUN device (tunnel/tun.Config).
type TUNConfig struct {
	// Name is the device name (1-15 characters).
	Name string `yaml:"name"`
	// Addresses are prefixes assigned to the device (address/bits).
	Addresses []string `yaml:"addresses"`
	// MTU of the device, 1280-65535.
	MTU int `yaml:"mtu"`
	// Queues is the number of TUN queues, one reader each (0-64).
	Queues int `yaml:"queues"`
	// TxQueueLen is the kernel's transmit queue length of the device.
	TxQueueLen int `yaml:"txqueuelen"`
}

// UpstreamConfig chooses how the upstream leg leaves the appliance.
type UpstreamConfig struct {
	// Mode is "host" (host sockets, netstack.HostDialer) or "transparent"
	// (a second TUN; upstream packets keep the client's source address).
	Mode        string            `yaml:"mode"`
	Host        HostUpstream      `yaml:"host"`
	Transparent TransparentConfig `yaml:"transparent"`
}

// HostUpstream configures netstack.HostDialer.
type HostUpstream struct {
	Mark       uint32 `yaml:"mark"`
	BindDevice string `yaml:"bind_device"`
}

// TransparentConfig is the upstream TUN of the transparent mode.
type TransparentConfig struct {
	TUN TUNConfig `yaml:"tun"`
}

// LimitsConfig bounds the data path (netstack.Limits); zero or absent
// keys keep netstack's defaults.
type LimitsConfig struct {
	// MaxFlows bounds the flow table (TCP and UDP together).
	MaxFlows int `yaml:"max_flows"`
	// MaxUDPSessions bounds live UDP sessions.
	MaxUDPSessions int `yaml:"max_udp_sessions"`
	// SYNInFlight bounds handshakes being decided (policy, upstream dial)
	// at once; further SYNs are ignored and the client retransmits.
	SYNInFlight int `yaml:"syn_in_flight"`
	// SYNPerSource bounds in-flight handshakes per client address, so one
	// scanner cannot use up SYNInFlight.
	SYNPerSource int `yaml:"syn_in_flight_per_source"`
	// DialTimeout bounds the upstream dial done before the client's
	// handshake completes.
	DialTimeout string `yaml:"dial_timeout"`
	// TCPIdle ends a TCP flow with no bytes either way for this long.
	TCPIdle string `yaml:"tcp_idle"`
	// UDPIdle ends a UDP session with no datagram for this long.
	UDPIdle string `yaml:"udp_idle"`
	// DNSIdle replaces UDPIdle for sessions to port 53.
	DNSIdle  string `yaml:"dns_idle"`
	TimeWait string `yaml:"time_wait"`
	// MaxGuardEntries bounds the packet guard's block list and blackhole
	// table each.
	MaxGuardEntries int `yaml:"max_guard_entries"`
	// SYNPerPrefix bounds in-flight handshakes per source /24 (IPv6 /64);
	// reaching it switches to validating clients first, as SYNPressure.
	SYNPerPrefix int `yaml:"syn_in_flight_per_prefix"`
	// SYNPressure is the number of handshakes in flight at which clients
	// are validated with SYN cookies before the upstream is dialled
	// (netstack/synflood.go); up to this many spoofed SYNs are dialled
	// before the switch.
	SYNPressure int `yaml:"syn_pressure"`
	// ValidateFirst is when clients complete their handshake before the
	// upstream is dialled: "pressure" (default) only past syn_pressure,
	// "always" for every client, so no spoofed SYN ever reaches the
	// server (a refused upstream then resets the connected client).
	ValidateFirst string `yaml:"validate_first"`
	// SYNCookieRate bounds the SYNs a second answered with a cookie
	// while validating first.
	SYNCookieRate int `yaml:"syn_cookie_rate"`
	// HandshakeTimeout ends a half-open client handshake.
	HandshakeTimeout string `yaml:"handshake_timeout"`
	// HoldLimit bounds, in bytes per direction of a flow, what inspection
	// may keep unsent while it waits for the rest of a TLS ClientHello or
	// HTTP request head split over reads (default 64 KiB).
	HoldLimit int `yaml:"hold_limit"`
	// HoldFailOpen forwards bytes still held undecided at hold_limit or
	// at the end of the stream; by default the flow is rejected.
	HoldFailOpen bool `yaml:"hold_fail_open"`
}

// HandlerConfig chooses the flow handler until the inspection engine is
// wired: "pass" forwards everything uninspected, "pattern" applies Verdict
// to any flow whose byte stream contains Pattern (netstack.PatternHandler).
type HandlerConfig struct {
	Mode string `yaml:"mode"`
	// Pattern is the bytes the pattern handler looks for.
	Pattern string `yaml:"pattern"`
	// Verdict is what the pattern handler gives a flow that contains
	// Pattern.
	Verdict string `yaml:"verdict"`
}

// IdentityConfig names the clients of some source prefixes (TUN mode) and
// optionally overrides their inspection mode.
type IdentityConfig struct {
	// Name is the identity's name in EVE, the admin API and metrics.
	Name string `yaml:"name"`
	// Prefixes are the client source prefixes of the identity.
	Prefixes []string `yaml:"prefixes"`
	// Tags group identities for policy (e.g. ci, deploy).
	Tags []string `yaml:"tags"`
	// Mode (ips or ids) overrides the default mode for the identity.
	Mode string `yaml:"mode"`
}

// RulesConfig says which rules the detection engine runs.
type RulesConfig struct {
	// Files are Suricata rule files, loaded after the default pack.
	Files []string `yaml:"files"`
	// DefaultPack loads the embedded pack (configs/rules); absent is true.
	DefaultPack *bool `yaml:"default_pack"`
	// Classification is a classification.config; empty uses the pack's
	// when the pack is loaded.
	Classification  string            `yaml:"classification"`
	ThresholdConfig string            `yaml:"threshold_config"`
	Vars            map[string]string `yaml:"vars"`
	// AllowPartial accepts a reload in which some rules were rejected.
	AllowPartial bool `yaml:"allow_partial"`
	// HTTPBodyLimit bounds the HTTP body bytes inspected per message.
	HTTPBodyLimit int `yaml:"http_body_limit"`
	// HTTP bounds the HTTP parser (see configs/default.yaml).
	HTTP HTTPLimitsConfig `yaml:"http"`
	// HTTPPorts are server ports expected to carry HTTP.
	HTTPPorts []int `yaml:"http_ports"`
	// StreamDepth bounds the bytes per TCP direction raw-stream rules
	// inspect (a size: 1MiB, 512KiB, 1048576; 0 is unlimited).
	StreamDepth string `yaml:"stream_depth"`
	// StreamDepthPast is what happens past stream_depth on a flow no
	// parser recognised: stop (inspecting) or reject.
	StreamDepthPast string `yaml:"stream_depth_past"`
	// Prefilter names the multi-pattern engine: auto (fdr), fdr, ac,
	// naive, or hyperscan in a binary built with it.
	Prefilter string `yaml:"prefilter"`
}

// HTTPLimitsConfig bounds the HTTP parser (inspect/http1.Limits): sizes
// such as 16KiB; empty or 0 keeps the parser's default.
type HTTPLimitsConfig struct {
	StartLine     string `yaml:"start_line"`
	HeaderLine    string `yaml:"header_line"`
	HeaderCount   int    `yaml:"header_count"`
	HeaderSection string `yaml:"header_section"`
	ChunkLine     string `yaml:"chunk_line"`
	Decoded       string `yaml:"decoded"`
	FileInfo      bool   `yaml:"fileinfo"`
	// DecoderMemory bounds the body decoders of all flows together; "0"
	// is unlimited, empty the parser's default.
	DecoderMemory string `yaml:"decoder_memory"`
}

// EVEConfig is the EVE JSON sink.
type EVEConfig struct {
	// Path is the file events are appended to, "-" for stdout, "" to
	// disable; absent is DefaultEVEPath when this user may write there,
	// else eve.json in state_dir.
	Path          *string `yaml:"path"`
	StatsInterval string  `yaml:"stats_interval"`
	// HTTP are options of http records, as Suricata's eve-log http type
	// has them.
	HTTP EVEHTTPConfig `yaml:"http"`
	// Alert are options of alert records (Suricata's eve-log alert type).
	Alert EVEAlertConfig `yaml:"alert"`
}

// EVEHTTPConfig is Suricata's eve-log http options.
type EVEHTTPConfig struct {
	// Extended adds http_refer, http_method, protocol, status, redirect
	// and length to the basic fields (absent: true, as Suricata's
	// default configuration).
	Extended *bool `yaml:"extended"`
	// DumpAllHeaders logs every header of the request, the response or
	// both (request_headers, response_headers).
	DumpAllHeaders string        `yaml:"dump_all_headers"`
	XFF            *EVEXFFConfig `yaml:"xff"`
}

// EVEAlertConfig is Suricata's eve-log alert options.
type EVEAlertConfig struct {
	XFF *EVEXFFConfig `yaml:"xff"`
}

// EVEXFFConfig logs the client address a reverse proxy put in
// X-Forwarded-For: mode extra-data (an xff field) or overwrite (in place
// of the address of the side the data came from); deployment reverse
// (the header's last address) or forward (its first).
type EVEXFFConfig struct {
	// Mode is extra-data (an xff field; the default) or overwrite (the
	// address replaces src_ip, or dest_ip for data to the client).
	Mode string `yaml:"mode"`
	// Deployment is reverse (the header's last address, the one the
	// proxy in front of the servers added; the default) or forward (its
	// first).
	Deployment string `yaml:"deployment"`
}

// AdminConfig is the admin API.
type AdminConfig struct {
	// Socket is the unix socket path; "" disables it; absent is
	// DefaultAdminSocket when this user may create it, else
	// $XDG_RUNTIME_DIR/interdict/admin.sock, else admin.sock in state_dir.
	Socket *string        `yaml:"socket"`
	TCP    AdminTCPConfig `yaml:"tcp"`
}

// AdminTCPConfig is the optional TCP listener of the admin API. It needs a
// bearer token, read from TokenFile or the environment variable TokenEnv.
type AdminTCPConfig struct {
	Listen string `yaml:"listen"`
	// TokenFile holds the bearer token (16 bytes or more).
	TokenFile string `yaml:"token_file"`
	// TokenEnv names the environment variable that holds the token.
	TokenEnv string `yaml:"token_env"`
}

// MetricsConfig is the Prometheus endpoint; an empty Listen disables it.
type MetricsConfig struct {
	Listen string `yaml:"listen"`
}

// LogConfig sets the slog handler.
type LogConfig struct {
	Format string `yaml:"format"` // text | json
	Level  string `yaml:"level"`  // debug | info | warn | error
}

// Settings is a validated Config with every value parsed.
type Settings struct {
	// LinkMode is "tun" or "wireguard"; Link or WireGuard holds its
	// settings.
	LinkMode    string
	Link        TUNSettings
	WireGuard   WireGuardSettings
	Upstream    string // "host" or "transparent"
	Host        netstack.HostDialer
	Transparent TUNSettings
	Limits      netstack.Limits
	Handler     HandlerConfig
	Verdict     netstack.Verdict
	Metrics     string
	LogFormat   string
	LogLevel    string

	Mode          enforce.Mode
	FailOpen      bool
	Identities    []Identity
	IdentityModes map[string]enforce.Mode
	Rules         RuleSettings
	EVEPath       string // "" disabled, "-" stdout
	StatsInterval time.Duration
	// EVE are the options of the EVE writer (eve.http, eve.alert).
	EVE         eve.Options
	AdminSocket string // "" disabled
	AdminTCP    string // "" disabled
	// AdminToken is the bearer token of the TCP listener, read at
	// validation so a missing token stops the start.
	AdminToken string
	// Policy is validated (policy.Config.Validate); policy.New compiles it.
	Policy policy.Config
	// StateDir is the state directory; "" keeps state in memory only
	// (tests that build Settings by hand).
	StateDir string
	// Interruption is validated; identity.NewEngine compiles it.
	Interruption identity.InterruptConfig
	// Policies are validated; Engine.SetPolicies compiles them.
	Policies []identity.PolicyConfig
	// Tokens is validated; Engine.SetTokens compiles it.
	Tokens identity.TokensConfig
	// Cluster is where the state lives (nil: the state directory).
	Cluster *cluster.Settings
	// ConfigPath is the file LoadConfig read ("" for the embedded
	// default): a reload reads its policies and tokens again.
	ConfigPath string
}

// Identity is a validated IdentityConfig.
type Identity struct {
	Name     string
	Prefixes []netip.Prefix
	Tags     []string
	Mode     enforce.Mode // "" keeps the default mode
}

// RuleSettings is a validated RulesConfig: what every (re)load reads.
type RuleSettings struct {
	Files           []string
	DefaultPack     bool
	Classification  string
	ThresholdConfig string
	Vars            map[string]string
	AllowPartial    bool
	HTTPBodyLimit   int
	HTTPLimits      http1.Limits
	HTTPPorts       []uint16
	// StreamDepth is detect.Options.StreamDepth (0: unlimited).
	StreamDepth int64
	// StreamDepthReject is detect.Options.StreamDepthReject.
	StreamDepthReject bool
	// Prefilter is detect.Options.Prefilter (nil: prefilter.Default).
	Prefilter prefilter.Builder
}

// Defaults of keys whose absence means more than "off".
const (
	DefaultEVEPath       = "/var/log/interdict/eve.json"
	DefaultAdminSocket   = "/run/interdict/admin.sock"
	DefaultStatsInterval = 30 * time.Second
)

// TUNSettings is a validated TUNConfig.
type TUNSettings struct {
	Name       string
	Addresses  []netip.Prefix
	MTU        int
	Queues     int
	TxQueueLen int
}

// DefaultSource names the embedded default config in errors.
const DefaultSource = "default.yaml (embedded)"

// LoadConfig reads, decodes and validates a config file. An empty path
// loads the embedded default. A file is laid over the embedded default:
// the keys it sets replace the default's (a list replaces the whole list),
// the rest keep their default, so a config names only what it changes.
func LoadConfig(path string) (*Settings, error) {
	c, err := ParseConfig(DefaultSource, configs.Default)
	if err != nil {
		return nil, err
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if c, err = c.overlay(path, b); err != nil {
			return nil, err
		}
	}
	s, err := c.Validate()
	if err != nil {
		return nil, err
	}
	s.ConfigPath = path
	return s, nil
}

var notFound = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)

// ParseConfig decodes YAML strictly: an unknown key or a value of the
// wrong type is an error naming source:line and the key.
func ParseConfig(source string, data []byte) (*Config, error) {
	c := &Config{source: source}
	var root yaml.Node
	if err := yaml.Load(data, &root); err != nil {
		return nil, yamlError(source, nil, err)
	}
	if err := yaml.Load(data, c, yaml.WithKnownFields()); err != nil {
		return nil, yamlError(source, &root, err)
	}
	c.root = &root
	return c, nil
}

// overlay decodes data over a copy of c with the same strictness as
// ParseConfig; errors and line numbers then refer to source.
func (c *Config) overlay(source string, data []byte) (*Config, error) {
	root, err := parseDocument(source, data)
	if err != nil {
		return nil, err
	}
	return c.overlayNode(source, root)
}

// parseDocument parses a config file into its node tree. A file with no
// document (empty, or only comments) is an empty node: it changes nothing.
func parseDocument(source string, data []byte) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Load(data, &root); err != nil {
		// The parser has no typed error for this case.
		if strings.Contains(err.Error(), "no documents in stream") {
			return &yaml.Node{}, nil
		}
		return nil, yamlError(source, nil, err)
	}
	return &root, nil
}

// overlayNode is overlay over an already parsed document.
func (c *Config) overlayNode(source string, root *yaml.Node) (*Config, error) {
	o := *c
	o.source = source
	o.root = root
	if root.Kind == 0 { // an empty file changes nothing
		return &o, nil
	}
	if err := root.Load(&o, yaml.WithKnownFields()); err != nil {
		return nil, yamlError(source, root, err)
	}
	return &o, nil
}

// yamlError turns decoder errors into ConfigErrors: one per bad key, an
// unknown key named by its full path with the nearest valid key. root
// (nil when the document did not parse) locates the keys.
func yamlError(source string, root *yaml.Node, err error) error {
	var les *yaml.LoadErrors
	if errors.As(err, &les) && len(les.Errors) > 0 {
		out := make(ConfigErrors, 0, len(les.Errors))
		for _, e := range les.Errors {
			ce := &ConfigError{Source: source, Line: e.Mark.Line, Msg: e.Message}
			if m := notFound.FindStringSubmatch(e.Message); m != nil {
				ce.Key, ce.Msg = unknownKey(root, e.Mark.Line, m[1])
			} else if k, ok := keyPathAt(root, e.Mark.Line, e.Mark.Column, ""); ok {
				ce.Key = k
			}
			out = append(out, ce)
		}
		return out
	}
	var le *yaml.LoadError
	if errors.As(err, &le) {
		return &ConfigError{Source: source, Line: le.Mark.Line, Msg: le.Message}
	}
	return fmt.Errorf("config: %s: %w", source, err)
}

// line finds the line of the value at a key path, or of the deepest key
// that exists, so an error points at the right place. The path is dotted
// (rules.files); an element of a sequence is named by its index, as a
// part of its own (identities.0.name) or in brackets
// (block.on_alert[0].block_source_for).
func (c *Config) line(path string) int {
	n := c.root
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, key := range keyParts(path) {
		if i, err := strconv.Atoi(key); err == nil && n.Kind == yaml.SequenceNode {
			if i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
			continue
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
				line = n.Content[i].Line
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// keyParts splits a key path at dots and bracketed indices:
// "a.b[0][1].c" is a, b, 0, 1, c.
func keyParts(path string) []string {
	var out []string
	for _, part := range strings.Split(path, ".") {
		for {
			open := strings.IndexByte(part, '[')
			if open < 0 || !strings.HasSuffix(part, "]") {
				out = append(out, part)
				break
			}
			if open > 0 {
				out = append(out, part[:open])
			}
			rest := part[open+1:]
			end := strings.IndexByte(rest, ']')
			out = append(out, rest[:end])
			part = rest[end+1:]
			if part == "" {
				break
			}
		}
	}
	return out
}

// errorf formats a validation error at the key's line.
func (c *Config) errorf(key, format string, args ...any) error {
	return &ConfigError{Source: c.source, Line: c.line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// size parses a byte count: digits with an optional unit, binary
// multiples whether written KiB or Suricata's kb.
func (c *Config) size(key, v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, c.errorf(key, "invalid size %q (use e.g. 1MiB, 512KiB, 0)", v)
	}
	return n * mult, nil
}

func (c *Config) duration(key, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, c.errorf(key, "invalid duration %q (use e.g. 30s, 5m)", v)
	}
	if d <= 0 {
		return 0, c.errorf(key, "duration %s must be positive", v)
	}
	return d, nil
}

func (c *Config) nonNegative(key string, v int) error {
	if v < 0 {
		return c.errorf(key, "%d must not be negative", v)
	}
	return nil
}

func (c *Config) tun(key string, t TUNConfig) (TUNSettings, error) {
	s := TUNSettings{Name: t.Name, MTU: t.MTU, Queues: t.Queues, TxQueueLen: t.TxQueueLen}
	if t.Name == "" || len(t.Name) > 15 || strings.ContainsAny(t.Name, "/ \t") {
		return s, c.errorf(key+".name", "interface name %q must be 1-15 characters without '/' or spaces", t.Name)
	}
	if t.MTU != 0 && (t.MTU < 1280 || t.MTU > 65535) {
		return s, c.errorf(key+".mtu", "%d outside [1280, 65535]", t.MTU)
	}
	if t.Queues < 0 || t.Queues > 64 {
		return s, c.errorf(key+".queues", "%d outside [0, 64]", t.Queues)
	}
	if err := c.nonNegative(key+".txqueuelen", t.TxQueueLen); err != nil {
		return s, err
	}
	for _, a := range t.Addresses {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return s, c.errorf(key+".addresses", "invalid prefix %q (want address/bits, e.g. 10.0.0.1/24)", a)
		}
		s.Addresses = append(s.Addresses, p)
	}
	return s, nil
}

var verdicts = map[string]netstack.Verdict{
	"pass": netstack.Pass, "drop": netstack.Drop, "reject": netstack.Reject,
	"rejectsrc": netstack.Reject, "rejectdst": netstack.RejectDst, "rejectboth": netstack.RejectBoth,
}

// Validate checks every value and converts the config into Settings.
func (c *Config) Validate() (*Settings, error) {
	s := &Settings{}
	var err error
	s.LinkMode = c.Link.Mode
	s.StateDir = c.StateDir
	if s.StateDir == "" {
		s.StateDir = state.DefaultDir()
	} else {
		s.StateDir = c.path(s.StateDir)
	}
	switch c.Link.Mode {
	case "tun":
		if s.Link, err = c.tun("link.tun", c.Link.TUN); err != nil {
			return nil, err
		}
	case "wireguard":
		if s.WireGuard, err = c.wireguard(s.StateDir); err != nil {
			return nil, err
		}
	case "":
		return nil, c.errorf("link.mode", "missing (want wireguard or tun)")
	default:
		return nil, c.errorf("link.mode", "%q not supported (want wireguard or tun)", c.Link.Mode)
	}

	switch c.Upstream.Mode {
	case "host", "":
		s.Upstream = "host"
		s.Host = netstack.HostDialer{Mark: c.Upstream.Host.Mark, BindDevice: c.Upstream.Host.BindDevice}
	case "transparent":
		s.Upstream = "transparent"
		if s.Transparent, err = c.tun("upstream.transparent.tun", c.Upstream.Transparent.TUN); err != nil {
			return nil, err
		}
		if s.LinkMode == "tun" && s.Transparent.Name == s.Link.Name {
			return nil, c.errorf("upstream.transparent.tun.name", "%q is also the client link", s.Transparent.Name)
		}
	default:
		return nil, c.errorf("upstream.mode", "%q not supported (want host or transparent)", c.Upstream.Mode)
	}

	l := c.Limits
	for key, v := range map[string]int{
		"limits.max_flows": l.MaxFlows, "limits.max_udp_sessions": l.MaxUDPSessions,
		"limits.syn_in_flight": l.SYNInFlight, "limits.syn_in_flight_per_source": l.SYNPerSource,
		"limits.max_guard_entries": l.MaxGuardEntries,
	} {
		if err := c.nonNegative(key, v); err != nil {
			return nil, err
		}
	}
	s.Limits = netstack.Limits{
		MaxFlows: l.MaxFlows, MaxUDPSessions: l.MaxUDPSessions, MaxSYNInFlight: l.SYNInFlight,
		MaxSYNPerSource: l.SYNPerSource, MaxGuardEntries: l.MaxGuardEntries,
	}
	for key, dst := range map[string]struct {
		v   string
		out *time.Duration
	}{
		"limits.dial_timeout": {l.DialTimeout, &s.Limits.DialTimeout},
		"limits.tcp_idle":     {l.TCPIdle, &s.Limits.IdleTimeout},
		"limits.udp_idle":     {l.UDPIdle, &s.Limits.UDPIdleTimeout},
		"limits.dns_idle":     {l.DNSIdle, &s.Limits.DNSIdleTimeout},
		"limits.time_wait":    {l.TimeWait, &s.Limits.TimeWait},
	} {
		if *dst.out, err = c.duration(key, dst.v); err != nil {
			return nil, err
		}
	}
	// SYN-flood resilience (netstack/synflood.go).
	for key, v := range map[string]int{"limits.syn_in_flight_per_prefix": l.SYNPerPrefix, "limits.syn_pressure": l.SYNPressure,
		"limits.syn_cookie_rate": l.SYNCookieRate, "limits.hold_limit": l.HoldLimit} {
		if err := c.nonNegative(key, v); err != nil {
			return nil, err
		}
	}
	s.Limits.MaxSYNPerPrefix, s.Limits.SYNPressure, s.Limits.SYNCookieRate = l.SYNPerPrefix, l.SYNPressure, l.SYNCookieRate
	s.Limits.HoldLimit, s.Limits.HoldFailOpen = l.HoldLimit, l.HoldFailOpen
	switch l.ValidateFirst {
	case "", "pressure":
	case "always":
		s.Limits.ValidateAlways = true
	default:
		return nil, c.errorf("limits.validate_first", "%q not one of pressure, always", l.ValidateFirst)
	}
	if s.Limits.HandshakeTimeout, err = c.duration("limits.handshake_timeout", l.HandshakeTimeout); err != nil {
		return nil, err
	}
	if s.Limits.MaxSYNPerSource > 0 && s.Limits.MaxSYNInFlight > 0 && s.Limits.MaxSYNPerSource > s.Limits.MaxSYNInFlight {
		return nil, c.errorf("limits.syn_in_flight_per_source", "%d exceeds syn_in_flight %d", s.Limits.MaxSYNPerSource, s.Limits.MaxSYNInFlight)
	}

	s.Handler = c.Handler
	switch c.Handler.Mode {
	case "detect", "":
		s.Handler.Mode = "detect"
	case "pass":
	case "pattern":
		if c.Handler.Pattern == "" {
			return nil, c.errorf("handler.pattern", "empty (the pattern handler needs bytes to match)")
		}
		v, ok := verdicts[c.Handler.Verdict]
		if !ok {
			return nil, c.errorf("handler.verdict", "%q not one of pass, drop, reject, rejectsrc, rejectdst, rejectboth", c.Handler.Verdict)
		}
		s.Verdict = v
	default:
		return nil, c.errorf("handler.mode", "%q not supported (want detect, pass or pattern)", c.Handler.Mode)
	}

	if m := c.Metrics.Listen; m != "" {
		host, port, err := net.SplitHostPort(m)
		if err != nil {
			return nil, c.errorf("metrics.listen", "invalid address %q (want host:port)", m)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return nil, c.errorf("metrics.listen", "invalid port %q", port)
		}
		if host != "" && host != "localhost" {
			if _, err := netip.ParseAddr(host); err != nil {
				return nil, c.errorf("metrics.listen", "invalid host %q (want an IP address)", host)
			}
		}
		s.Metrics = m
	}

	if err := c.validateDetection(s); err != nil {
		return nil, err
	}
	if err := c.Policy.Validate(); err != nil {
		var ce *policy.ConfigError
		if errors.As(err, &ce) {
			return nil, c.errorf("policy."+ce.Key, "%s", ce.Msg)
		}
		return nil, fmt.Errorf("config: %s: policy: %w", c.source, err)
	}
	if err := c.validateAnomalyNames(); err != nil {
		return nil, err
	}
	s.Policy = c.Policy
	if err := c.validateIdentityPolicy(s); err != nil {
		return nil, err
	}
	if err := c.validateCluster(s); err != nil {
		return nil, err
	}

	switch c.Log.Format {
	case "text", "json", "":
		s.LogFormat = c.Log.Format
		if s.LogFormat == "" {
			s.LogFormat = "text"
		}
	default:
		return nil, c.errorf("log.format", "%q not supported (want text or json)", c.Log.Format)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
		s.LogLevel = strings.ToLower(c.Log.Level)
	case "":
		s.LogLevel = "info"
	default:
		return nil, c.errorf("log.level", "%q not supported (want debug, info, warn or error)", c.Log.Level)
	}
	return s, nil
}
