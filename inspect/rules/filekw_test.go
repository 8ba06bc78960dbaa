package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// filename and fileext are file.name with a nocase content, after which
// a bare content goes to the payload again (detect-filename.c).
func TestLegacyFileKeywords(t *testing.T) {
	r, why := loadOne(t, `alert http any any -> any any (msg:"t"; filename:!"R.PDF"; fileext:"pdf"; content:"x"; sid:1;)`)
	require.Empty(t, why)
	require.Len(t, r.Lists, 2)
	l := r.Lists[0]
	assert.Equal(t, applayer.FileName, l.Buffer)
	require.Len(t, l.Ops, 2)
	c0, c1 := l.Ops[0].(*Content), l.Ops[1].(*Content)
	assert.Equal(t, "R.PDF", string(c0.Pattern))
	assert.True(t, c0.Negate && c0.Nocase && !c0.EndsWith)
	assert.Equal(t, ".pdf", string(c1.Pattern))
	assert.True(t, !c1.Negate && c1.Nocase && c1.EndsWith)
	assert.Equal(t, applayer.BufNone, r.Lists[1].Buffer)

	_, why = loadOne(t, `alert http any any -> any any (msg:"t"; filename:""; sid:1;)`)
	assert.Contains(t, why, "filename: bad value")
}

func TestBase64Keywords(t *testing.T) {
	r, why := loadOne(t, `alert http any any -> any any (msg:"t"; http.uri; content:"arg"; base64_decode:bytes 10, offset 1, relative; base64_data; content:"test"; sid:1;)`)
	require.Empty(t, why)
	require.Len(t, r.Lists, 1)
	require.Len(t, r.Lists[0].Ops, 2)
	d, ok := r.Lists[0].Ops[1].(*Base64Decode)
	require.True(t, ok)
	assert.Equal(t, Base64Decode{Bytes: 10, Offset: 1, Relative: true, Data: d.Data}, *d)
	require.Len(t, d.Data, 1)

	for opts, want := range map[string]string{
		`base64_decode; content:"a";`: "content after base64_decode: only base64_data may follow it",
		`base64_decode;`:              "base64_decode without base64_data never matches",
		`base64_data; content:"a";`:   "base64_data without a base64_decode before it",
		`base64_decode; base64_data; content:"a"; base64_decode; base64_data;`: "more than one base64_decode",
	} {
		_, why := loadOne(t, `alert tcp any any -> any any (msg:"t"; `+opts+` sid:1;)`)
		assert.Equal(t, want, why, opts)
	}
}

func TestFromBase64Options(t *testing.T) {
	r, why := loadOne(t, `alert http any any -> any any (msg:"t"; http.uri; from_base64: bytes 4, offset 6, mode rfc2045 ; content:"x"; sid:1;)`)
	require.Empty(t, why)
	require.Len(t, r.Lists, 1)
	assert.Equal(t, []string{"from_base64:4,6,rfc2045"}, r.Lists[0].Transforms)

	r, why = loadOne(t, `alert http any any -> any any (msg:"t"; http.uri; from_base64; content:"x"; sid:1;)`)
	require.Empty(t, why)
	assert.Equal(t, []string{"from_base64:0,0,rfc4648"}, r.Lists[0].Transforms)

	for _, opts := range []string{"mode rfc1", "bytes 0", "offset -1", "offset 1, offset 2", "nope 1"} {
		_, why := loadOne(t, `alert http any any -> any any (msg:"t"; http.uri; from_base64:`+opts+`; content:"x"; sid:1;)`)
		assert.Contains(t, why, "from_base64:", opts)
	}
}

// Suricata takes a pcre without quotes.
func TestUnquotedPCRE(t *testing.T) {
	r, why := loadOne(t, `alert http any any -> any any (msg:"t"; pcre:/\.\/a/I; content:!"/c/"; http_raw_uri; within:5; sid:1;)`)
	require.Empty(t, why)
	require.Len(t, r.Lists, 1)
	assert.Equal(t, applayer.HTTPURIRaw, r.Lists[0].Buffer)
	p, ok := r.Lists[0].Ops[0].(*PCRE)
	require.True(t, ok)
	assert.Contains(t, p.Expr, `\.\/a`)
	_, why = loadOne(t, `alert http any any -> any any (msg:"t"; pcre:!/a/U; sid:1;)`)
	assert.Empty(t, why)
}

