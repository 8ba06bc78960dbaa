package evasion

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/configs"
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/rules"

	_ "github.com/interdict/interdict/inspect/http1"
)

const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

const ruleText = `
drop http any any -> any any (msg:"EICAR in a body"; file.data; content:"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"; sid:1;)
drop http any any -> any any (msg:"forbidden uri"; flow:to_server; http.uri; content:"/forbidden"; sid:2;)
drop http any any -> any any (msg:"EICAR uploaded"; flow:to_server; http.request_body; content:"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"; sid:3;)
`

// rejected is the set of anomalies the default policy refuses, read from
// the embedded default config so the test follows it.
func rejected(t *testing.T) map[string]bool {
	var c struct {
		Policy struct {
			Protocol struct {
				Anomalies map[string]string `yaml:"anomalies"`
			} `yaml:"protocol"`
		} `yaml:"policy"`
	}
	require.NoError(t, yaml.Unmarshal(configs.Default, &c))
	out := map[string]bool{}
	for k, v := range c.Policy.Protocol.Anomalies {
		if v != "alert" && v != "off" {
			out[k] = true
		}
	}
	require.NotEmpty(t, out)
	return out
}

func encode(coding string, b []byte) []byte {
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
		return encode("gzip", encode("gzip", b))
	case "br":
		w := brotli.NewWriter(&o)
		w.Write(b)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(nil)
		defer w.Close()
		return w.EncodeAll(b, nil)
	case "br-gzip":
		return encode("gzip", encode("br", b))
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

// responses builds the response variants.
func responses() []string {
	var out []string
	for _, status := range []string{"HTTP/1.1 200 OK", "HTTP/1.0 200 OK", "http/1.1 200 OK", "HTTP/1.1 200", "HTTP/1.1  200  OK", "HTTP/1.1 404 Not Found"} {
		for _, eol := range []string{"\r\n", "\n", "\r", "\r\r\n"} {
			for coding := range ceHeader {
				body := encode(coding, []byte(eicar))
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

// requests builds the request-side variants.
func requests() []string {
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
			body := encode(coding, []byte(strings.Repeat("x", 3<<20)+eicar))
			ce := ""
			if coding != "" {
				ce = "Content-Encoding: " + ceHeader[coding] + "\r\n"
			}
			out = append(out, prefix+fmt.Sprintf("POST /ok HTTP/1.1\r\nHost: h\r\n%sContent-Length: %d\r\n\r\n%s", ce, len(body), body))
		}
	}
	return out
}

type outcome int

const (
	detected outcome = iota
	refused
	missed
)

func run(t *testing.T, e *detect.Engine, rej map[string]bool, req, resp string, piece int) (outcome, string) {
	f := e.NewFlow(inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP})
	var anoms []string
	res := detected
	check := func(r inspect.Result) bool {
		if len(r.Alerts) > 0 {
			return true
		}
		for _, ev := range r.Events {
			if ev.Anomaly != nil {
				anoms = append(anoms, ev.Anomaly.Event)
				if rej[ev.Anomaly.Event] {
					res = refused
					return true
				}
			}
		}
		return false
	}
	for _, m := range []struct {
		dir  inspect.Direction
		data string
	}{{inspect.ToServer, req}, {inspect.ToClient, resp}} {
		for off := 0; off < len(m.data); off += piece {
			if check(f.Inspect(m.dir, []byte(m.data[off:min(off+piece, len(m.data))]))) {
				return res, ""
			}
		}
	}
	if check(f.Close()) {
		// Found only at the end of the flow: the bytes were forwarded.
		return missed, fmt.Sprintf("only at close %v", anoms)
	}
	return missed, fmt.Sprintf("anomalies %v", anoms)
}

func TestEvasionVariants(t *testing.T) {
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(ruleText), "evasion.rules", nil))
	require.Empty(t, set.Errors)
	e, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	rej := rejected(t)

	var counts [3]int
	var missedList []string
	pieces := []int{1 << 20, 1460, 7}
	benign := "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"
	for i, resp := range responses() {
		for _, piece := range pieces {
			o, why := run(t, e, rej, benign, resp, piece)
			counts[o]++
			if o == missed && len(missedList) < 20 {
				missedList = append(missedList, fmt.Sprintf("response %d piece %d: %q: %s", i, piece, resp[:min(len(resp), 120)], why))
			}
		}
	}
	for i, req := range requests() {
		for _, piece := range pieces {
			if piece == 7 && len(req) > 100000 {
				piece = 997
			}
			o, why := run(t, e, rej, req, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", piece)
			counts[o]++
			if o == missed && len(missedList) < 40 {
				missedList = append(missedList, fmt.Sprintf("request %d piece %d: %q: %s", i, piece, req[:min(len(req), 120)], why))
			}
		}
	}
	t.Logf("evasion variants: %d detected, %d refused as ambiguous or over a limit, %d delivered uninspected", counts[detected], counts[refused], counts[missed])
	for _, m := range missedList {
		t.Log(m)
	}
	require.Zero(t, counts[missed])
}
