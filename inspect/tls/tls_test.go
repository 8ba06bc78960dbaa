package tls

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// helloOpts describes a ClientHello to build by hand (RFC 8446 4.1.2).
type helloOpts struct {
	legacy   uint16
	versions []uint16 // supported_versions; nil: extension absent
	sniExt   []byte   // raw server_name extension data; nil: absent
	sniTwice bool
	extra    []byte // raw bytes appended to the extensions block
	noExts   bool
}

func u16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

func sniData(names ...string) []byte {
	var list []byte
	for _, n := range names {
		list = append(list, 0)
		list = append(list, u16(len(n))...)
		list = append(list, n...)
	}
	return append(u16(len(list)), list...)
}

func ext(typ int, data []byte) []byte {
	return append(append(u16(typ), u16(len(data))...), data...)
}

func buildHello(o helloOpts) []byte {
	b := u16(int(o.legacy))
	b = append(b, make([]byte, 32)...)          // random
	b = append(b, 32)                           // session id
	b = append(b, make([]byte, 32)...)          //
	b = append(b, 0, 4, 0x13, 0x01, 0xc0, 0x2f) // two suites
	b = append(b, 1, 0)                         // null compression
	if !o.noExts {
		var exts []byte
		exts = append(exts, ext(0x0a0a, nil)...) // GREASE extension
		if o.sniExt != nil {
			exts = append(exts, ext(0, o.sniExt)...)
			if o.sniTwice {
				exts = append(exts, ext(0, o.sniExt)...)
			}
		}
		if o.versions != nil {
			var l []byte
			for _, v := range o.versions {
				l = append(l, u16(int(v))...)
			}
			exts = append(exts, ext(43, append([]byte{byte(len(l))}, l...))...)
		}
		exts = append(exts, o.extra...)
		b = append(b, u16(len(exts))...)
		b = append(b, exts...)
	}
	hs := []byte{1, byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}
	return append(hs, b...)
}

// records wraps handshake bytes into TLS records of at most size bytes.
func records(hs []byte, size int) []byte {
	var out []byte
	for len(hs) > 0 {
		n := min(size, len(hs))
		out = append(out, recHandshake, 3, 1)
		out = append(out, u16(n)...)
		out = append(out, hs[:n]...)
		hs = hs[n:]
	}
	return out
}

type result struct {
	sni     *string
	tx      *inspect.TLSTx
	anoms   []string
	nEvents int
}

func feed(chunks [][]byte, opts ...Option) result {
	var r result
	p := New(opts...)
	emit := func(u *applayer.Unit) {
		if b := u.Buffers[applayer.TLSSNI]; b != nil {
			s := string(b)
			r.sni = &s
		}
		if u.Event != nil {
			tx := *u.Event.TLS
			r.tx = &tx
			r.nEvents++
		}
		for _, a := range u.Anomalies {
			r.anoms = append(r.anoms, a.Event)
		}
	}
	for _, c := range chunks {
		p.Feed(inspect.ToServer, c, emit)
	}
	p.Close(emit)
	return r
}

func whole(b []byte) [][]byte { return [][]byte{b} }

