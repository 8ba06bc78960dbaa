package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/replay"
	"github.com/interdict/interdict/tests/testenv"
)

// corpusDir is the shared corpus: INTERDICT_CORPUS, or shared/corpus
// beside the repository root (testenv.CorpusDir).
func corpusDir(t *testing.T) string { return testenv.CorpusDir(t) }

// Floors the suite holds interdict to, set at the level reached so that
// CI keeps it: over both corpora (193 cases) 166 of 171 applicable tests
// pass (97.1%) and 22 are not applicable (11.4%). The goal is
// 95% of applicable tests with at most 20% not applicable; raise these
// as the pass rate rises.
const (
	minPassRatio = 0.97 // of applicable tests
	maxNARatio   = 0.12 // of all tests
)

// suites are the corpus directories replayed, as one suite: the cases
// first chosen and the further ones (suricata-verify-next).
var suites = []string{"suricata-verify", "suricata-verify-next"}

func TestConformance(t *testing.T) {
	var pass, fail, na int
	forEachCase(t, func(suite, testsRoot, dir, classification string) {
		name, _ := filepath.Rel(testsRoot, dir)
		o := runOne(testsRoot, dir, classification)
		fmt.Println(o.Line(suite + "/" + filepath.ToSlash(name)))
		switch o.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		default:
			na++
		}
	})
	total := pass + fail + na
	applicable := pass + fail
	fmt.Printf("%d not applicable of %d tests\n", na, total)
	fmt.Printf("%d passed, %d failed\n", pass, fail)

	passRatio := 0.0
	if applicable > 0 {
		passRatio = float64(pass) / float64(applicable)
	}
	assert.GreaterOrEqual(t, passRatio, minPassRatio, "pass ratio %d/%d = %.0f%% of applicable tests, goal %.0f%%", pass, applicable, 100*passRatio, 100*minPassRatio)
	assert.LessOrEqual(t, float64(na)/float64(total), maxNARatio, "%d/%d tests not applicable, goal at most %.0f%%", na, total, 100*maxNARatio)
}

// runOne replays one test case through replay.Setup (the code path of
// `interdict replay`) and evaluates its checks over the EVE lines written.
func runOne(testsRoot, dir, classification string) Outcome {
	s, err := LoadSpec(testsRoot, dir)
	if err != nil {
		return Outcome{Status: Fail, Reason: "loading test.yaml: " + err.Error()}
	}
	facts := scanRules(s.Rules)
	if why := s.TestNA(facts); why != "" {
		return Outcome{Status: NotApplicable, Reason: why}
	}
	events, loaded, err := replayCase(s, classification)
	if err != nil {
		return Outcome{Status: Fail, Reason: err.Error()}
	}
	o := s.Evaluate(events, facts)
	if o.Status == Fail && len(loaded.Rejected) > 0 {
		var rej []string
		for _, e := range loaded.Rejected {
			rej = append(rej, fmt.Sprintf("sid %d: %s", e.SID, e.Reason))
		}
		o.Reason += " [rejected rules: " + strings.Join(rej, "; ") + "]"
	}
	return o
}

// forEachCase calls fn for every case directory of every suite, in
// order, with the ET Open classification.config when the corpus has it.
func forEachCase(t *testing.T, fn func(suite, testsRoot, dir, classification string)) {
	corpus := corpusDir(t)
	classification := filepath.Join(corpus, "et-open", "classification.config")
	if _, err := os.Stat(classification); err != nil {
		classification = ""
	}
	for _, suite := range suites {
		testsRoot := filepath.Join(corpus, suite, "tests")
		testenv.RequireFile(t, testsRoot)
		var dirs []string
		require.NoError(t, filepath.WalkDir(testsRoot, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == "test.yaml" {
				dirs = append(dirs, filepath.Dir(p))
			}
			return nil
		}))
		sort.Strings(dirs)
		require.NotEmpty(t, dirs, suite)
		for _, dir := range dirs {
			fn(suite, testsRoot, dir, classification)
		}
	}
}

// replayCase replays one case through replay.Setup (the code path of
// `interdict replay`) with the case's options and returns its events.
func replayCase(s *Spec, classification string) ([]map[string]any, replay.Loaded, error) {
	var out bytes.Buffer
	mode := replay.ModeIDS
	if s.Opts.IPS {
		mode = replay.ModeIPS
	}
	w := eve.NewWriter(&out)
	w.SetOptions(s.Opts.EVE.Writer)
	setup := replay.Setup{
		Pcap: s.Pcap, Rules: s.Rules, Classification: classification, ThresholdConfig: s.Opts.ThresholdFile,
		HTTPBodyLimit: s.Opts.HTTPBodyLimit, ActionOrder: s.Opts.ActionOrder,
		HTTPLimits: http1.Limits{HeaderLog: s.Opts.EVE.HTTPHeaders},
		Config: replay.Config{Mode: mode, Midstream: s.Opts.Midstream, MidstreamDrop: s.Opts.MidstreamDrop, DropStart: s.Opts.DropStart,
			AsyncOneside: s.Opts.AsyncOneside, StreamInline: s.Opts.StreamInline, Events: w, Netflow: s.Opts.EVE.Netflow,
			Urgent: s.Opts.Urgent, UrgentOOBLimit: s.Opts.UrgentOOBLimit, FlowTimeouts: s.Opts.FlowTimeouts},
	}
	_, loaded, err := setup.Run()
	if err != nil {
		return nil, loaded, fmt.Errorf("replay: %w", err)
	}
	events, err := readEVE(&out)
	if err != nil {
		return nil, loaded, fmt.Errorf("reading our eve.json: %w", err)
	}
	return events, loaded, nil
}

func readEVE(b *bytes.Buffer) ([]map[string]any, error) {
	var events []map[string]any
	sc := bufio.NewScanner(b)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("line %q: %w", sc.Text(), err)
		}
		events = append(events, m)
	}
	return events, sc.Err()
}
