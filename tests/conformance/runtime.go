package conformance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/inspect/replay"
)

// suricataYAMLTimeouts are the flow-timeouts of the suricata.yaml that
// Suricata ships (suricata.yaml.in), which suricata-verify runs a case
// with when the case has no suricata.yaml of its own. A case's own file
// starts from Suricata's built-in values (replay.DefaultFlowTimeouts)
// instead, overridden by its flow-timeouts section.
var suricataYAMLTimeouts = replay.FlowTimeouts{
	TCP:   replay.StateTimeouts{New: 60 * time.Second, Established: 600 * time.Second, Closed: 60 * time.Second},
	Other: replay.StateTimeouts{New: 30 * time.Second, Established: 300 * time.Second},
}

// readRuntimeYAML reads the flow timeouts and exception policies of the
// configuration the case runs with, and decides the midstream policy as
// Suricata does: in IPS mode, without midstream pickup, a policy not set
// (or auto) is drop-flow (util-exception-policy.c).
func (o *RunOpts) readRuntimeYAML(dir string) error {
	ft := suricataYAMLTimeouts
	data, err := os.ReadFile(filepath.Join(dir, "suricata.yaml"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		var y struct {
			ExceptionPolicy string `yaml:"exception-policy"`
			Stream          struct {
				MidstreamPolicy string `yaml:"midstream-policy"`
			} `yaml:"stream"`
			FlowTimeouts map[string]map[string]int `yaml:"flow-timeouts"`
		}
		if err := yaml.Unmarshal(data, &y); err != nil {
			return fmt.Errorf("%s/suricata.yaml: %w", dir, err)
		}
		if o.ExceptionPolicy == "" {
			o.ExceptionPolicy = y.ExceptionPolicy
		}
		if o.MidstreamPolicy == "" {
			o.MidstreamPolicy = y.Stream.MidstreamPolicy
		}
		ft = replay.DefaultFlowTimeouts
		set := func(st *replay.StateTimeouts, m map[string]int) {
			for k, p := range map[string]*time.Duration{"new": &st.New, "established": &st.Established, "closed": &st.Closed} {
				if v, ok := m[k]; ok {
					*p = time.Duration(v) * time.Second
				}
			}
		}
		set(&ft.TCP, y.FlowTimeouts["tcp"])
		set(&ft.Other, y.FlowTimeouts["default"])
		set(&ft.Other, y.FlowTimeouts["udp"])
	}
	o.FlowTimeouts = &ft
	if o.IPS && !o.Midstream {
		switch o.MidstreamPolicy {
		case "drop-flow":
			o.MidstreamDrop = true
		case "", "auto":
			o.MidstreamDrop = o.ExceptionPolicy == "" || o.ExceptionPolicy == "auto" || o.ExceptionPolicy == "drop-flow"
		}
	}
	return nil
}
