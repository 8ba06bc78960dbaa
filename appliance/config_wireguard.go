package appliance

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/tunnel/wg"
)

// WireGuardConfig is the hub of link.mode wireguard.
type WireGuardConfig struct {
	// ListenPort is the UDP port (IPv4 and IPv6); absent is 51820.
	ListenPort *int `yaml:"listen_port"`
	// ListenAddress listens on one address instead of all (e.g.
	// 127.0.0.1 for a hub only local peers reach); empty is all.
	ListenAddress string `yaml:"listen_address"`
	// PrivateKeyFile holds the hub's key (wg genkey format); empty is
	// wireguard.key in the state directory, generated on first start.
	PrivateKeyFile string `yaml:"private_key_file"`
	// PrivateKeyEnv names an environment variable that holds the key
	// instead (e.g. from a Kubernetes Secret: a mounted Secret file is
	// group-readable as soon as the pod sets fsGroup, and a key file
	// others can read is refused).
	PrivateKeyEnv string `yaml:"private_key_env"`
	MTU           int    `yaml:"mtu"`
	// Addresses are the hub's side of the overlay (shown to peers).
	Addresses []string `yaml:"addresses"`
	// Pool is where `interdict peer add` takes each new peer's address.
	Pool  []string           `yaml:"pool"`
	Peers []WireGuardPeerCfg `yaml:"peers"`
}

// WireGuardPeerCfg is a peer written in the config (peers added at
// runtime live in the state directory).
type WireGuardPeerCfg struct {
	// Name is the identity's name (letters, digits, '-', '_', '.').
	Name string `yaml:"name"`
	// PublicKey is the peer's key in base64 (wg pubkey).
	PublicKey string `yaml:"public_key"`
	// AllowedIPs are the inner source addresses the peer may send from.
	AllowedIPs []string `yaml:"allowed_ips"`
	// Tags group identities for policy.
	Tags []string `yaml:"tags"`
	// PresharedKeyFile holds an optional preshared key (mode 0600).
	PresharedKeyFile string `yaml:"preshared_key_file"`
}

// WireGuardSettings is a validated WireGuardConfig.
type WireGuardSettings struct {
	ListenPort     int
	ListenAddr     netip.Addr // invalid: every address
	PrivateKeyFile string
	// PrivateKey is set when the key came from PrivateKeyEnv; the zero
	// key means PrivateKeyFile (generated there on first start).
	PrivateKey wg.Key
	MTU        int
	Addresses  []netip.Prefix
	Pool       []netip.Prefix
	Peers      []PeerSettings
}

// PeerSettings is one peer, from the config or the state.
type PeerSettings struct {
	Name         string
	PublicKey    wg.Key
	AllowedIPs   []netip.Prefix
	Tags         []string
	PresharedKey wg.Key
}

