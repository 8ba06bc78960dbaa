package evasion

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// EICAR is the antivirus test file every variant carries.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// Rules are the two rules the variants must not get past: one on the
// file's content (in either direction) and one on the request's URI.
const Rules = `
reject http any any -> any any (msg:"EICAR in a body"; file.data; content:"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"; sid:1;)
reject http any any -> any any (msg:"forbidden uri"; flow:to_server; http.uri; content:"/forbidden"; sid:2;)
reject http any any -> any any (msg:"EICAR uploaded"; flow:to_server; http.request_body; content:"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"; sid:3;)
`

// Encode applies a variant's coding ("" for none) to b.
func Encode(coding string, b []byte) []byte {
	var o bytes.Buffer
	switch coding {
	case "gzip", "x-gzip", "GZIP":
		w := gzip.NewWriter(&o)
		w.Write(b)
		w.Close()
	case "deflate-zlib":
		w := zlib.NewWriter(&o)
		w.Write(b)
		w.Close()
	case "deflate-raw":
		w, _ := flate.NewWriter(&o, 9)
		w.Write(b)
		w.Close()
	case "gzip-gzip":
		return Encode("gzip", Encode("gzip", b))
	case "br":
		w := brotli.NewWriter(&o)
		w.Write(b)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(nil)
		defer w.Close()
		return w.EncodeAll(b, nil)
	case "br-gzip":
		return Encode("gzip", Encode("br", b))
	default:
		return b
	}
	return o.Bytes()
}

var ceHeader = map[string]string{
	"": "", "gzip": "gzip", "x-gzip": "x-gzip", "GZIP": "GZIP", "deflate-zlib": "deflate",
	"deflate-raw": "Deflate", "gzip-gzip": "gzip,  gzip", "br": "br", "zstd": "ZSTD", "br-gzip": "br, gzip",
}

func chunk(body []byte, sizes string) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(len(body), 17)
		switch sizes {
		case "upper":
			fmt.Fprintf(&b, "%X\r\n", n)
		case "ext":
			fmt.Fprintf(&b, "%x;foo=bar\r\n", n)
		case "junk":
			fmt.Fprintf(&b, "%x junk\r\n", n)
		case "lf":
			fmt.Fprintf(&b, "%x\n", n)
		default:
			fmt.Fprintf(&b, "%x\r\n", n)
		}
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// Responses are the response variants, each carrying EICAR in its body:
// status line x line ends x content codings x framings.
func Responses() []string {
	var out []string
	for _, status := range []string{"HTTP/1.1 200 OK", "HTTP/1.0 200 OK", "http/1.1 200 OK", "HTTP/1.1 200", "HTTP/1.1  200  OK", "HTTP/1.1 404 Not Found"} {
		for _, eol := range []string{"\r\n", "\n", "\r", "\r\r\n"} {
			for coding := range ceHeader {
				body := Encode(coding, []byte(EICAR))
				hdr := status + eol
				if ce := ceHeader[coding]; ce != "" {
					hdr += "Content-Encoding: " + ce + eol
				}
				for _, framing := range []string{"cl", "close", "chunked", "chunked-upper", "chunked-ext", "chunked-junk", "chunked-lf", "cl+te", "te-gzip", "cl-dup", "cl-space", "te-case"} {
					var r string
					switch framing {
					case "cl":
						r = hdr + fmt.Sprintf("Content-Length: %d", len(body)) + eol + eol + string(body)
					case "close":
						r = hdr + "Connection: close" + eol + eol + string(body)
					case "chunked", "chunked-upper", "chunked-ext", "chunked-junk", "chunked-lf":
						r = hdr + "Transfer-Encoding: chunked" + eol + eol + chunk(body, strings.TrimPrefix(strings.TrimPrefix(framing, "chunked"), "-"))
					case "cl+te":
						r = hdr + "Content-Length: 5" + eol + "Transfer-Encoding: chunked" + eol + eol + chunk(body, "")
					case "te-gzip":
						r = hdr + "Transfer-Encoding: gzip" + eol + eol + string(body)
					case "cl-dup":
						r = hdr + "Content-Length: 5" + eol + fmt.Sprintf("Content-Length: %d", len(body)) + eol + eol + string(body)
					case "cl-space":
						r = hdr + fmt.Sprintf("Content-Length:   %d  ", len(body)) + eol + eol + string(body)
					case "te-case":
						r = hdr + "transfer-encoding: CHUNKED" + eol + eol + chunk(body, "")
					}
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// Requests are the request variants: a forbidden URI behind PROXY
// headers, empty lines, methods in any case and whitespace runs; headers
// past 4 KiB and over the limits; bodies ending in EICAR after 3 MiB, in
// each coding.
func Requests() []string {
	var out []string
	for _, prefix := range []string{"", "\r\n\r\n", "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n", "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x01\xc0\x00\x02\x02\x04\xd2\x00\x50"} {
		for _, method := range []string{"GET", "get", "FOO", "PoSt", "M-SEARCH"} {
			for _, sep := range []string{" ", "\t", "  \t "} {
				for _, uri := range []string{"/forbidden", "/a/../forbidden", "/%66orbidden", "http://h/forbidden", "//forbidden?x"} {
					out = append(out, prefix+method+sep+uri+sep+"HTTP/1.1\r\nHost: h\r\n\r\n")
				}
			}
		}
		// Headers past 4 KiB and over the limits.
		out = append(out, prefix+"GET /forbidden HTTP/1.1\r\nHost: h\r\nX-Pad: "+strings.Repeat("a", 6000)+"\r\n\r\n")
		out = append(out, prefix+"GET /ok HTTP/1.1\r\nHost: h\r\nX-Pad: "+strings.Repeat("a", 70000)+"\r\n\r\n")
		for _, coding := range []string{"", "gzip", "deflate-zlib", "deflate-raw", "br", "zstd"} {
			body := Encode(coding, []byte(strings.Repeat("x", 3<<20)+EICAR))
			ce := ""
			if coding != "" {
				ce = "Content-Encoding: " + ceHeader[coding] + "\r\n"
			}
			out = append(out, prefix+fmt.Sprintf("POST /ok HTTP/1.1\r\nHost: h\r\n%sContent-Length: %d\r\n\r\n%s", ce, len(body), body))
		}
	}
	return out
}
