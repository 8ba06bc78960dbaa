package eve

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// Suricata's alert records carry the transaction's http object when the
// alert happened in one (eve-log alert metadata).
func TestAlertCarriesHTTP(t *testing.T) {
	tests := []struct {
		name string
		http *inspect.HTTPTx
		want map[string]any // nil: no http key
	}{
		{"in a transaction", &inspect.HTTPTx{Hostname: "suricata.io", URL: "/", Method: "GET", Protocol: "HTTP/1.1", UserAgent: "curl/8.5.0"},
			map[string]any{"hostname": "suricata.io", "url": "/", "http_method": "GET", "protocol": "HTTP/1.1", "http_user_agent": "curl/8.5.0"}},
		{"no transaction", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := inspect.Alert{Rule: &inspect.RuleInfo{SID: 3}, Dir: inspect.ToServer, AppProto: "http", HTTP: tc.http}
			_, m := encode(t, NewAlert(testTS, &testMeta, &a, false))
			if tc.want == nil {
				assert.NotContains(t, m, "http")
				return
			}
			require.Contains(t, m, "http")
			got := m["http"].(map[string]any)
			for k, v := range tc.want {
				assert.Equal(t, v, got[k], k)
			}
			assert.Equal(t, "alert", m["event_type"])
		})
	}
}
