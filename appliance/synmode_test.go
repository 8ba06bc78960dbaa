package appliance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

func TestSYNModeChangesInEVE(t *testing.T) {
	fx := newFixture(t, "")
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	fx.a.synModeEvent(netstack.SYNModeChange{Mode: netstack.ValidateFirst, Reason: "test", At: at, InFlight: 64})
	fx.a.synModeEvent(netstack.SYNModeChange{Mode: netstack.DialFirst, Reason: "calm", At: at.Add(time.Minute)})
	var got []eve.Event
	for _, ev := range fx.events(t) {
		if ev.EventType == eve.TypeAnomaly {
			got = append(got, ev)
		}
	}
	require.Len(t, got, 2)
	assert.Equal(t, AnomalySYNPressure, got[0].Anomaly.Event)
	assert.Equal(t, "stream", got[0].Anomaly.Type)
	assert.True(t, got[0].Timestamp.Equal(at))
	assert.Equal(t, AnomalySYNPressureOver, got[1].Anomaly.Event)
}
