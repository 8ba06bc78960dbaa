package tls

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestVersionName: EVE's tls.version spells the TLS 1.3 drafts as
// Suricata does (rust/src/tls_version.rs).
func TestVersionName(t *testing.T) {
	for v, want := range map[uint16]string{
		0x0200: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3",
		0x7f1c: "TLS 1.3 draft-28", 0x7f12: "TLS 1.3 draft-18", 0x7f10: "TLS 1.3 draft-16",
		0x7f0e: "TLS 1.3 draft-<16", 0x7f01: "TLS 1.3 draft-<16",
		0xfb17: "TLS 1.3 draft-23-fb", 0xfb1a: "TLS 1.3 draft-26-fb",
		0x7f1d: "UNDETERMINED", 0xfb18: "UNDETERMINED", 0x0305: "UNDETERMINED",
	} {
		assert.Equal(t, want, versionName(v), "%#04x", v)
	}
}
