package prefilter

import (
	"fmt"
	"sort"
)

// Builders returns every engine compiled into this binary by name: "naive"
// and "ac" always, "hyperscan" only with the build tag hyperscan.
func Builders() map[string]Builder {
	m := map[string]Builder{"naive": NewNaive, "ac": NewAC, "fdr": NewFDR}
	if hyperscanBuilt {
		m["hyperscan"] = NewHyperscan
	}
	return m
}

// Lookup returns the builder of the named engine, or an error that says
// which engines exist (and how to get hyperscan if it was asked for).
func Lookup(name string) (Builder, error) {
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