func bytewise(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

func TestClientHello(t *testing.T) {
	tests := []struct {
		name    string
		stream  []byte
		sni     string // "" : absent
		version string
		anoms   []string
	}{
		{
			name:    "TLS 1.3 hello with SNI and GREASE versions",
			stream:  records(buildHello(helloOpts{legacy: 0x0303, versions: []uint16{0x3a3a, 0x0304, 0x0303}, sniExt: sniData("www.Example.com")}), 1<<14),
			sni:     "www.Example.com",
			version: "TLS 1.3",
		},
		{
			name:    "TLS 1.2 without supported_versions",
			stream:  records(buildHello(helloOpts{legacy: 0x0303, sniExt: sniData("a.b")}), 1<<14),
			sni:     "a.b",
			version: "TLS 1.2",
		},
		{
			name:    "hello fragmented over three records",
			stream:  records(buildHello(helloOpts{legacy: 0x0303, versions: []uint16{0x0304}, sniExt: sniData("frag.example")}), 40),
			sni:     "frag.example",
			version: "TLS 1.3",
		},
		{
			name:    "change cipher spec record before the hello is skipped",
			stream:  append([]byte{recChangeCipherSpec, 3, 3, 0, 1, 1}, records(buildHello(helloOpts{legacy: 0x0303, sniExt: sniData("x.y")}), 1<<14)...),
			sni:     "x.y",
			version: "TLS 1.2",
		},
		{
			name:    "no SNI",
			stream:  records(buildHello(helloOpts{legacy: 0x0301}), 1<<14),
			version: "TLSv1",
		},
		{
			name:    "no extensions at all",
			stream:  records(buildHello(helloOpts{legacy: 0x0300, noExts: true}), 1<<14),
			version: "SSLv3",
		},
		{
			name:    "first host_name wins",
			stream:  records(buildHello(helloOpts{legacy: 0x0303, sniExt: sniData("one", "two")}), 1<<14),
			sni:     "one",
			version: "TLS 1.2",
		},
		{
			name:    "two SNI extensions",
			stream:  records(buildHello(helloOpts{legacy: 0x0303, sniExt: sniData("first"), sniTwice: true}), 1<<14),
			sni:     "first",
			version: "TLS 1.2",
			anoms:   []string{EvMultipleSNIExtensions},
		},
		{
			name:    "SNI of unknown name type",
			stream:  records(buildHello(helloOpts{legacy: 0x0303, sniExt: []byte{0, 4, 7, 0, 1, 'x'}}), 1<<14),
			version: "TLS 1.2",
			anoms:   []string{EvInvalidSNIType},
		},
		{
			name:    "SNI list length too long",
			stream:  records(buildHello(helloOpts{legacy: 0x0303, sniExt: []byte{0, 9, 0, 0, 1, 'x'}}), 1<<14),
			version: "TLS 1.2",
			anoms:   []string{EvInvalidSNILength},
		},
		{
			name:    "extension length overruns the block",
			stream:  records(buildHello(helloOpts{legacy: 0x0303, sniExt: sniData("ok.example"), extra: []byte{0, 5, 0xff, 0xff, 1}}), 1<<14),
			sni:     "ok.example",
			version: "TLS 1.2",
			anoms:   []string{EvInvalidHandshakeMessage},
		},
		{
			name:   "not a ClientHello",
			stream: records([]byte{2, 0, 0, 2, 3, 3}, 1<<14),
			anoms:  []string{EvInvalidHandshakeMessage},
		},
		{
			name:   "invalid record type",
			stream: []byte{0x30, 3, 1, 0, 4, 1, 2, 3, 4},
			anoms:  []string{EvInvalidRecordType},
		},
		{
			name:   "invalid record version",
			stream: []byte{recHandshake, 2, 0, 0, 4, 1, 0, 0, 0},
			anoms:  []string{EvInvalidRecordVersion},
		},
		{
			name:   "record too long",
			stream: []byte{recHandshake, 3, 1, 0xff, 0xff},
			anoms:  []string{EvInvalidRecordLength},
		},
		{
			name:   "truncated hello body",
			stream: records([]byte{1, 0, 0, 6, 3, 3, 0, 0, 0, 0}, 1<<14),
			anoms:  []string{EvInvalidHandshakeMessage},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for mode, split := range map[string]func([]byte) [][]byte{"whole": whole, "bytewise": bytewise} {
				r := feed(split(tc.stream))
				if tc.sni == "" {
					assert.Nil(t, r.sni, mode)
				} else if assert.NotNil(t, r.sni, mode) {
					assert.Equal(t, tc.sni, *r.sni, mode)
				}
				if tc.version == "" {
					assert.Nil(t, r.tx, mode)
				} else if assert.NotNil(t, r.tx, mode) {
					assert.Equal(t, [2]string{tc.sni, tc.version}, [2]string{r.tx.SNI, r.tx.Version}, mode)
					assert.Equal(t, 1, r.nEvents, mode)
				}
				assert.Equal(t, tc.anoms, r.anoms, mode)
			}
		})
	}
}

func TestHandshakeBound(t *testing.T) {
	hs := buildHello(helloOpts{legacy: 0x0303, sniExt: sniData("big"), extra: ext(21, make([]byte, 3000))})
	r := feed(whole(records(hs, 1<<14)), WithMaxHandshake(1024))
	assert.Nil(t, r.tx)
	assert.Equal(t, []string{EvHandshakeInvalidLength}, r.anoms)
}

