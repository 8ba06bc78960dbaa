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
	case "gzip-vt", "gzip-nul":
		return Encode("gzip", b)
	case "gzip-blocks":
		// The forbidden string split across two deflate blocks.
		w := gzip.NewWriter(&o)
		w.Write(b[:len(b)/2])
		w.Flush()
		w.Write(b[len(b)/2:])
		w.Close()
	case "gzip-members":
		// Two gzip members: a benign one, then the content.
		return append(Encode("gzip", []byte("hello")), Encode("gzip", b)...)
	default:
		return b
	}
	return o.Bytes()
}

var ceHeader = map[string]string{
	"": "", "gzip": "gzip", "x-gzip": "x-gzip", "GZIP": "GZIP", "deflate-zlib": "deflate",
	"deflate-raw": "Deflate", "gzip-gzip": "gzip,  gzip", "br": "br", "zstd": "ZSTD", "br-gzip": "br, gzip",
	// Control characters curl trims or ends the value at, and browsers
	// do not.
	"gzip-vt": "gzip\x0b", "gzip-nul": "gzip\x00",
	"gzip-blocks": "gzip", "gzip-members": "gzip",
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
		case "zeros":
			fmt.Fprintf(&b, "0000%x\r\n", n)
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
// status line x line ends x content codings x framings, and answers
// without a status line (HTTP/0.9, junk before the status line), which a
// browser may render as HTTP/0.9.
func Responses() []string {
	out := []string{
		EICAR,
		EICAR + "\r\n",
		EICAR + strings.Repeat(" ", 20000) + "\r\n",
		"junk\r\nHTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n" + EICAR,
		" HTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n" + EICAR,
		string(Encode("gzip", []byte(EICAR))),
	}
	for _, status := range []string{"HTTP/1.1 200 OK", "HTTP/1.0 200 OK", "http/1.1 200 OK", "HTTP/1.1 200", "HTTP/1.1  200  OK", "HTTP/1.1 404 Not Found"} {
		for _, eol := range []string{"\r\n", "\n", "\r", "\r\r\n"} {
			for coding := range ceHeader {
				body := Encode(coding, []byte(EICAR))
				hdr := status + eol
				if ce := ceHeader[coding]; ce != "" {
					hdr += "Content-Encoding: " + ce + eol
				}
				for _, framing := range []string{"cl", "close", "chunked", "chunked-upper", "chunked-ext", "chunked-junk", "chunked-lf", "cl+te", "te-gzip", "cl-dup", "cl-space", "te-case", "chunked-zeros", "te-gzip-chunked", "te-chunked-identity", "cl-dup-equal"} {
					var r string
					switch framing {
					case "cl":
						r = hdr + fmt.Sprintf("Content-Length: %d", len(body)) + eol + eol + string(body)
					case "close":
						r = hdr + "Connection: close" + eol + eol + string(body)
					case "chunked", "chunked-upper", "chunked-ext", "chunked-junk", "chunked-lf", "chunked-zeros":
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
					case "te-gzip-chunked":
						r = hdr + "Transfer-Encoding: gzip, chunked" + eol + eol + chunk(Encode("gzip", body), "")
					case "te-chunked-identity":
						r = hdr + "Transfer-Encoding: chunked, identity" + eol + eol + chunk(body, "")
					case "cl-dup-equal":
						r = hdr + fmt.Sprintf("Content-Length: %d", len(body)) + eol + fmt.Sprintf("Content-Length: %d", len(body)) + eol + eol + string(body)
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
	return append(out, Smuggling()...)
}

// Smuggling are request variants on framing, header spelling and target
// encoding that a server may read otherwise than a naive inspector: each
// hides a forbidden URI or an EICAR upload.
func Smuggling() []string {
	smuggled := "GET /forbidden HTTP/1.1\r\nHost: h\r\n\r\n"
	chunked := func(b string) string { return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(b), b) }
	post := func(hdrs, body string) string {
		return "POST /ok HTTP/1.1\r\nHost: h\r\n" + hdrs + "\r\n" + body
	}
	cl := func(b string) string { return fmt.Sprintf("Content-Length: %d\r\n", len(b)) }
	out := []string{
		// Header names and values spelt oddly.
		post("Transfer-Encoding : chunked\r\n", chunked(EICAR)),
		post("Content-Length : 68\r\n", EICAR),
		post("Transfer-Encoding:\r\n chunked\r\n", chunked(EICAR)),
		post("Content-Length:\r\n 68\r\n", EICAR),
		post("X-A: a\x00b\r\n"+cl(EICAR), EICAR),
		post("Content-Length: 68\x00\r\n", EICAR),
		post("Transfer-Encoding: chunked\x00\r\n", chunked(EICAR)),
		// Duplicate and list Content-Length, odd Transfer-Encoding.
		post(cl(EICAR)+cl(EICAR), EICAR),
		post("Content-Length: 3\r\n"+cl(EICAR), EICAR),
		post("Content-Length: 68, 68\r\n", EICAR),
		post("Content-Length: +68\r\n", EICAR),
		post("Transfer-Encoding: chunked,\r\n", chunked(EICAR)),
		post("Transfer-Encoding: chunked, identity\r\n", chunked(EICAR)),
		post("Transfer-Encoding: identity, chunked\r\n", chunked(EICAR)),
		post("Transfer-Encoding: xchunked\r\n", chunked(EICAR)),
		post("Transfer-Encoding: gzip, chunked\r\n", chunked(string(Encode("gzip", []byte(EICAR))))),
		post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", chunked(EICAR)),
		// Chunk-size lines.
		post("Transfer-Encoding: chunked\r\n", fmt.Sprintf("%x;a=b;c=\"d\"\r\n%s\r\n0\r\n\r\n", len(EICAR), EICAR)),
		post("Transfer-Encoding: chunked\r\n", fmt.Sprintf("0000000000%x\r\n%s\r\n0\r\n\r\n", len(EICAR), EICAR)),
		post("Transfer-Encoding: chunked\r\n", fmt.Sprintf("1000000000000000%x\r\n%s\r\n0\r\n\r\n", len(EICAR), EICAR)),
		post("Transfer-Encoding: chunked\r\n", fmt.Sprintf("0x%x\r\n%s\r\n0\r\n\r\n", len(EICAR), EICAR)),
		post("Transfer-Encoding: chunked\r\n", "0\r\nX: y\r\n\r\n"+smuggled),
		// Request smuggling: CL.TE, TE.CL, TE.TE.
		post(cl("0\r\n\r\n"+smuggled)+"Transfer-Encoding: chunked\r\n", "0\r\n\r\n"+smuggled),
		post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", chunked(smuggled)),
		post("Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n", chunked(smuggled)),
		// Blanks before the method (IIS skips them), VT and FF as
		// separators (Apache's Unsafe mode), more empty lines than the
		// protocol probe holds (nginx skips any number).
		" GET /forbidden HTTP/1.1\r\nHost: h\r\n\r\n",
		"\t \x0bGET /forbidden HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET\x0b/forbidden\x0bHTTP/1.1\r\nHost: h\r\n\r\n",
		"FOO\x0c/forbidden\x0cHTTP/1.1\r\nHost: h\r\n\r\n",
		strings.Repeat("\r\n", 5000) + smuggled,
		strings.Repeat(" ", 5000) + smuggled,
		// Lone LF line ends.
		"POST /ok HTTP/1.1\nHost: h\nContent-Length: 68\n\n" + EICAR,
		"GET /forbidden HTTP/1.1\nHost: h\n\n",
		"POST /ok HTTP/1.1\r\nHost: h\nTransfer-Encoding: chunked\n\r\n" + fmt.Sprintf("%x\n%s\n0\n\n", len(EICAR), EICAR),
		// Expect, pipelining, HTTP/1.0 keep-alive, CONNECT and Upgrade
		// followed by a request.
		post("Expect: 100-continue\r\n"+cl(EICAR), EICAR),
		"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n" + smuggled,
		"GET /ok HTTP/1.1\r\nHost: h\r\n\r\nHEAD /ok HTTP/1.1\r\nHost: h\r\n\r\n" + smuggled,
		"GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /forbidden HTTP/1.0\r\n\r\n",
		"POST /ok HTTP/1.0\r\nConnection: keep-alive\r\n" + cl(EICAR) + "\r\n" + EICAR,
		"GET /forbidden\r\n",
		"CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\n\r\n" + smuggled,
		"GET /ok HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + smuggled,
		// CL.0: a server that ignores a GET's body reads the request in it.
		"GET /ok HTTP/1.1\r\nHost: h\r\n" + cl(smuggled) + "\r\n" + smuggled,
		"OPTIONS * HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(smuggled),
		// Bodies in codings split oddly.
		post("Content-Encoding: gzip, gzip\r\n"+cl(string(Encode("gzip-gzip", []byte(EICAR)))), string(Encode("gzip-gzip", []byte(EICAR)))),
		post("Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n"+cl(string(Encode("gzip-gzip", []byte(EICAR)))), string(Encode("gzip-gzip", []byte(EICAR)))),
		post("Content-Encoding: gzip\r\n"+cl(string(Encode("gzip-blocks", []byte(EICAR)))), string(Encode("gzip-blocks", []byte(EICAR)))),
		post("Content-Encoding: gzip\r\n"+cl(string(Encode("gzip-members", []byte(EICAR)))), string(Encode("gzip-members", []byte(EICAR)))),
		post("Content-Encoding: gzip\x0b\r\n"+cl(string(Encode("gzip", []byte(EICAR)))), string(Encode("gzip", []byte(EICAR)))),
		post("Content-Encoding: br\r\n"+cl(string(Encode("br", []byte(EICAR)))), string(Encode("br", []byte(EICAR)))),
		post("Content-Encoding: zstd\r\n"+cl(string(Encode("zstd", []byte(EICAR)))), string(Encode("zstd", []byte(EICAR)))),
	}
	// Targets: absolute forms, percent-encoding, %u and overlong UTF-8,
	// NUL, dot segments and separators.
	for _, target := range []string{
		"HTTP://H/forbidden", "http://h:80/%66orbidden", "http://u:p@h/forbidden", "https://h/forbidden",
		"/%66%6F%72%62%69%64%64%65%6E", "/x%2f..%2fforbidden", "/x\\..\\forbidden", "/x/%2e%2e/forbidden",
		"/%u0066orbidden", "/%c1%a6orbidden", "/x%c0%af..%c0%afforbidden", "/x\xc0\xaf..\xc0\xafforbidden",
		"/x%e0%80%af..%e0%80%afforbidden", "/forbidden%00.html", "/\x00/forbidden", "/forbidden;jsessionid=1", "/forbidden#x",
	} {
		out = append(out, "GET "+target+" HTTP/1.1\r\nHost: h\r\n\r\n")
	}
	return out
}
