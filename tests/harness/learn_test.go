package harness

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/policy/policytest"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/inspect/eve"
)

// TestLearnSuggestEnforce: an audit (ids) policy records what runner-a
// reaches; the suggested allow list, loaded in ips mode, passes that
// traffic and denies a new destination.
func TestLearnSuggestEnforce(t *testing.T) {
	leakCheck(t)
	st, err := state.Open(t.TempDir())
	require.NoError(t, err)
	// The fake clock stops the sweeper; the test flushes observations.
	in := newIdentNet(t, identSetup{store: st, clock: policytest.NewClock(time.Now()),
		policies: []identity.PolicyConfig{{Name: "audit", Identities: []string{"runner-a"}, Mode: "ids"}}})
	e := in.e
	dns := &dnsServer{}
	dns.run(t, in.n)
	for _, port := range []uint16{5432, 8080} {
		srv := &reqServer{}
		serve(t, in.n, netip.AddrPortFrom(ServerAddr, port), srv.serve)
	}
	hellos := newHelloSink()
	serve(t, in.n, tlsAP, hellos.serve)

	httpReq := func(method, path string) error {
		got, err := request(t, in.n, ClientAddr, httpAP, method+" "+path+" HTTP/1.1\r\nHost: example.test\r\n\r\n")
		if err == nil {
			assert.Equal(t, httpResponse, got)
		}
		return err
	}
	db := func() error {
		_, err := request(t, in.n, ClientAddr, netip.AddrPortFrom(ServerAddr, 5432), "STARTUP\r\n\r\n")
		return err
	}
	traffic := func() {
		resolve(t, in.n, ClientAddr, "db.example.test")
		require.NoError(t, db())
		for _, sni := range []string{"a.svc.example.test", "b.svc.example.test", "c.svc.example.test"} {
			err := tlsHello(t, in.n, ClientAddr, sni)
			require.Error(t, err) // the sink closes after the hello
			assert.NotContains(t, err.Error(), "reset", sni)
		}
		require.NoError(t, httpReq("GET", "/v1/status"))
		require.NoError(t, httpReq("POST", "/v1/jobs"))
	}
	traffic()
	assert.NotEmpty(t, in.eve.of(t, eve.TypePolicy, 0), "the audit writes would-deny events")
	for _, ev := range in.eve.of(t, eve.TypePolicy, 0) {
		assert.Equal(t, "would-deny", ev.Policy.Action)
	}

	e.FlushObservations()
	obs, err := identity.LoadObservations(st, "runner-a", "")
	require.NoError(t, err)
	suggested := identity.Suggest(obs, time.Time{}, "runner-a-egress", "runner-a", "")
	t.Logf("suggested:\n%s", suggested)
	assert.Contains(t, suggested, `{to: "*.svc.example.test", ports: [443], proto: tcp}`, "siblings collapse into a wildcard")
	assert.Contains(t, suggested, `{to: "db.example.test", ports: [5432], proto: tcp}`, "a DNS answer names the address")
	assert.Contains(t, suggested, `{to: "example.test", ports: [8080], proto: tcp, methods: [GET, POST], paths: ["/v1/"]}`)

	var cfg struct {
		Policies []identity.PolicyConfig `yaml:"policies"`
	}
	require.NoError(t, yaml.Load([]byte(suggested), &cfg, yaml.WithKnownFields()), "the suggestion is the config's own syntax")
	require.NoError(t, e.SetPolicies(cfg.Policies, nil))
	before := len(in.eve.of(t, eve.TypePolicy, 0))
	traffic()
	assert.Len(t, in.eve.of(t, eve.TypePolicy, 0), before, "the learned traffic passes without a denial")

	err = tlsHello(t, in.n, ClientAddr, "evil.test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "a new destination is denied")
	err = httpReq("DELETE", "/v1/jobs")
	require.Error(t, err, "a method never seen is denied")
	evs := in.eve.of(t, eve.TypePolicy, 0)
	require.Len(t, evs, before+2)
	assert.Equal(t, "deny", evs[before].Policy.Action)
	assert.Equal(t, "evil.test", evs[before].Policy.Name)
	assert.True(t, strings.HasPrefix(evs[before+1].Policy.Reason, "HTTP request"))
}
