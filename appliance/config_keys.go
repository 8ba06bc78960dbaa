package appliance

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// ConfigError is one bad key of a config file. Its text is
// "config: FILE:LINE: KEY: REASON"; Key is the dotted path of the key
// (identities.0.name, policy.block.on_alert[1].for) so tools and tests
// can tell which key it is without parsing the text.
type ConfigError struct {
	Source string
	Line   int
	Key    string
	Msg    string
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("config: %s:%d: %s", e.Source, e.Line, e.Msg)
	}
	return fmt.Sprintf("config: %s:%d: %s: %s", e.Source, e.Line, e.Key, e.Msg)
}

// ConfigErrors are all the errors a decode found; each is on its own line.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As find each *ConfigError.
func (es ConfigErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// configType is the Go type the YAML document decodes into.
var configType = reflect.TypeFor[Config]()

// typeAt walks a key path (keyParts) through the config's Go types: a
// struct field by its yaml tag, a sequence element by any index, a map
// value by any key.
func typeAt(parts []string) (reflect.Type, bool) {
	t := configType
	for _, p := range parts {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByKey(t, p)
			if !ok {
				return nil, false
			}
			t = f.Type
		case reflect.Slice:
			if _, err := strconv.Atoi(p); err != nil {
				return nil, false
			}
			t = t.Elem()
		case reflect.Map:
			t = t.Elem()
		default:
			return nil, false
		}
	}
	return t, true
}

// yamlKey is a struct field's YAML key, "" for a field YAML ignores.
func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// structKeys lists the YAML keys of a struct type in declaration order.
func structKeys(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// nearest returns the candidate closest to name by edit distance, or ""
// when none is close enough to be a plausible typo.
func nearest(name string, candidates []string) string {
	best, bestD := "", len(name)/2+2
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short keys.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// keyPathAt finds the dotted path of the mapping key named name at line
// (or, with name "", of the key whose value starts at line and column),
// so a decoder error, which knows only a position, names the key.
func keyPathAt(root *yaml.Node, line, col int, name string) (string, bool) {
	var walk func(n *yaml.Node, path string) (string, bool)
	walk = func(n *yaml.Node, path string) (string, bool) {
		join := func(k string) string {
			if path == "" {
				return k
			}
			return path + "." + k
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p, ok := walk(c, path); ok {
					return p, true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if name != "" && k.Line == line && k.Value == name {
					return join(k.Value), true
				}
				if name == "" && v.Line == line && (col == 0 || v.Column == col) {
					return join(k.Value), true
				}
				if p, ok := walk(v, join(k.Value)); ok {
					return p, true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if p, ok := walk(c, join(strconv.Itoa(i))); ok {
					return p, true
				}
			}
		}
		return "", false
	}
	if root == nil {
		return "", false
	}
	return walk(root, "")
}

// unknownKey explains a key the config types do not have: its full path
// and, when one is close, the valid key it was probably meant to be.
func unknownKey(root *yaml.Node, line int, name string) (key, msg string) {
	path, ok := keyPathAt(root, line, 0, name)
	if !ok {
		return name, "unknown key"
	}
	parts := keyParts(path)
	parent, _ := typeAt(parts[:len(parts)-1])
	var valid []string
	if parent != nil {
		valid = structKeys(parent)
	}
	msg = "unknown key"
	if s := nearest(name, valid); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	} else if len(valid) > 0 {
		msg += " (valid here: " + strings.Join(valid, ", ") + ")"
	}
	return path, msg
}
