package appliance

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/detect"
)

// anomalyNames are the names policy.protocol.anomalies may set: every
// anomaly a linked parser declares (upper case, as EVE writes them) and
// the engine's own.
func anomalyNames() []string {
	names := slices.Clone(detect.EngineAnomalies)
	for _, p := range applayer.Protos() {
		for _, e := range p.Events {
			names = append(names, strings.ToUpper(e))
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// validateAnomalyNames refuses a policy.protocol.anomalies name nothing
// raises: a misspelt REQUEST_URI_ENCODING_AMBIGUOS: reject would leave
// that anomaly at the default action without a word.
func (c *Config) validateAnomalyNames() error {
	known := anomalyNames()
	names := slices.Sorted(maps.Keys(c.Policy.Protocol.Anomalies))
	for _, name := range names {
		if _, ok := slices.BinarySearch(known, name); ok {
			continue
		}
		msg := "no parser raises this anomaly"
		if s := nearest(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return c.errorf("policy.protocol.anomalies."+name, "%s", msg)
	}
	return nil
}
