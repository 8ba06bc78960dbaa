package appliance

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/configs"
)

// maxCheckErrors bounds the errors CheckConfig reports for one file.
const maxCheckErrors = 50

// CheckConfig validates a config file as LoadConfig does, but reports
// every error it finds rather than the first, in line order, and also
// what `run` would only find later: rule, classification and threshold
// files that cannot be read. After each error it takes the bad key out of
// the document (it then keeps the embedded default, which is valid) and
// validates again, so one mistake does not hide the next. An empty path
// checks the embedded default.
func CheckConfig(path string) []error {
	if path == "" {
		s, err := LoadConfig("")
		if err != nil {
			return []error{err}
		}
		return checkFiles(nil, s)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return []error{fmt.Errorf("config: %w", err)}
	}
	root, err := parseDocument(path, data)
	if err != nil {
		return []error{err}
	}
	orig, _ := parseDocument(path, data) // parsed above; orig keeps the indices the user wrote
	var errs []*ConfigError
	var other []error
	tried := map[string]bool{}
	for len(errs) < maxCheckErrors {
		// The default is parsed anew each round: an overlay merges maps
		// into the copy it starts from.
		def, err := ParseConfig(DefaultSource, configs.Default)
		if err != nil {
			return []error{err}
		}
		c, err := def.overlayNode(path, root)
		if err == nil {
			var s *Settings
			if s, err = c.Validate(); err == nil {
				for _, e := range checkFiles(c, s) {
					var ce *ConfigError
					if errors.As(e, &ce) {
						errs = append(errs, ce)
					} else {
						other = append(other, e)
					}
				}
				break
			}
		}
		var found []*ConfigError
		var ces ConfigErrors
		var ce *ConfigError
		switch {
		case errors.As(err, &ces):
			found = ces
		case errors.As(err, &ce):
			found = []*ConfigError{ce}
		default:
			other = append(other, err)
		}
		progress := false
		for _, e := range found {
			errs = append(errs, e)
			if e.Source == path && dropKey(root, e.Key, tried) {
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	slices.SortStableFunc(errs, func(a, b *ConfigError) int { return cmp.Compare(a.Line, b.Line) })
	// One error per line: the first is the user's mistake; a later one on
	// the same line is what removing that key left behind (an element
	// without its required prefix, say).
	out := make([]error, 0, len(errs)+len(other))
	seen := map[int]bool{}
	for _, e := range errs {
		if !seen[e.Line] {
			seen[e.Line] = true
			e.Key = originalIndices(orig, e)
			out = append(out, e)
		}
	}
	return append(out, other...)
}

var index = regexp.MustCompile(`\d+`)

// originalIndices renumbers the sequence indices of an error's key as the
// user wrote them: removing an earlier element shifted the later ones.
func originalIndices(orig *yaml.Node, e *ConfigError) string {
	parts := keyParts(e.Key)
	if len(parts) == 0 {
		return e.Key
	}
	p, ok := keyPathAt(orig, e.Line, 0, parts[len(parts)-1])
	if !ok {
		return e.Key
	}
	want := keyParts(p)
	if len(want) != len(parts) {
		return e.Key
	}
	var idx []string
	for i, w := range want {
		if _, err := strconv.Atoi(w); err == nil && w != parts[i] {
			if _, err := strconv.Atoi(parts[i]); err != nil {
				return e.Key
			}
		}
		if _, err := strconv.Atoi(w); err == nil {
			idx = append(idx, w)
		}
	}
	n := 0
	return index.ReplaceAllStringFunc(e.Key, func(s string) string {
		if n >= len(idx) {
			return s
		}
		n++
		return idx[n-1]
	})
}

// dropKey removes the key at a dotted path from the document, or, when
// that key was dropped before and the error persists, its parent: each
// call removes something, or reports that nothing is left to remove.
func dropKey(root *yaml.Node, key string, tried map[string]bool) bool {
	parts := keyParts(key)
	for len(parts) > 0 {
		k := fmt.Sprint(parts)
		if !tried[k] {
			tried[k] = true
			if removeAt(root, parts) {
				return true
			}
		}
		parts = parts[:len(parts)-1]
	}
	return false
}

// removeAt deletes the mapping entry or sequence element at parts.
func removeAt(n *yaml.Node, parts []string) bool {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i, p := range parts {
		last := i == len(parts)-1
		switch n.Kind {
		case yaml.MappingNode:
			j := slices.IndexFunc(n.Content, func(k *yaml.Node) bool { return k.Value == p })
			if j < 0 || j%2 != 0 {
				return false
			}
			if last {
				n.Content = slices.Delete(n.Content, j, j+2)
				return true
			}
			n = n.Content[j+1]
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(p)
			if err != nil || idx < 0 || idx >= len(n.Content) {
				return false
			}
			if last {
				n.Content = slices.Delete(n.Content, idx, idx+1)
				return true
			}
			n = n.Content[idx]
		default:
			return false
		}
	}
	return false
}

// checkFiles reports the files a valid config names that cannot be read;
// `run` would fail on them. c locates the keys (nil: the embedded default).
func checkFiles(c *Config, s *Settings) []error {
	var errs []error
	at := func(key, file string, err error) {
		if c == nil {
			errs = append(errs, fmt.Errorf("config: %s: %s: %w", DefaultSource, key, err))
			return
		}
		errs = append(errs, c.errorf(key, "%s: %v", file, errors.Unwrap(err)))
	}
	for i, f := range s.Rules.Files {
		if err := readable(f); err != nil {
			at("rules.files."+strconv.Itoa(i), f, err)
		}
	}
	for _, kf := range [][2]string{{"rules.classification", s.Rules.Classification}, {"rules.threshold_config", s.Rules.ThresholdConfig}} {
		if kf[1] == "" {
			continue
		}
		if err := readable(kf[1]); err != nil {
			at(kf[0], kf[1], err)
		}
	}
	return errs
}

// readable opens a file for reading and closes it: a file that exists but
// this user may not read fails as `run` would.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}