// captureHello returns the first bytes crypto/tls's client writes: a real
// ClientHello as Go's TLS stack builds it.
func captureHello(t *testing.T, serverName string) []byte {
	t.Helper()
	c, s := net.Pipe()
	t.Cleanup(func() { c.Close(); s.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Client(c, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
	}()
	require.NoError(t, s.SetReadDeadline(time.Now().Add(5*time.Second)))
	hdr := make([]byte, 5)
	_, err := io.ReadFull(s, hdr)
	require.NoError(t, err)
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	_, err = io.ReadFull(s, body)
	require.NoError(t, err)
	c.Close()
	<-done
	return append(hdr, body...)
}

func TestRealClientHello(t *testing.T) {
	hello := captureHello(t, "sni.interdict.test")
	require.Equal(t, applayer.ProbeYes, Probe(inspect.ToServer, hello))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20 {
		var chunks [][]byte
		for b := hello; len(b) > 0; {
			n := 1 + rng.IntN(min(len(b), 64))
			if i == 0 {
				n = len(b)
			}
			chunks = append(chunks, b[:n])
			b = b[n:]
		}
		r := feed(chunks)
		require.NotNil(t, r.tx)
		assert.Equal(t, [2]string{"sni.interdict.test", "TLS 1.3"}, [2]string{r.tx.SNI, r.tx.Version})
		assert.Empty(t, r.anoms)
	}
}

func TestProbe(t *testing.T) {
	hello := records(buildHello(helloOpts{legacy: 0x0303}), 1<<14)
	tests := []struct {
		name string
		dir  inspect.Direction
		data []byte
		want applayer.ProbeResult
	}{
		{"client hello", inspect.ToServer, hello, applayer.ProbeYes},
		{"partial", inspect.ToServer, hello[:3], applayer.ProbeMore},
		{"empty", inspect.ToServer, nil, applayer.ProbeMore},
		{"HTTP", inspect.ToServer, []byte("GET / HTTP/1.1\r\n"), applayer.ProbeNo},
		{"server hello towards client", inspect.ToClient, []byte{22, 3, 3, 0, 80, 2}, applayer.ProbeYes},
		{"client hello towards client", inspect.ToClient, hello, applayer.ProbeNo},
		{"application data", inspect.ToServer, []byte{23, 3, 3, 0, 80, 1}, applayer.ProbeNo},
		{"zero length record", inspect.ToServer, []byte{22, 3, 1, 0, 0, 1}, applayer.ProbeNo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Probe(tc.dir, tc.data))
		})
	}
}

func FuzzTLSClientHello(f *testing.F) {
	f.Add(records(buildHello(helloOpts{legacy: 0x0303, versions: []uint16{0x0304}, sniExt: sniData("f.example")}), 50), uint64(1))
	f.Add([]byte{22, 3, 1, 0, 5, 1, 0, 0, 1, 0}, uint64(2))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		want := feed(whole(data), WithMaxHandshake(2048))
		rng := rand.New(rand.NewPCG(seed, 1))
		var chunks [][]byte
		for b := data; len(b) > 0; {
			n := 1 + rng.IntN(min(len(b), 32))
			chunks = append(chunks, b[:n])
			b = b[n:]
		}
		p := New(WithMaxHandshake(2048))
		for _, c := range chunks {
			p.Feed(inspect.ToServer, c, func(*applayer.Unit) {})
			require.LessOrEqual(t, len(p.d[inspect.ToServer].hs), 2048)
		}
		require.Equal(t, want, feed(chunks, WithMaxHandshake(2048)))
	})
}

func BenchmarkClientHello(b *testing.B) {
	hello := records(buildHello(helloOpts{legacy: 0x0303, versions: []uint16{0x0304, 0x0303}, sniExt: sniData("bench.example.com"), extra: ext(21, make([]byte, 400))}), 1<<14)
	b.SetBytes(int64(len(hello)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p := New()
		p.Feed(inspect.ToServer, hello, func(u *applayer.Unit) { n++ })
	}
}

// TestSSLv2ClientHello: an SSLv2-format hello offering TLS 1.0 is
// recognised, its version read, and the server's TLS records parsed.
func TestSSLv2ClientHello(t *testing.T) {
	v2 := []byte{0x80, 0x2e, 1, 3, 1, 0, 0x15, 0, 0, 0, 0x10}
	v2 = append(v2, make([]byte, 0x15+0x10)...)
	require.Equal(t, applayer.ProbeYes, Probe(inspect.ToServer, v2))
	assert.Equal(t, applayer.ProbeNo, Probe(inspect.ToServer, []byte{0x80, 0x2e, 4, 3, 1}), "not a CLIENT-HELLO")
	p := New()
	var version []byte
	var tx *inspect.TLSTx
	emit := func(u *applayer.Unit) {
		if v := u.Buffers[applayer.TLSVersion]; v != nil && u.Dir == inspect.ToServer {
			version = append([]byte(nil), v...)
		}
		if u.Event != nil {
			tx = u.Event.TLS
		}
	}
	p.Feed(inspect.ToServer, v2, emit)
	p.Close(emit)
	assert.Equal(t, []byte{3, 1}, version)
	require.NotNil(t, tx)
	assert.Equal(t, "TLSv1", tx.Version)
}
