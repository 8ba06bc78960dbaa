package appliance

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/tunnel/wg"
)

// registerWireGuardMetrics exports the device's counters. No metric has
// a per-peer label: label values come from fixed sets (message types,
// rejection reasons), so cardinality does not grow with the peers;
// per-peer figures are in the admin API (GET /v1/identities).
func registerWireGuardMetrics(reg prometheus.Registerer, h *hub) error {
	counter := func(name, help string, labels prometheus.Labels, f func(wg.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "wireguard", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(f(h.dev.Stats())) })
	}
	cs := []prometheus.Collector{
		counter("rx_packets_total", "Decrypted packets handed to the stack.", nil, func(s wg.Stats) uint64 { return s.RxPackets }),
		counter("rx_bytes_total", "Bytes of decrypted packets handed to the stack.", nil, func(s wg.Stats) uint64 { return s.RxBytes }),
		counter("tx_packets_total", "Packets handed to WireGuard for encryption.", nil, func(s wg.Stats) uint64 { return s.TxPackets }),
		counter("tx_bytes_total", "Bytes handed to WireGuard for encryption.", nil, func(s wg.Stats) uint64 { return s.TxBytes }),
		counter("dropped_total", "Packets dropped between WireGuard and the stack (not IP, over the MTU).", nil, func(s wg.Stats) uint64 { return s.RxDropped + s.TxDropped }),
	}
	for typ, f := range map[string]func(wg.Stats) uint64{
		"initiation": func(s wg.Stats) uint64 { return s.Initiations },
		"response":   func(s wg.Stats) uint64 { return s.Responses },
		"cookie":     func(s wg.Stats) uint64 { return s.Cookies },
		"transport":  func(s wg.Stats) uint64 { return s.Transport },
		"malformed":  func(s wg.Stats) uint64 { return s.Malformed },
	} {
		cs = append(cs, counter("datagrams_total", "UDP datagrams received, by WireGuard message type; malformed: no message has this type and size.", prometheus.Labels{"type": typ}, f))
	}
	for reason, f := range map[string]func(wg.Stats) uint64{
		"invalid_mac":        func(s wg.Stats) uint64 { return s.InvalidMAC },
		"invalid_initiation": func(s wg.Stats) uint64 { return s.InvalidInitiation },
		"invalid_response":   func(s wg.Stats) uint64 { return s.InvalidResponse },
		"invalid_cookie":     func(s wg.Stats) uint64 { return s.InvalidCookie },
		"under_load":         func(s wg.Stats) uint64 { return s.UnderLoad },
	} {
		cs = append(cs, counter("handshakes_rejected_total", "Handshake messages rejected: bad MAC, unknown peer, replayed or stale initiation, unverifiable response or cookie; under_load: answered with a cookie reply instead of being processed (a handshake flood).", prometheus.Labels{"reason": reason}, f))
	}
	cs = append(cs, counter("disallowed_source_packets_total", "Decrypted packets whose inner source address is not among the sending peer's allowed IPs (a peer sending as another), dropped.", nil,
		func(s wg.Stats) uint64 { return s.DisallowedSource }))
	cs = append(cs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "interdict", Subsystem: "wireguard", Name: "peers", Help: "Configured peers (config file and runtime)."},
			func() float64 { h.mu.Lock(); defer h.mu.Unlock(); return float64(len(h.peers)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "interdict", Subsystem: "wireguard", Name: "peers_active", Help: "Peers with a handshake in the last 3 minutes (WireGuard rekeys every 2)."},
			func() float64 {
				list, err := h.dev.Peers()
				if err != nil {
					return 0
				}
				n := 0
				for _, p := range list {
					if time.Since(p.LastHandshake) < 3*time.Minute {
						n++
					}
				}
				return float64(n)
			}),
	)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("wireguard metrics: %w", err)
		}
	}
	return nil
}
