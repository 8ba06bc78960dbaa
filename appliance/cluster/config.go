package cluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is the cluster section as written in YAML.
type Config struct {
	// Backend is local (the state directory, the default) or nats.
	Backend string `yaml:"backend"`
	// Replicas is the number of servers holding each bucket (1-5); 0
	// is 3 with three or more embedded members, else 1.
	Replicas int        `yaml:"replicas"`
	NATS     NATSConfig `yaml:"nats"`
	// Embedded runs a NATS server in the appliance; without it the
	// appliance connects to NATS.URLs.
	Embedded *EmbeddedConfig `yaml:"embedded"`
	// Timeout bounds the wait for the cluster at start (and a request's
	// retries); default 30s.
	Timeout string `yaml:"timeout"`
}

// NATSConfig is how the appliance reaches an external NATS cluster.
type NATSConfig struct {
	// URLs are the NATS servers (nats://host:port or tls://host:port);
	// list several: the client fails over between them.
	URLs []string `yaml:"urls"`
	// CredsFile is a NATS credentials file (mode 0600).
	CredsFile string    `yaml:"creds_file"`
	TLS       TLSConfig `yaml:"tls"`
}

// TLSConfig are the PEM files of a TLS connection to NATS.
type TLSConfig struct {
	// CA verifies the servers (PEM); empty: the system roots.
	CA string `yaml:"ca"`
	// Cert is this appliance's client certificate (PEM), with Key.
	Cert string `yaml:"cert"`
	// Key is the client certificate's private key (PEM, mode 0600).
	Key string `yaml:"key"`
}

// EmbeddedConfig is the in-process NATS server.
type EmbeddedConfig struct {
	// Name is the server's name in the cluster (default: the host name).
	Name string `yaml:"name"`
	// Listen is host:port of the cluster routes the other members dial
	// (needed with routes).
	Listen string `yaml:"listen"`
	// Routes are the members' route URLs (nats-route://host:port): list
	// every member, itself included (a route to itself is ignored), the
	// same list on each; three or more make the buckets R3. None: a
	// standalone server (a fleet of one, or the server the others list
	// in nats.urls).
	Routes []string `yaml:"routes"`
	// StoreDir keeps the JetStream data (default: cluster/ in state_dir).
	StoreDir string `yaml:"store_dir"`
}

// Settings is a validated Config.
type Settings struct {
	Backend   string // local or nats
	Replicas  int
	URLs      []string
	CredsFile string
	TLS       TLSConfig
	Timeout   time.Duration
	// Embedded is nil for an external cluster.
	Embedded *EmbeddedSettings
}

// EmbeddedSettings is a validated EmbeddedConfig.
type EmbeddedSettings struct {
	Name       string
	RouteHost  string
	RoutePort  int
	Routes     []string
	StoreDir   string
	ClientPort int // loopback client port; 0 picks one
}

// ConfigError is a bad value; Key is its path under cluster.
type ConfigError struct {
	Key, Msg string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }

func bad(key, format string, args ...any) error {
	return &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// DefaultTimeout bounds a write and the wait for the cluster at start.
const DefaultTimeout = 30 * time.Second

// Validate checks c; stateDir is where the embedded store goes by
// default, hostname the default server name. The error is a *ConfigError.
func (c Config) Validate(stateDir, hostname string) (*Settings, error) {
	s := &Settings{Backend: c.Backend, Timeout: DefaultTimeout}
	switch c.Backend {
	case "", "local":
		s.Backend = "local"
		if c.Embedded != nil || len(c.NATS.URLs) > 0 {
			return nil, bad("backend", "embedded and nats need backend: nats")
		}
		return s, nil
	case "nats":
	default:
		return nil, bad("backend", "%q: want local or nats", c.Backend)
	}
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil || d <= 0 {
			return nil, bad("timeout", "%q: want a positive duration such as 10s", c.Timeout)
		}
		s.Timeout = d
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return nil, bad("replicas", "%d: want 1 to 5 (0: automatic)", c.Replicas)
	}
	s.Replicas = c.Replicas
	s.URLs, s.CredsFile, s.TLS = c.NATS.URLs, c.NATS.CredsFile, c.NATS.TLS
	for i, u := range c.NATS.URLs {
		if !strings.Contains(u, "://") {
			return nil, bad(fmt.Sprintf("nats.urls[%d]", i), "%q: want a URL such as nats://10.0.0.1:4222", u)
		}
	}
	if (c.NATS.TLS.Cert == "") != (c.NATS.TLS.Key == "") {
		return nil, bad("nats.tls", "cert and key go together")
	}
	e := c.Embedded
	if e == nil {
		if len(c.NATS.URLs) == 0 {
			return nil, bad("nats.urls", "backend nats needs nats.urls or embedded")
		}
		if s.Replicas == 0 {
			s.Replicas = 1
		}
		return s, nil
	}
	if len(c.NATS.URLs) > 0 {
		return nil, bad("nats.urls", "embedded members talk to their own server: drop nats.urls or embedded")
	}
	es := &EmbeddedSettings{Name: e.Name, StoreDir: e.StoreDir}
	if e.Listen != "" || len(e.Routes) > 0 {
		host, port, err := net.SplitHostPort(e.Listen)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil || p <= 0 || p > 65535 {
			return nil, bad("embedded.listen", "%q: want host:port of the cluster routes, such as 0.0.0.0:6222", e.Listen)
		}
		es.RouteHost, es.RoutePort = host, p
	}
	if es.Name == "" {
		es.Name = hostname
	}
	for i, r := range e.Routes {
		if !strings.HasPrefix(r, "nats-route://") && !strings.HasPrefix(r, "nats://") {
			return nil, bad(fmt.Sprintf("embedded.routes[%d]", i), "%q: want nats-route://host:port", r)
		}
	}
	es.Routes = e.Routes
	if es.StoreDir == "" {
		es.StoreDir = stateDir + "/cluster"
	}
	if s.Replicas == 0 {
		s.Replicas = 1
		if len(e.Routes) >= 3 {
			s.Replicas = 3
		}
	}
	s.Embedded = es
	return s, nil
}
