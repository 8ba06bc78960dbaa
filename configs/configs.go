// Package configs holds the files embedded into the interdict binary: the
// default appliance configuration (default.yaml), so `interdict run`
// works without flags.
//
// configs imports nothing of ours.
package configs

import _ "embed"

// Default is default.yaml, the configuration `interdict run` uses when no
// --config is given.
//
//go:embed default.yaml
var Default []byte

// PrometheusAlerts is prometheus/alerts.yaml, alerting rules over the
// metrics the appliance exports, for operators to load into Prometheus.
//
//go:embed prometheus/alerts.yaml
var PrometheusAlerts []byte
