package prefilter

import (
	"fmt"
	"sort"
)

// Builders returns every engine compiled into this binary by name: "naive",
// "ac" and "fdr" always, "hyperscan" only with the build tag hyperscan.
func Builders() map[string]Builder {
	m := map[string]Builder{"naive": NewNaive, "ac": NewAC, "fdr": NewFDR}
	if hyperscanBuilt {
		m["hyperscan"] = NewHyperscan
	}
	return m
}

// Default returns the builder of the engine callers should use when they
// have no reason to choose: fdr (see the package doc for the figures).
func Default() Builder { return NewFDR }

// Lookup returns the builder of the named engine, or an error that says
// which engines exist (and how to get hyperscan if it was asked for).
// "auto" is Default.
func Lookup(name string) (Builder, error) {
	if name == "auto" {
		return Default(), nil
	}
	if b, ok := Builders()[name]; ok {
		return b, nil
	}
	if name == "hyperscan" {
		return nil, ErrNoHyperscan
	}
	var names []string
	for n := range Builders() {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("prefilter: unknown engine %q (have %v)", name, names)
}
