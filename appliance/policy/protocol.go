package policy

import (
	"strings"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/netstack"
)

// action is what the protocol section does with an anomaly: by event
// name (the configuration spells names in upper case; Suricata's Rust
// parsers, DNS and HTTP/2, raise them in lower case), else by app
// protocol, else the default.
func (ps *protocolSettings) action(an *inspect.Anomaly) protoAction {
	if act, ok := ps.byName[strings.ToUpper(an.Event)]; ok {
		return act
	}
	if act, ok := ps.byApp[an.AppProto]; ok {
		return act
	}
	return ps.def
}

var verdictActions = map[netstack.Verdict]inspect.Action{
	netstack.Drop: inspect.ActionDrop, netstack.Reject: inspect.ActionReject,
	netstack.RejectDst: inspect.ActionRejectDst, netstack.RejectBoth: inspect.ActionRejectBoth,
}

// AnomalyActions compiles the protocol section into the rule action each
// anomaly takes (ActionNone when it is only logged or off), so a replay
// decides what the appliance would have done with a message it refuses.
func (c *Config) AnomalyActions() (func(inspect.Anomaly) inspect.Action, error) {
	s, err := c.compile()
	if err != nil {
		return nil, err
	}
	ps := s.protocol
	return func(an inspect.Anomaly) inspect.Action {
		if ps == nil {
			return inspect.ActionNone
		}
		act := ps.action(&an)
		if act.off {
			return inspect.ActionNone
		}
		return verdictActions[act.verdict]
	}, nil
}
