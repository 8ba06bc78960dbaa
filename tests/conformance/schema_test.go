package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ownFields are top-level EVE fields and event types interdict adds to
// Suricata's: the identity a flow belongs to, the appliance's
// interruption events and the flow record's app_proto_reason (why the
// protocol was, or was not, detected). Suricata's schema does not know
// them; everything else must validate.
var ownFields = map[string]bool{"identity": true, "interruption": true, "app_proto_reason": true}

// TestEVESchema replays every conformance case and validates each EVE
// event against Suricata's own EVE JSON schema (testdata/eve-schema,
// see PROVENANCE.md there): field names, types and nesting as Suricata
// writes them, so a SIEM pipeline built for Suricata reads ours.
func TestEVESchema(t *testing.T) {
	schema := loadSchema(t)
	types := map[string]int{}
	violations := map[string][]string{}
	forEachCase(t, func(_, testsRoot, dir, classification string) {
		s, err := LoadSpec(testsRoot, dir)
		if err != nil {
			return
		}
		events, _, err := replayCase(s, classification)
		if err != nil {
			return
		}
		for _, ev := range events {
			typ, _ := ev["event_type"].(string)
			types[typ]++
			for k := range ownFields {
				delete(ev, k)
			}
			// We write Suricata 8's verdict.reject-target (the version
			// the suite follows); the schema is newer and spells it
			// reject_target.
			if v, ok := ev["verdict"].(map[string]any); ok {
				if rt, ok := v["reject-target"]; ok {
					v["reject_target"] = rt
					delete(v, "reject-target")
				}
			}
			for _, v := range schema.validate(ev) {
				key := typ + ": " + v
				if len(violations[key]) < 3 {
					violations[key] = append(violations[key], s.Name)
				}
			}
		}
	})
	t.Logf("validated event types: %v", types)
	require.NotZero(t, types["alert"])
	require.NotZero(t, types["flow"])
	var keys []string
	for k := range violations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("%s (e.g. %s)", k, strings.Join(violations[k], ", "))
	}
}

// jschema is the subset of JSON Schema (2020-12) Suricata's schema uses:
// type, properties, additionalProperties, required, items, minItems,
// enum, const, pattern, minimum, oneOf and local $ref into $defs.
type jschema struct {
	root map[string]any
	re   sync.Map // pattern -> *regexp.Regexp
}

func loadSchema(t *testing.T) *jschema {
	b, err := os.ReadFile(filepath.Join("testdata", "eve-schema", "schema.json"))
	require.NoError(t, err)
	var root map[string]any
	require.NoError(t, json.Unmarshal(b, &root))
	return &jschema{root: root}
}

func (s *jschema) validate(v any) []string {
	var out []string
	s.check(s.root, v, "", &out)
	return out
}

func (s *jschema) check(sc map[string]any, v any, path string, out *[]string) {
	if ref, ok := sc["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, "#/$defs/")
		def, _ := s.root["$defs"].(map[string]any)[name].(map[string]any)
		if !found || def == nil {
			*out = append(*out, path+": unresolved $ref "+ref)
			return
		}
		s.check(def, v, path, out)
	}
	if one, ok := sc["oneOf"].([]any); ok {
		n := 0
		for _, alt := range one {
			var sub []string
			s.check(alt.(map[string]any), v, path, &sub)
			if len(sub) == 0 {
				n++
			}
		}
		if n != 1 {
			*out = append(*out, fmt.Sprintf("%s: matches %d of oneOf", path, n))
		}
	}
	if typ, ok := sc["type"]; ok && !typeOK(typ, v) {
		*out = append(*out, fmt.Sprintf("%s: type %s, want %v", path, jsonType(v), typ))
		return
	}
	if c, ok := sc["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		*out = append(*out, fmt.Sprintf("%s: %v, want %v", path, v, c))
	}
	if en, ok := sc["enum"].([]any); ok {
		hit := false
		for _, e := range en {
			hit = hit || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !hit {
			*out = append(*out, fmt.Sprintf("%s: %v not in enum", path, v))
		}
	}
	switch x := v.(type) {
	case string:
		if p, ok := sc["pattern"].(string); ok && !s.regexp(p).MatchString(x) {
			*out = append(*out, fmt.Sprintf("%s: %q does not match %s", path, x, p))
		}
	case float64:
		if m, ok := sc["minimum"].(float64); ok && x < m {
			*out = append(*out, fmt.Sprintf("%s: %v below minimum %v", path, x, m))
		}
	case []any:
		if m, ok := sc["minItems"].(float64); ok && float64(len(x)) < m {
			*out = append(*out, fmt.Sprintf("%s: %d items, want at least %v", path, len(x), m))
		}
		if it, ok := sc["items"].(map[string]any); ok {
			for _, e := range x {
				s.check(it, e, path+"[]", out)
			}
		}
	case map[string]any:
		props, _ := sc["properties"].(map[string]any)
		for _, r := range asList(sc["required"]) {
			if _, ok := x[r.(string)]; !ok {
				*out = append(*out, path+"."+r.(string)+": required")
			}
		}
		for k, e := range x {
			if p, ok := props[k].(map[string]any); ok {
				s.check(p, e, path+"."+k, out)
				continue
			}
			switch ap := sc["additionalProperties"].(type) {
			case bool:
				if !ap {
					*out = append(*out, path+"."+k+": not in the schema")
				}
			case map[string]any:
				s.check(ap, e, path+"."+k, out)
			}
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

func (s *jschema) regexp(p string) *regexp.Regexp {
	if r, ok := s.re.Load(p); ok {
		return r.(*regexp.Regexp)
	}
	r := regexp.MustCompile(p)
	s.re.Store(p, r)
	return r
}

func typeOK(want, v any) bool {
	if l, ok := want.([]any); ok {
		for _, w := range l {
			if typeOK(w, v) {
				return true
			}
		}
		return false
	}
	got := jsonType(v)
	return got == want || want == "number" && got == "integer"
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func TestSchemaValidatorCatchesMismatches(t *testing.T) {
	s := loadSchema(t)
	ok := map[string]any{"event_type": "alert", "timestamp": "2026-12-03T09:00:00.000000+0000",
		"alert": map[string]any{"signature_id": float64(1)}}
	assert.Empty(t, s.validate(ok))
	bad := map[string]any{"event_type": "alert", "timestamp": "yesterday",
		"alert": map[string]any{"signature_id": "one", "no_such_field": true}, "no_such_top": 1.0}
	got := strings.Join(s.validate(bad), "\n")
	assert.Contains(t, got, ".timestamp")
	assert.Contains(t, got, ".alert.signature_id: type string")
	assert.Contains(t, got, ".alert.no_such_field: not in the schema")
	assert.Contains(t, got, ".no_such_top: not in the schema")
}
