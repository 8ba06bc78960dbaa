package detect

// Base64 decoding as Suricata's util-base64.c does it, for base64_decode
// and the from_base64 transform. The modes differ in what a byte outside
// the alphabet does: RFC 4648 stops there (and decodes a trailing
// partial group), strict fails the whole decode, RFC 2045 skips it (and
// drops a trailing partial group).
type b64Mode uint8

const (
	b64RFC4648 b64Mode = iota
	b64RFC2045
	b64Strict
)

// maxBase64Decoded bounds one decode, as Suricata's base64_decode
// buffer is bounded (its bytes option is at most 65535).
const maxBase64Decoded = 65535

var b64Table = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = int8(i)
	}
	return t
}()

// base64Decode appends the decoding of src to dst. '=' counts as a zero
// sextet and as padding of its group wherever it appears, as in
// Suricata.
func base64Decode(dst, src []byte, mode b64Mode) []byte {
	var blk [4]byte
	n, pad := 0, 0
	start := len(dst)
	flush := func(pad int) bool {
		out := 3 - min(pad, 3)
		if len(dst)-start+out > maxBase64Decoded {
			return false
		}
		three := [3]byte{blk[0]<<2 | blk[1]>>4, blk[1]<<4 | blk[2]>>2, blk[2]<<6 | blk[3]}
		dst = append(dst, three[:out]...)
		return true
	}
loop:
	for _, c := range src {
		v := b64Table[c]
		if v < 0 {
			if c != '=' {
				switch mode {
				case b64RFC2045:
					continue
				case b64Strict:
					return dst[:start]
				}
				break loop
			}
			pad++
			v = 0
		}
		blk[n] = byte(v)
		n++
		if n == 4 {
			if !flush(pad) {
				return dst
			}
			n, pad, blk = 0, 0, [4]byte{}
		}
	}
	if n > 0 && mode != b64RFC2045 {
		pad = 2
		if n > 1 {
			pad = 4 - n
		}
		flush(pad)
	}
	return dst
}
