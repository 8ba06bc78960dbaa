//go:build !race

package wg

const raceEnabled = false
