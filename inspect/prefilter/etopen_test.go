package prefilter

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/interdict/interdict/tests/testenv"
)

// loadETContents returns every content: pattern of every ET Open rule file
// (disabled rules too: they are real-world literals all the same), with
// |hex| escapes decoded and nocase honoured. It is a test-only parser of
// the content string, not a rule parser.
func loadETContents(tb testing.TB) []Pattern {
	tb.Helper()
	etOpenDir := testenv.ETOpenDir(tb)
	files, err := filepath.Glob(filepath.Join(etOpenDir, "*.rules"))
	if err != nil || len(files) == 0 {
		testenv.SkipOrFail(tb, fmt.Sprintf("no rule files in %s (%v)", etOpenDir, err))
	}
	sort.Strings(files)
	var pats []Pattern
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatalf("open %s: %v", f, err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for line := 1; sc.Scan(); line++ {
			ps, err := parseContents(sc.Text())
			if err != nil {
				tb.Fatalf("%s:%d: %v", f, line, err)
			}
			for _, p := range ps {
				p.ID = uint32(len(pats))
				pats = append(pats, p)
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			tb.Fatalf("read %s: %v", f, err)
		}
	}
	return pats
}

// parseContents extracts the content strings of one rule line.
func parseContents(line string) ([]Pattern, error) {
	var out []Pattern
	const kw = "content:"
	for {
		i := strings.Index(line, kw)
		if i < 0 {
			return out, nil
		}
		line = strings.TrimLeft(line[i+len(kw):], " !")
		if !strings.HasPrefix(line, `"`) {
			continue
		}
		data, rest, err := parseContentString(line[1:])
		if err != nil {
			return nil, err
		}
		mods := rest
		if j := strings.Index(mods, kw); j >= 0 {
			mods = mods[:j]
		}
		line = rest
		if len(data) == 0 {
			continue
		}
		out = append(out, Pattern{Data: data, Nocase: strings.Contains(mods, "nocase")})
	}
}

func parseContentString(s string) (data []byte, rest string, err error) {
	hex := false
	var nib []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case hex && c == '|':
			hex = false
			if len(nib) != 0 {
				return nil, "", fmt.Errorf("odd hex digits in content")
			}
		case hex && c == ' ':
		case hex:
			v, ok := hexVal(c)
			if !ok {
				return nil, "", fmt.Errorf("bad hex digit %q in content", c)
			}
			nib = append(nib, v)
			if len(nib) == 2 {
				data = append(data, nib[0]<<4|nib[1])
				nib = nib[:0]
			}
		case c == '|':
			hex = true
		case c == '\\' && i+1 < len(s):
			i++
			data = append(data, s[i])
		case c == '"':
			return data, s[i+1:], nil
		default:
			data = append(data, c)
		}
	}
	return nil, "", fmt.Errorf("unterminated content string")
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func TestParseContents(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []Pattern
	}{
		{"plain", `alert tcp any any -> any any (msg:"x"; content:"GET /"; sid:1;)`, []Pattern{{Data: []byte("GET /")}}},
		{"hex and nocase", `alert tcp any any -> any any (content:"|0d 0a|User-Agent|3a| "; nocase; content:"abc"; sid:1;)`,
			[]Pattern{{Data: []byte("\r\nUser-Agent: "), Nocase: true}, {Data: []byte("abc")}}},
		{"negated and escapes", `alert tcp any any -> any any (content:!"a\;b\"c\\"; sid:1;)`, []Pattern{{Data: []byte(`a;b"c\`)}}},
		{"binary", `# alert tcp any any -> any any (content:"|00 ff|x|7C|"; sid:1;)`, []Pattern{{Data: []byte{0, 0xff, 'x', '|'}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseContents(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d patterns %v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i].Data, tt.want[i].Data) || got[i].Nocase != tt.want[i].Nocase {
					t.Errorf("pattern %d: got %q nocase=%v, want %q nocase=%v", i, got[i].Data, got[i].Nocase, tt.want[i].Data, tt.want[i].Nocase)
				}
			}
		})
	}
}

func TestETOpenStats(t *testing.T) {
	pats := loadETContents(t)
	uniq := map[string]bool{}
	nocase, maxLen := 0, 0
	for _, p := range pats {
		uniq[fmt.Sprint(p.Nocase, string(p.Data))] = true
		if p.Nocase {
			nocase++
		}
		maxLen = max(maxLen, len(p.Data))
	}
	t.Logf("ET Open: %d content patterns, %d distinct, %d nocase, longest %d bytes", len(pats), len(uniq), nocase, maxLen)
	m, err := newAC(pats, acDenseBudget)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ac: %d classes, %d states (%d dense), %.1f MiB", m.nc, len(m.states), m.nDense, float64(m.Size())/(1<<20))
}

func TestDetectGroupStats(t *testing.T) {
	if LoadDetectGroups == nil {
		t.Skip("external test package not linked")
	}
	groups := LoadDetectGroups(t)
	total := 0
	for i, g := range groups {
		total += len(g.Patterns)
		var short [5]int
		longest := 0
		uniq := map[string]bool{}
		for _, p := range g.Patterns {
			longest = max(longest, len(p.Data))
			if n := len(p.Data); n < len(short) {
				short[n]++
			}
			uniq[fmt.Sprint(p.Nocase, string(p.Data))] = true
		}
		if i < 12 {
			t.Logf("%-40s %6d patterns (%d distinct), len1 %d len2 %d len3 %d len4 %d, longest %d", g.Name, len(g.Patterns), len(uniq), short[1], short[2], short[3], short[4], longest)
		}
	}
	t.Logf("%d groups, %d patterns", len(groups), total)
}
