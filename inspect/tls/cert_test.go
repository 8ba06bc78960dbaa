package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// handshake runs a real crypto/tls handshake capped at maxVersion and
// returns the bytes each side sent, the server's certificate and the
// ClientHello as the server's stack saw it.
func handshake(t *testing.T, maxVersion uint16) (toServer, toClient []byte, leaf *x509.Certificate, chi *cryptotls.ClientHelloInfo) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		// A serial whose first byte has its high bit set: DER prepends a
		// zero byte, which Suricata's spelling keeps.
		SerialNumber: new(big.Int).SetBytes([]byte{0x9a, 0x01, 0x02, 0x03}),
		Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"Interdict Test"},
			CommonName: "cert.interdict.test"},
		NotBefore: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:  time.Date(2034, 1, 2, 3, 4, 5, 0, time.UTC),
		DNSNames:  []string{"cert.interdict.test", "alt.interdict.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err = x509.ParseCertificate(der)
	require.NoError(t, err)

	// client cc <-> cp relay sp <-> sc server; the relays record each
	// direction and are waited for before the recordings are read.
	cc, cp := net.Pipe()
	sc, sp := net.Pipe()
	var recS, recC []byte
	var relays sync.WaitGroup
	relay := func(dst, src net.Conn, rec *[]byte) {
		defer relays.Done()
		buf := make([]byte, 4096)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				*rec = append(*rec, buf[:n]...)
				if _, werr := dst.Write(buf[:n]); werr != nil {
					src.Close()
					return
				}
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	relays.Add(2)
	go relay(sp, cp, &recS)
	go relay(cp, sp, &recC)
	srvDone := make(chan error, 1)
	go func() {
		srv := cryptotls.Server(sc, &cryptotls.Config{
			Certificates: []cryptotls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
			NextProtos:   []string{"h2"},
			MaxVersion:   maxVersion,
			GetConfigForClient: func(h *cryptotls.ClientHelloInfo) (*cryptotls.Config, error) {
				chi = h
				return nil, nil
			},
		})
		srvDone <- srv.Handshake()
	}()
	cli := cryptotls.Client(cc, &cryptotls.Config{ServerName: "cert.interdict.test", InsecureSkipVerify: true, MaxVersion: maxVersion,
		NextProtos: []string{"h2", "http/1.1"}})
	require.NoError(t, cli.SetDeadline(time.Now().Add(5*time.Second)))
	require.NoError(t, cli.Handshake())
	require.NoError(t, <-srvDone)
	cc.Close()
	sc.Close()
	relays.Wait()
	return recS, recC, leaf, chi
}

type captured struct {
	bufs   map[applayer.Buffer]map[inspect.Direction]string
	certs  [][]byte
	events []inspect.TLSTx
}

func run(toServer, toClient []byte, chunk int) captured {
	c := captured{bufs: map[applayer.Buffer]map[inspect.Direction]string{}}
	p := New()
	emit := func(u *applayer.Unit) {
		for b := applayer.Buffer(1); b < applayer.NumBuffers; b++ {
			if v := u.Buffers[b]; v != nil {
				if c.bufs[b] == nil {
					c.bufs[b] = map[inspect.Direction]string{}
				}
				c.bufs[b][u.Dir] = string(v)
			}
		}
		if m := u.Multi[applayer.TLSCerts]; len(m) > 0 {
			c.certs = nil
			for _, x := range m {
				c.certs = append(c.certs, append([]byte(nil), x...))
			}
		}
		if u.Event != nil {
			c.events = append(c.events, *u.Event.TLS)
		}
	}
	for dir, data := range [][]byte{toServer, toClient} {
		for len(data) > 0 {
			n := min(chunk, len(data))
			p.Feed(inspect.Direction(dir), data[:n], emit)
			data = data[n:]
		}
	}
	p.Close(emit)
	return c
}

// ja3Of builds the JA3 string from what crypto/tls's server saw, as a
// reference independent of our hello parser.
func ja3Of(h *cryptotls.ClientHelloInfo, legacy uint16) string {
	join := func(n int, f func(i int) int) string {
		var s []string
		for i := range n {
			if v := f(i); !isGREASE(v) {
				s = append(s, fmt.Sprint(v))
			}
		}
		return strings.Join(s, "-")
	}
	return strings.Join([]string{
		fmt.Sprint(legacy),
		join(len(h.CipherSuites), func(i int) int { return int(h.CipherSuites[i]) }),
		join(len(h.Extensions), func(i int) int { return int(h.Extensions[i]) }),
		join(len(h.SupportedCurves), func(i int) int { return int(h.SupportedCurves[i]) }),
		join(len(h.SupportedPoints), func(i int) int { return int(h.SupportedPoints[i]) }),
	}, ",")
}

// ja4Of builds the JA4 fingerprint from what crypto/tls's server saw
// (FoxIO's JA4 definition), as a reference independent of our parser.
func ja4Of(h *cryptotls.ClientHelloInfo, version string) string {
	hexs := func(vs []uint16, sorted bool) string {
		var out []string
		for _, v := range vs {
			if !isGREASE(int(v)) {
				out = append(out, fmt.Sprintf("%04x", v))
			}
		}
		if sorted {
			sort.Strings(out)
		}
		return strings.Join(out, ",")
	}
	h12 := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:])[:12] }
	var exts []uint16
	for _, e := range h.Extensions {
		if e != 0 && e != 16 {
			exts = append(exts, e)
		}
	}
	var sigs []uint16
	for _, s := range h.SignatureSchemes {
		sigs = append(sigs, uint16(s))
	}
	alpn := h.SupportedProtos[0]
	return fmt.Sprintf("t%sd%02d%02d%c%c_%s_%s", version, len(h.CipherSuites), len(h.Extensions), alpn[0], alpn[len(alpn)-1],
		h12(hexs(h.CipherSuites, true)), h12(hexs(exts, true)+"_"+hexs(sigs, false)))
}

