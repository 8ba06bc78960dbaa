package ruleset

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/prefilter"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good.rules", "# comment\n"+
		`drop tcp $HOME_NET any -> any any (msg:"evil"; content:"EVIL"; classtype:bad-unknown; sid:1; rev:1;)`+"\n")
	bad := write(t, dir, "bad.rules", "\n"+
		`alert tcp any any -> any any (msg:"ok"; content:"fine"; sid:2;)`+"\n"+
		`alert tcp any any -> any any (msg:"broken"; nosuchkeyword; sid:3;)`+"\n")
	class := write(t, dir, "classification.config", "config classification: bad-unknown,Potentially Bad Traffic,2\n")
	brokenClass := write(t, dir, "broken.config", "config classification: bad-unknown\n")
	pack := fstest.MapFS{"p.rules": {Data: []byte(`alert tcp any any -> any any (msg:"pack"; content:"PACK"; sid:4;)` + "\n")}}

	t.Run("disk-and-fs", func(t *testing.T) {
		res, err := Load(Spec{
			Rules:          []File{{Path: good}, {Path: bad}, {FS: pack, Path: "p.rules", Name: "pack/p.rules"}},
			Classification: &File{Path: class},
			Vars:           map[string]string{"HOME_NET": "[10.0.0.0/8]"},
		})
		require.NoError(t, err)
		assert.Equal(t, 3, res.Loaded)
		require.Len(t, res.Rejected, 1)
		assert.Equal(t, bad, res.Rejected[0].File)
		assert.Equal(t, 3, res.Rejected[0].Line)
		assert.Equal(t, 3, res.Rejected[0].SID)
		require.Len(t, res.Files, 3)
		assert.Equal(t, "pack/p.rules", res.Files[2].File)

		// The engine is live: the drop rule fires on its content.
		fi := res.Engine.NewFlow(inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP,
			Src: netip.MustParseAddrPort("10.0.0.2:4000"), Dst: netip.MustParseAddrPort("10.99.0.1:80")})
		r := fi.Inspect(inspect.ToServer, []byte("xxEVILxx"))
		assert.Equal(t, inspect.ActionDrop, r.Action)
	})
	t.Run("action-order", func(t *testing.T) {
		both := write(t, dir, "both.rules", `pass tcp any any -> any any (content:"GO"; sid:10;)`+"\n"+
			`drop tcp any any -> any any (content:"GO"; sid:11;)`+"\n")
		for _, tc := range []struct {
			name  string
			order []string
			want  inspect.Action
		}{
			{"default: pass wins", nil, inspect.ActionPass},
			{"drop first", []string{"drop", "pass", "reject", "alert"}, inspect.ActionDrop},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, err := Load(Spec{Rules: []File{{Path: both}}, ActionOrder: tc.order})
				require.NoError(t, err)
				fi := res.Engine.NewFlow(inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP,
					Src: netip.MustParseAddrPort("10.0.0.2:4000"), Dst: netip.MustParseAddrPort("10.99.0.1:80")})
				assert.Equal(t, tc.want, fi.Inspect(inspect.ToServer, []byte("GO")).Action)
			})
		}
	})
	t.Run("unknown-classtype-rejects", func(t *testing.T) {
		empty := write(t, dir, "empty.config", "\n")
		res, err := Load(Spec{Rules: []File{{Path: good}}, Classification: &File{Path: empty}})
		require.NoError(t, err)
		assert.Zero(t, res.Loaded)
		require.Len(t, res.Rejected, 1)
		assert.Contains(t, res.Rejected[0].Error(), "good.rules:2:")
	})
	errs := []struct {
		name string
		spec Spec
		want string
	}{
		{"no-rules", Spec{}, "no rule files"},
		{"missing-file", Spec{Rules: []File{{Path: filepath.Join(dir, "nope.rules")}}}, "nope.rules"},
		{"missing-in-fs", Spec{Rules: []File{{FS: pack, Path: "x.rules", Name: "pack/x.rules"}}}, "pack/x.rules"},
		{"broken-classification", Spec{Rules: []File{{Path: good}}, Classification: &File{Path: brokenClass}}, brokenClass + ":1:"},
		{"bad-action-order", Spec{Rules: []File{{Path: good}}, ActionOrder: []string{"drop", "pass"}}, "action-order"},
		{"missing-threshold", Spec{Rules: []File{{Path: good}}, ThresholdConfig: &File{Path: filepath.Join(dir, "t.config")}}, "threshold config"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.spec)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Spec.Prefilter is the engine the rule groups are compiled with.
func TestLoadPrefilter(t *testing.T) {
	rules := write(t, t.TempDir(), "r.rules", `drop tcp any any -> any any (msg:"evil"; content:"EVIL"; sid:1;)`+"\n")
	built := 0
	res, err := Load(Spec{Rules: []File{{Path: rules}}, Prefilter: func(ps []prefilter.Pattern) (prefilter.Matcher, error) {
		built++
		return prefilter.NewAC(ps)
	}})
	require.NoError(t, err)
	assert.Positive(t, built, "the rule groups were compiled with the spec's engine")
	fi := res.Engine.NewFlow(inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP,
		Src: netip.MustParseAddrPort("10.0.0.2:4000"), Dst: netip.MustParseAddrPort("10.99.0.1:80")})
	assert.Equal(t, inspect.ActionDrop, fi.Inspect(inspect.ToServer, []byte("xxEVILxx")).Action)
}
