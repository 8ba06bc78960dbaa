package eve

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

type varsFlow struct {
	inspect.FlowInspector
	bits []string
	ints map[string]int64
	ent  map[string]float64
}

func (f varsFlow) FlowBits() []string          { return f.bits }
func (f varsFlow) FlowInts() map[string]int64  { return f.ints }
func (f varsFlow) Entropy() map[string]float64 { return f.ent }

// MetadataOf writes what the inspector reports of its flow's state, the
// traffic/ flowbits left to the traffic object, and nothing when there
// is nothing (or no inspector).
func TestMetadataOf(t *testing.T) {
	assert.Nil(t, MetadataOf(nil))
	assert.Nil(t, MetadataOf(varsFlow{bits: []string{"traffic/id/curl"}}))
	m := MetadataOf(varsFlow{bits: []string{"a", "traffic/label/web", "b"}, ints: map[string]int64{"n": 3},
		ent: map[string]float64{"file_data": 4.5}})
	assert.Equal(t, &Metadata{FlowBits: []string{"a", "b"}, FlowInts: map[string]int64{"n": 3},
		Entropy: map[string]float64{"file_data": 4.5}}, m)
}