func TestCertificateTLS12(t *testing.T) {
	toServer, toClient, leaf, chi := handshake(t, cryptotls.VersionTLS12)
	sum := sha1.Sum(leaf.Raw)
	wantFP := hexJoin(sum[:], false)
	wantJA3 := ja3Of(chi, 0x0303)
	wantJA4 := ja4Of(chi, "12")
	for _, chunk := range []int{1, 7, 1 << 20} {
		t.Run(fmt.Sprint("chunk ", chunk), func(t *testing.T) {
			c := run(toServer, toClient, chunk)
			sc := inspect.ToClient
			assert.Equal(t, "C=US, O=Interdict Test, CN=cert.interdict.test", c.bufs[applayer.TLSCertSubject][sc])
			assert.Equal(t, "C=US, O=Interdict Test, CN=cert.interdict.test", c.bufs[applayer.TLSCertIssuer][sc])
			assert.Equal(t, "00:9A:01:02:03", c.bufs[applayer.TLSCertSerial][sc])
			assert.Equal(t, wantFP, c.bufs[applayer.TLSCertFingerprint][sc])
			assert.Equal(t, "\x03\x03", c.bufs[applayer.TLSVersion][sc])
			assert.Equal(t, "cert.interdict.test", c.bufs[applayer.TLSSNI][inspect.ToServer])
			assert.Equal(t, wantJA3, c.bufs[applayer.JA3String][inspect.ToServer])
			assert.Equal(t, md5Hex(wantJA3), c.bufs[applayer.JA3Hash][inspect.ToServer])
			assert.Equal(t, wantJA4, c.bufs[applayer.JA4Hash][inspect.ToServer])
			assert.Len(t, c.bufs[applayer.TLSRandom][inspect.ToServer], 32)
			assert.Len(t, c.bufs[applayer.TLSRandomBytes][inspect.ToClient], 28)
			assert.NotEqual(t, c.bufs[applayer.TLSRandom][inspect.ToServer], c.bufs[applayer.TLSRandom][inspect.ToClient],
				"each direction has its own hello's random")
			assert.True(t, strings.HasPrefix(c.bufs[applayer.JA3SString][sc], "771,"), c.bufs[applayer.JA3SString][sc])
			require.Len(t, c.certs, 1)
			assert.Equal(t, leaf.Raw, c.certs[0])
			require.Len(t, c.events, 1, "one tls record per flow")
			ev := c.events[0]
			assert.Equal(t, "TLS 1.2", ev.Version)
			assert.Equal(t, "cert.interdict.test", ev.SNI)
			assert.Equal(t, wantFP, ev.Fingerprint)
			assert.Equal(t, leaf.NotBefore, ev.NotBefore)
			assert.Equal(t, leaf.NotAfter, ev.NotAfter)
			assert.Equal(t, []string{"cert.interdict.test", "alt.interdict.test"}, ev.SubjectAltNames)
			assert.Equal(t, md5Hex(ev.JA3S), ev.JA3SHash)
			assert.Equal(t, wantJA4, ev.JA4)
			assert.Equal(t, []string{"h2", "http/1.1"}, ev.ClientALPNs, "the ALPN protocols offered")
			assert.Equal(t, []string{"h2"}, ev.ServerALPNs, "the one chosen")
		})
	}
}

func TestCertificateHiddenInTLS13(t *testing.T) {
	toServer, toClient, _, _ := handshake(t, cryptotls.VersionTLS13)
	c := run(toServer, toClient, 1<<20)
	assert.Nil(t, c.bufs[applayer.TLSCertSubject], "TLS 1.3 encrypts the certificate")
	assert.Empty(t, c.certs)
	assert.Equal(t, "\x03\x04", c.bufs[applayer.TLSVersion][inspect.ToClient])
	require.Len(t, c.events, 1)
	assert.Equal(t, "TLS 1.3", c.events[0].Version)
}

// A DER header cut short inside the certificate is Suricata's
// CERTIFICATE_INVALID_LENGTH (x509-parser wants more input); content that
// runs past its container is an invalid certificate.
func TestCertDERHeaderDepth(t *testing.T) {
	_, err := parseCert([]byte{0x30, 0x05, 0x30, 0x84, 0xff, 0xff, 0xff, 0xfa, 0x04, 0x84})
	require.Error(t, err)
	assert.ErrorIs(t, err, errDERHeader, "the inner length field is cut by the outer SEQUENCE")
	_, err = parseCert([]byte{0x30, 0x06, 0x30, 0x84, 0xff, 0xff, 0xff, 0xfa, 0x04})
	require.Error(t, err)
	assert.NotErrorIs(t, err, errDERHeader, "a whole header whose content is missing")
}
