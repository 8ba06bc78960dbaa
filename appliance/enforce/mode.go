package enforce

import "fmt"

// Mode says whether terminal verdicts are enforced.
type Mode string

const (
	// IPS enforces: drop and reject verdicts end the flow. The empty Mode
	// means IPS, the product's default.
	IPS Mode = "ips"
	// IDS only logs what would have happened; every chunk is forwarded.
	IDS Mode = "ids"
)

// ParseMode checks a configured mode; "" is IPS.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", IPS:
		return IPS, nil
	case IDS:
		return IDS, nil
	}
	return "", fmt.Errorf("enforce: unknown mode %q (want ips or ids)", s)
}

func (m Mode) enforcing() bool { return m != IDS }

func (m Mode) label() string {
	if m.enforcing() {
		return string(IPS)
	}
	return string(IDS)
}
