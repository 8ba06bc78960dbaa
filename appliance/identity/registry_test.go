package identity

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func entry(name string, tags []string, prefixes ...string) Entry {
	e := Entry{Identity: &Identity{Name: name, Tags: tags}}
	for _, p := range prefixes {
		e.Prefixes = append(e.Prefixes, netip.MustParsePrefix(p))
	}
	return e
}

func TestRegistryLongestPrefixAcrossSources(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Replace("config", []Entry{
		entry("office", nil, "10.0.0.0/8", "fd00::/48"),
		entry("ci", []string{"ci"}, "10.1.0.0/16"),
	}))
	require.NoError(t, r.Put("wireguard", entry("runner-a", []string{"ci", "linux"}, "10.1.2.3/32", "fd00::3/128")))

	for addr, want := range map[string]string{
		"10.1.2.3":        "runner-a",
		"::ffff:10.1.2.3": "runner-a",
		"10.1.9.9":        "ci",
		"10.200.0.1":      "office",
		"fd00::3":         "runner-a",
		"fd00::4":         "office",
		"192.168.1.1":     "",
		"2001:db8::1":     "",
	} {
		got := r.Lookup(netip.MustParseAddr(addr))
		assert.Equal(t, want, got.IdentityName(), addr)
		if want == "" {
			assert.Nil(t, r.FlowIdentity(netip.MustParseAddr(addr)), "a missing identity is a nil interface")
		}
	}
	assert.Equal(t, []string{"ci", "runner-a"}, names(r.Tagged("ci")))
	assert.Equal(t, 3, r.Len())
}

func TestRegistryConflictsChangeNothing(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Put("wireguard", entry("runner-a", nil, "100.96.0.2/32")))
	err := r.Put("wireguard", entry("runner-b", nil, "100.96.0.2/32"))
	assert.ErrorContains(t, err, `prefix 100.96.0.2/32 of "runner-b" already belongs to "runner-a"`)
	err = r.Replace("config", []Entry{entry("runner-a", nil, "10.0.0.0/8")})
	assert.ErrorContains(t, err, `name "runner-a" is already an identity`)
	assert.Equal(t, "runner-a", r.Lookup(netip.MustParseAddr("100.96.0.2")).IdentityName())
	assert.Nil(t, r.Lookup(netip.MustParseAddr("10.0.0.1")))
	_, ok := r.Get("runner-b")
	assert.False(t, ok)
}

func TestRegistryRemoveAndReplace(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Put("wireguard", entry("a", nil, "100.96.0.2/32")))
	require.NoError(t, r.Put("wireguard", entry("b", nil, "100.96.0.3/32")))
	old := r.Lookup(netip.MustParseAddr("100.96.0.2"))
	// Re-adding publishes a new value; the old pointer stays valid for
	// the flows that hold it.
	require.NoError(t, r.Put("wireguard", entry("a", []string{"new"}, "100.96.0.2/32")))
	assert.NotSame(t, old, r.Lookup(netip.MustParseAddr("100.96.0.2")))
	assert.True(t, r.Remove("wireguard", "b"))
	assert.False(t, r.Remove("wireguard", "b"))
	assert.Nil(t, r.Lookup(netip.MustParseAddr("100.96.0.3")))
	assert.Equal(t, []string{"a"}, names(r.All()))
}

func names(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Identity.Name)
	}
	return out
}

func BenchmarkRegistryLookup1000Peers(b *testing.B) {
	r := NewRegistry()
	var es []Entry
	for i := range 1000 {
		es = append(es, entry(fmt.Sprintf("peer-%d", i), nil,
			fmt.Sprintf("100.96.%d.%d/32", i/250, i%250+2), fmt.Sprintf("fd00::%x/128", i+2)))
	}
	require.NoError(b, r.Replace("wireguard", es))
	addr := netip.MustParseAddr("100.96.3.100")
	b.ReportAllocs()
	for b.Loop() {
		if r.Lookup(addr) == nil {
			b.Fatal("not found")
		}
	}
}
