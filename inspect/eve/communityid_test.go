package eve

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

func TestCommunityID(t *testing.T) {
	// The example of the Community ID specification's README.
	m := inspect.FlowMeta{Proto: inspect.ProtoTCP,
		Src: netip.MustParseAddrPort("128.232.110.120:34855"), Dst: netip.MustParseAddrPort("66.35.250.204:80")}
	assert.Equal(t, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", CommunityID(&m))
	// Both directions of a flow have one ID.
	r := inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: m.Dst, Dst: m.Src}
	assert.Equal(t, CommunityID(&m), CommunityID(&r))
	assert.Equal(t, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", Base(m.Start, TypeFlow, &r, inspect.ToServer).CommunityID)
	assert.Empty(t, CommunityID(&inspect.FlowMeta{Proto: inspect.ProtoICMP, Src: m.Src, Dst: m.Dst}))
}