func (c *Config) wireguard(stateDir string) (WireGuardSettings, error) {
	w := c.Link.WireGuard
	s := WireGuardSettings{ListenPort: wg.DefaultListenPort, MTU: w.MTU}
	if w.ListenPort != nil {
		s.ListenPort = *w.ListenPort
		if s.ListenPort < 0 || s.ListenPort > 65535 {
			return s, c.errorf("link.wireguard.listen_port", "%d outside [0, 65535]", s.ListenPort)
		}
	}
	if w.ListenAddress != "" {
		a, err := netip.ParseAddr(w.ListenAddress)
		if err != nil {
			return s, c.errorf("link.wireguard.listen_address", "invalid address %q (want e.g. 127.0.0.1 or ::1)", w.ListenAddress)
		}
		s.ListenAddr = a
	}
	if s.MTU == 0 {
		s.MTU = wg.DefaultMTU
	}
	if s.MTU < 1280 || s.MTU > 65535 {
		return s, c.errorf("link.wireguard.mtu", "%d outside [1280, 65535]", s.MTU)
	}
	s.PrivateKeyFile = filepath.Join(stateDir, "wireguard.key")
	if w.PrivateKeyFile != "" {
		s.PrivateKeyFile = c.path(w.PrivateKeyFile)
	}
	var err error
	if w.PrivateKeyEnv != "" {
		if w.PrivateKeyFile != "" {
			return s, c.errorf("link.wireguard.private_key_env", "set private_key_file or private_key_env, not both")
		}
		v, ok := os.LookupEnv(w.PrivateKeyEnv)
		if !ok || v == "" {
			return s, c.errorf("link.wireguard.private_key_env", "environment variable %s is not set (it must hold the hub's key: interdict keygen)", w.PrivateKeyEnv)
		}
		if s.PrivateKey, err = wg.ParseKey(v); err != nil {
			// The error never quotes the value: it is a secret.
			return s, c.errorf("link.wireguard.private_key_env", "%s does not hold a WireGuard key (want 44 characters of base64, as interdict keygen prints)", w.PrivateKeyEnv)
		}
		s.PrivateKeyFile = ""
	}
	if s.Addresses, err = c.prefixes("link.wireguard.addresses", w.Addresses, false); err != nil {
		return s, err
	}
	if s.Pool, err = c.prefixes("link.wireguard.pool", w.Pool, true); err != nil {
		return s, err
	}
	names := map[string]bool{}
	keys := map[wg.Key]string{}
	for i, p := range w.Peers {
		key := "link.wireguard.peers." + strconv.Itoa(i)
		if !validPeerName(p.Name) {
			return s, c.errorf(key+".name", "invalid peer name %q (1-64 letters, digits, '-', '_', '.')", p.Name)
		}
		if names[p.Name] {
			return s, c.errorf(key+".name", "%q defined twice", p.Name)
		}
		names[p.Name] = true
		ps := PeerSettings{Name: p.Name}
		if ps.PublicKey, err = wg.ParseKey(p.PublicKey); err != nil {
			return s, c.errorf(key+".public_key", "%v", err)
		}
		if other, dup := keys[ps.PublicKey]; dup {
			return s, c.errorf(key+".public_key", "the same key as peer %q", other)
		}
		keys[ps.PublicKey] = p.Name
		if len(p.AllowedIPs) == 0 {
			return s, c.errorf(key+".allowed_ips", "peer %q has no allowed IPs (its overlay address, e.g. 100.96.0.2/32)", p.Name)
		}
		if ps.AllowedIPs, err = c.prefixes(key+".allowed_ips", p.AllowedIPs, true); err != nil {
			return s, err
		}
		for _, ap := range ps.AllowedIPs {
			for _, ha := range s.Addresses {
				if ap.Contains(ha.Addr()) {
					// As peer add refuses it: the peer could send as the hub.
					return s, c.errorf(key+".allowed_ips", "%s holds the hub's address %s (link.wireguard.addresses): the peer could send as the hub", ap, ha.Addr())
				}
			}
		}
		for _, tag := range p.Tags {
			if !validTag(tag) {
				return s, c.errorf(key+".tags", "invalid tag %q (letters, digits, '-', '_', '.', ':' only)", tag)
			}
		}
		ps.Tags = p.Tags
		if p.PresharedKeyFile != "" {
			if ps.PresharedKey, err = readKeyFile(c.path(p.PresharedKeyFile)); err != nil {
				return s, c.errorf(key+".preshared_key_file", "%v", err)
			}
		}
		s.Peers = append(s.Peers, ps)
	}
	return s, nil
}

// prefixes parses a list of prefixes; masked makes 10.0.0.1/8 10.0.0.0/8
// (a pool, allowed IPs) where an address with its prefix length is kept
// as written (the hub's addresses).
func (c *Config) prefixes(key string, list []string, masked bool) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, a := range list {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, c.errorf(key, "invalid prefix %q (want address/bits, e.g. 100.96.0.0/16)", a)
		}
		if masked {
			p = p.Masked()
		}
		out = append(out, p)
	}
	return out, nil
}

// readKeyFile reads a base64 key from a file that only its owner may
// read.
func readKeyFile(path string) (wg.Key, error) {
	if err := state.CheckPrivate(path); err != nil {
		return wg.Key{}, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return wg.Key{}, err
	}
	k, err := wg.ParseKey(string(b))
	if err != nil {
		return wg.Key{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// validPeerName accepts names that are safe as file names, URL path
// segments and log values.
func validPeerName(n string) bool {
	if n == "" || len(n) > 64 || n[0] == '.' {
		return false
	}
	for _, r := range n {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}
