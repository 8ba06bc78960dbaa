package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const scrape = `# HELP interdict_enforce_match_verdict_seconds x
# TYPE interdict_enforce_match_verdict_seconds histogram
interdict_enforce_match_verdict_seconds_bucket{le="1e-06"} 0
interdict_enforce_match_verdict_seconds_bucket{le="4e-06"} 0
interdict_enforce_match_verdict_seconds_bucket{le="1.6e-05"} 10
interdict_enforce_match_verdict_seconds_bucket{le="6.4e-05"} 90
interdict_enforce_match_verdict_seconds_bucket{le="+Inf"} 100
interdict_enforce_match_verdict_seconds_sum 0.003
interdict_enforce_match_verdict_seconds_count 100
interdict_enforce_inspect_seconds_bucket{le="1e-06"} 7
`

func TestParseHistogramAndQuantile(t *testing.T) {
	bs, err := parseHistogram(scrape, "interdict_enforce_match_verdict_seconds")
	require.NoError(t, err)
	require.Len(t, bs, 5, "only this metric's buckets, +Inf included")
	tests := []struct {
		name string
		q    float64
		want float64
		inf  bool
	}{
		// rank 50 lies 40 of 80 observations into (16us, 64us].
		{"median interpolated in its bucket", 0.5, 40e-6, false},
		// rank 5 is half of the first non-empty bucket (4us, 16us].
		{"low quantile", 0.05, 10e-6, false},
		{"in +Inf bucket is a lower bound", 0.99, 64e-6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, inf := quantile(bs, tt.q)
			assert.InDelta(t, tt.want, v, 1e-12)
			assert.Equal(t, tt.inf, inf)
		})
	}
}

func TestParseHistogramMissing(t *testing.T) {
	_, err := parseHistogram(scrape, "interdict_nope_seconds")
	require.Error(t, err)
}

func TestPercentileNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Microsecond)
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Microsecond}, {99, 99 * time.Microsecond}, {100, 100 * time.Microsecond}, {0.1, time.Microsecond}} {
		assert.Equal(t, tt.want, percentile(s, tt.p), "p%v", tt.p)
	}
	assert.Zero(t, percentile(nil, 50))
}
