package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// Header is a parsed PROXY header.
type Header struct {
	Version int // 1 or 2
	// Command is "PROXY", or "LOCAL" (v2: a health check, no addresses).
	Command string
	// Transport is "TCP4", "TCP6", "UDP4", "UDP6", "UNIX" or "UNKNOWN".
	Transport string
	Src, Dst  netip.AddrPort // zero unless Transport is TCP/UDP
}

// MaxV2 bounds a v2 header with its TLVs. The spec allows 64 KiB; real
// balancers send at most a few hundred bytes (addresses plus SSL TLVs), and
// the caller buffers the header, so a longer one is refused.
const MaxV2 = 4096

const maxV1 = 107 // the spec's bound for a v1 line with its CRLF

var (
	// ErrMore means the bytes so far are a prefix of a header.
	ErrMore = errors.New("proxyproto: need more bytes")
	// ErrInvalid is wrapped by every parse error.
	ErrInvalid = errors.New("proxyproto: invalid header")
)

var (
	v1Sig = []byte("PROXY ")
	v2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

func invalid(why string) error { return errors.Join(ErrInvalid, errors.New(why)) }

// Detect reports whether b starts (or may start, when short) with a PROXY
// header signature.
func Detect(b []byte) bool {
	return hasPrefix(b, v1Sig) || hasPrefix(b, v2Sig)
}

func hasPrefix(b, sig []byte) bool {
	n := min(len(b), len(sig))
	return bytes.Equal(b[:n], sig[:n])
}

// Parse reads the header at the start of b and returns it with its length
// in bytes. It returns ErrMore when b is a proper prefix of a header, and
// an error wrapping ErrInvalid when b cannot start one.
func Parse(b []byte) (Header, int, error) {
	switch {
	case len(b) >= len(v2Sig) && bytes.Equal(b[:len(v2Sig)], v2Sig):
		return parseV2(b)
	case len(b) >= len(v1Sig) && bytes.Equal(b[:len(v1Sig)], v1Sig):
		return parseV1(b)
	case Detect(b):
		return Header{}, 0, ErrMore
	}
	return Header{}, 0, invalid("no PROXY signature")
}

func parseV1(b []byte) (Header, int, error) {
	end := bytes.Index(b[:min(len(b), maxV1)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= maxV1 {
			return Header{}, 0, invalid("v1 line longer than 107 bytes")
		}
		return Header{}, 0, ErrMore
	}
	h := Header{Version: 1, Command: "PROXY"}
	f := bytes.Split(b[len(v1Sig):end], []byte(" "))
	h.Transport = string(f[0])
	switch h.Transport {
	case "UNKNOWN":
		// The rest of the line may be anything and is ignored.
		return h, end + 2, nil
	case "TCP4", "TCP6":
	default:
		return Header{}, 0, invalid("v1 protocol " + strconv.Quote(h.Transport))
	}
	if len(f) != 5 {
		return Header{}, 0, invalid("v1 line needs 4 addresses and ports")
	}
	var err error
	if h.Src, err = addrPort(f[1], f[3], h.Transport == "TCP4"); err != nil {
		return Header{}, 0, err
	}
	if h.Dst, err = addrPort(f[2], f[4], h.Transport == "TCP4"); err != nil {
		return Header{}, 0, err
	}
	return h, end + 2, nil
}

func addrPort(a, p []byte, v4 bool) (netip.AddrPort, error) {
	ip, err := netip.ParseAddr(string(a))
	if err != nil || ip.Is4() != v4 || ip.Zone() != "" {
		return netip.AddrPort{}, invalid("v1 address " + strconv.Quote(string(a)))
	}
	// Ports are decimal without leading zeros, as the spec says.
	if len(p) == 0 || len(p) > 5 || (len(p) > 1 && p[0] == '0') {
		return netip.AddrPort{}, invalid("v1 port " + strconv.Quote(string(p)))
	}
	n, err := strconv.ParseUint(string(p), 10, 16)
	if err != nil {
		return netip.AddrPort{}, invalid("v1 port " + strconv.Quote(string(p)))
	}
	return netip.AddrPortFrom(ip, uint16(n)), nil
}

func parseV2(b []byte) (Header, int, error) {
	if len(b) < 16 {
		return Header{}, 0, ErrMore
	}
	verCmd, fam := b[12], b[13]
	if verCmd>>4 != 2 {
		return Header{}, 0, invalid("v2 version " + strconv.Itoa(int(verCmd>>4)))
	}
	n := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	if n > MaxV2 {
		return Header{}, 0, invalid("v2 header of " + strconv.Itoa(n) + " bytes (bound " + strconv.Itoa(MaxV2) + ")")
	}
	if len(b) < n {
		return Header{}, 0, ErrMore
	}
	h := Header{Version: 2}
	switch verCmd & 0xf {
	case 0:
		h.Command, h.Transport = "LOCAL", "UNKNOWN"
		return h, n, nil
	case 1:
		h.Command = "PROXY"
	default:
		return Header{}, 0, invalid("v2 command " + strconv.Itoa(int(verCmd&0xf)))
	}
	body := b[16:n]
	var alen int
	switch fam >> 4 {
	case 0:
		h.Transport = "UNKNOWN"
		return h, n, nil
	case 1:
		alen = 4
	case 2:
		alen = 16
	case 3:
		h.Transport = "UNIX"
		if len(body) < 216 {
			return Header{}, 0, invalid("v2 unix addresses truncated")
		}
		return h, n, nil
	default:
		return Header{}, 0, invalid("v2 address family " + strconv.Itoa(int(fam>>4)))
	}
	switch fam & 0xf {
	case 1:
		h.Transport = "TCP"
	case 2:
		h.Transport = "UDP"
	default:
		return Header{}, 0, invalid("v2 transport " + strconv.Itoa(int(fam&0xf)))
	}
	if alen == 4 {
		h.Transport += "4"
	} else {
		h.Transport += "6"
	}
	if len(body) < 2*alen+4 {
		return Header{}, 0, invalid("v2 addresses truncated")
	}
	src, _ := netip.AddrFromSlice(body[:alen])
	dst, _ := netip.AddrFromSlice(body[alen : 2*alen])
	h.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[2*alen:]))
	h.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[2*alen+2:]))
	return h, n, nil
}