func TestFileSizeAndHashLists(t *testing.T) {
	r, why := loadOne(t, `alert http any any -> any any (msg:"t"; filesize:10<>20; sid:1;)`)
	require.Empty(t, why)
	require.Len(t, r.Lists, 1)
	assert.Equal(t, applayer.FileSize, r.Lists[0].Buffer)
	require.Len(t, r.Lists[0].Ops, 2)
	assert.Equal(t, ">", r.Lists[0].Ops[0].(*ByteTest).Op)
	assert.Equal(t, 20, r.Lists[0].Ops[1].(*ByteTest).Value.N)

	r, why = loadOne(t, `alert http any any -> any any (msg:"t"; filesize:!100; sid:1;)`)
	require.Empty(t, why)
	bt := r.Lists[0].Ops[0].(*ByteTest)
	assert.True(t, bt.Not && bt.Op == "=" && bt.Value.N == 100 && bt.Bytes == 8)

	for _, v := range []string{"abc", "!<5", "20-10", ""} {
		_, why := loadOne(t, `alert http any any -> any any (msg:"t"; filesize:`+v+`; sid:1;)`)
		assert.Contains(t, why, "filesize", v)
	}

	dir := t.TempDir()
	list := filepath.Join(dir, "md5.list")
	require.NoError(t, os.WriteFile(list, []byte("# bad files\n090fe607a5be1228362614ccaa088577\n\n"), 0o600))
	set := &Set{}
	require.NoError(t, set.Load(strings.NewReader(`alert http any any -> any any (msg:"t"; filemd5:!md5.list; sid:1;)`), filepath.Join(dir, "t.rules"), nil))
	require.Empty(t, set.Errors)
	hs := set.Rules[0].Lists[0].Ops[0].(*HashSet)
	assert.True(t, hs.Negate)
	assert.Len(t, hs.Set, 1)
	assert.Equal(t, applayer.FileMD5, set.Rules[0].Lists[0].Buffer)

	set = &Set{}
	require.NoError(t, set.Load(strings.NewReader(`alert http any any -> any any (msg:"t"; filesha256:md5.list; sid:1;)`), filepath.Join(dir, "t.rules"), nil))
	require.Len(t, set.Errors, 1)
	assert.Contains(t, set.Errors[0].Reason, "is not a 32-byte hex digest")
}

func TestDNSIntegerKeywords(t *testing.T) {
	r, why := loadOne(t, `alert dns any any -> any any (msg:"t"; dns.opcode:!0; dns.rcode:nxdomain; sid:1;)`)
	require.Empty(t, why)
	require.Len(t, r.Lists, 2)
	assert.Equal(t, applayer.DNSOpcode, r.Lists[0].Buffer)
	bt := r.Lists[0].Ops[0].(*ByteTest)
	assert.True(t, bt.Not && bt.Op == "=" && bt.Value.N == 0 && bt.Bytes == 1)
	assert.Equal(t, applayer.DNSRcode, r.Lists[1].Buffer)
	assert.Equal(t, 3, r.Lists[1].Ops[0].(*ByteTest).Value.N)

	r, why = loadOne(t, `alert udp any any -> any any (msg:"t"; dns.opcode:7-15; sid:1;)`)
	require.Empty(t, why)
	assert.Equal(t, "dns", r.AppProto)
	assert.Len(t, r.Lists[0].Ops, 2)

	for _, v := range []string{"16", "!7-15", "x"} {
		_, why := loadOne(t, `alert dns any any -> any any (msg:"t"; dns.opcode:`+v+`; sid:1;)`)
		assert.Contains(t, why, "dns.opcode", v)
	}
	r, why = loadOne(t, `alert dns any any -> any any (msg:"t"; dns.response.rrname; content:"mx"; sid:1;)`)
	require.Empty(t, why)
	assert.Equal(t, applayer.DNSResponseRRName, r.Lists[0].Buffer)
}

// Suricata 8's alert keyword makes a pass rule's matches alerts too.
func TestAlertKeyword(t *testing.T) {
	r, why := loadOne(t, `pass tcp any any -> any 22 (msg:"t"; alert; sid:2;)`)
	require.Empty(t, why)
	assert.True(t, r.Info.AlertPass)
	a := inspect.Alert{Rule: r.Info}
	assert.True(t, a.Logged())
	r, why = loadOne(t, `alert tcp any any -> any 22 (msg:"t"; alert; sid:2;)`)
	require.Empty(t, why)
	assert.False(t, r.Info.AlertPass)
	r, _ = loadOne(t, `pass tcp any any -> any 22 (msg:"t"; sid:2;)`)
	a = inspect.Alert{Rule: r.Info}
	assert.False(t, a.Logged(), "a pass rule logs nothing by default")
	_, why = loadOne(t, `alert tcp any any -> any 22 (msg:"t"; alert; noalert; sid:2;)`)
	assert.Equal(t, "alert and noalert together", why)
}
