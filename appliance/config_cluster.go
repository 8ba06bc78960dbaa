package appliance

import (
	"errors"
	"fmt"
	"os"

	"github.com/interdict/interdict/appliance/cluster"
)

// validateCluster checks the cluster section (after state_dir is known:
// the embedded server's store goes there by default) and resolves its
// files against the config file's directory.
func (c *Config) validateCluster(s *Settings) error {
	host, _ := os.Hostname()
	cs, err := c.Cluster.Validate(s.StateDir, host)
	if err != nil {
		var ce *cluster.ConfigError
		if errors.As(err, &ce) {
			return c.errorf("cluster."+ce.Key, "%s", ce.Msg)
		}
		return fmt.Errorf("config: %s: cluster: %w", c.source, err)
	}
	cs.CredsFile = c.path(cs.CredsFile)
	cs.TLS.CA, cs.TLS.Cert, cs.TLS.Key = c.path(cs.TLS.CA), c.path(cs.TLS.Cert), c.path(cs.TLS.Key)
	if cs.Embedded != nil {
		if c.Cluster.Embedded.Name == "" && cs.Embedded.Name == "" {
			return c.errorf("cluster.embedded.name", "empty, and the host has no name to use")
		}
		if c.Cluster.Embedded.StoreDir != "" {
			cs.Embedded.StoreDir = c.path(cs.Embedded.StoreDir)
		}
	}
	for key, f := range map[string]string{"cluster.nats.creds_file": cs.CredsFile, "cluster.nats.tls.ca": cs.TLS.CA,
		"cluster.nats.tls.cert": cs.TLS.Cert, "cluster.nats.tls.key": cs.TLS.Key} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return c.errorf(key, "%v", err)
		}
	}
	s.Cluster = cs
	return nil
}
