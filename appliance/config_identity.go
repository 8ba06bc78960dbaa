package appliance

import (
	"errors"
	"fmt"

	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/state"
)

// validateIdentityPolicy checks state_dir, the interruption section, the
// egress policies and the token bindings; they may name only configured
// identities.
func (c *Config) validateIdentityPolicy(s *Settings) error {
	s.StateDir = state.DefaultDir()
	if c.StateDir != "" {
		s.StateDir = c.path(c.StateDir)
	}
	known := map[string]bool{}
	for _, id := range s.Identities {
		known[id.Name] = true
	}
	if err := c.Interruption.Validate(func(n string) bool { return known[n] }); err != nil {
		var ce *identity.ConfigError
		if errors.As(err, &ce) {
			return c.errorf("interruption."+ce.Key, "%s", ce.Msg)
		}
		return fmt.Errorf("config: %s: interruption: %w", c.source, err)
	}
	s.Interruption = c.Interruption
	if _, err := identity.CompilePolicies(c.Policies, func(n string) bool { return known[n] }); err != nil {
		var ce *identity.ConfigError
		if errors.As(err, &ce) {
			return c.errorf(ce.Key, "%s", ce.Msg)
		}
		return fmt.Errorf("config: %s: policies: %w", c.source, err)
	}
	s.Policies = c.Policies
	if err := identity.CheckTokens(c.Tokens, func(n string) bool { return known[n] }); err != nil {
		var ce *identity.ConfigError
		if errors.As(err, &ce) {
			return c.errorf(ce.Key, "%s", ce.Msg)
		}
		return fmt.Errorf("config: %s: tokens: %w", c.source, err)
	}
	s.Tokens = c.Tokens
	return nil
}
