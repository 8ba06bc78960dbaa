package rules

import (
	"strings"
)

// AppLayerProto is one app-layer-protocol keyword (Suricata's
// detect-app-layer-protocol.c): the flow's protocol, as resolved by Mode,
// is (or with Negate is not) Proto. A negated test never matches while
// the protocol is unknown.
type AppLayerProto struct {
	Proto  string // as detected here: http (HTTP/1), http2, tls, dns, ssh; "http" in a rule is HTTP/1 or HTTP/2 (see inspect.AppProtoIs); failed: detection gave up
	Negate bool
	// Mode picks which of the flow's protocols is tested: "direction"
	// (the default: that of the data's direction), "to_server",
	// "to_client", "either", "original" (the first one detected) or
	// "final" (the current one, after a change such as an h2c upgrade).
	Mode string
}

var appLayerProtoModes = map[string]bool{"direction": true, "to_server": true, "to_client": true, "either": true,
	"original": true, "final": true}

// appLayerProto parses app-layer-protocol:[!]PROTO[,MODE].
func (c *converter) appLayerProto(v string) error {
	v = strings.TrimSpace(v)
	a := AppLayerProto{Mode: "direction"}
	if strings.HasPrefix(v, "!") {
		a.Negate, v = true, strings.TrimSpace(v[1:])
	}
	name, mode, hasMode := strings.Cut(v, ",")
	name = strings.ToLower(strings.TrimSpace(name))
	if hasMode {
		a.Mode = strings.TrimSpace(mode)
		if !appLayerProtoModes[a.Mode] {
			return rejectf("app-layer-protocol: unknown mode %q (direction, to_server, to_client, either, original, final)", a.Mode)
		}
	}
	switch _, known := appProtos[name]; {
	case name == "failed":
	case !known:
		// Protocols without a parser here are never detected: a rule on
		// one would never match, or (negated) match every flow.
		return rejectf("unsupported app-layer-protocol:%s: no %s parser", v, name)
	}
	for _, o := range c.out.AppLayerProtos {
		if o.Mode == a.Mode && o.Proto == name && o.Negate == a.Negate {
			return rejectf("app-layer-protocol:%s given twice", v)
		}
	}
	a.Proto = name
	c.out.AppLayerProtos = append(c.out.AppLayerProtos, a)
	return nil
}
