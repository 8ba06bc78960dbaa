//go:build !hyperscan

package prefilter

const hyperscanBuilt = false

// NewHyperscan fails in this build: the hyperscan engine needs cgo,
// libhyperscan-dev and the build tag hyperscan.
func NewHyperscan([]Pattern) (Matcher, error) { return nil, ErrNoHyperscan }
