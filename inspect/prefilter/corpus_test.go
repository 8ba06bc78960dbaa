package prefilter

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// trafficText generates HTTP-ish traffic of about size bytes: requests and
// responses with realistic headers, HTML/JSON bodies and some binary, and,
// once every plant bytes on average, a literal from pats (in random case
// when nocase) so the text matches like real traffic does.
func trafficText(r *rand.Rand, size int, pats []Pattern, plant int) []byte {
	methods := []string{"GET", "POST", "PUT", "HEAD"}
	paths := []string{"/", "/index.php", "/wp-admin/admin-ajax.php", "/api/v1/users", "/static/js/app.min.js", "/images/logo.png", "/search", "/login.aspx"}
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"curl/8.5.0", "python-requests/2.31.0", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	}
	words := []string{"the", "content", "user", "session", "value", "data", "id", "name", "type", "html", "div", "class", "script", "function", "return", "var", "true", "false", "null", "error", "token"}
	out := make([]byte, 0, size+4096)
	next := r.IntN(max(plant, 1)) + 1
	appendS := func(s string) {
		for _, c := range []byte(s) {
			out = append(out, c)
			next--
			if next == 0 && len(pats) > 0 {
				p := pats[r.IntN(len(pats))]
				for _, b := range p.Data {
					if p.Nocase && r.IntN(2) == 0 && 'a' <= b && b <= 'z' {
						b -= 'a' - 'A'
					}
					out = append(out, b)
				}
				next = r.IntN(2*plant) + 1
			}
		}
	}
	for len(out) < size {
		q := fmt.Sprintf("?%s=%d&%s=%s", words[r.IntN(len(words))], r.IntN(100000), words[r.IntN(len(words))], words[r.IntN(len(words))])
		appendS(fmt.Sprintf("%s %s%s HTTP/1.1\r\nHost: www.example%d.com\r\nUser-Agent: %s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nCookie: sid=%x\r\nConnection: keep-alive\r\n\r\n",
			methods[r.IntN(len(methods))], paths[r.IntN(len(paths))], q, r.IntN(50), agents[r.IntN(len(agents))], r.Uint64()))
		body := make([]byte, 0, 2048)
		switch r.IntN(3) {
		case 0:
			body = append(body, "<html><head><title>Example</title></head><body>"...)
			for i := r.IntN(60); i > 0; i-- {
				body = fmt.Appendf(body, "<div class=\"%s\">%s %s</div>\n", words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))])
			}
			body = append(body, "</body></html>"...)
		case 1:
			body = append(body, '{')
			for i := r.IntN(40); i > 0; i-- {
				body = fmt.Appendf(body, "\"%s\":\"%s%d\",", words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1000))
			}
			body = append(body, "\"end\":null}"...)
		default:
			for i := r.IntN(1500); i > 0; i-- {
				body = append(body, byte(r.UintN(256)))
			}
		}
		appendS(fmt.Sprintf("HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 20 Nov 2026 10:00:00 GMT\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nSet-Cookie: sid=%x; Path=/; HttpOnly\r\n\r\n", len(body), r.Uint64()))
		appendS(string(body))
	}
	return out
}

func TestETOpenDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every engine with all ET Open contents")
	}
	pats := loadETContents(t)
	r := rand.New(rand.NewPCG(5, 6))
	text := trafficText(r, 6000, pats, 200)
	want := differential(t, pats, text, [][]byte{text}, randomChunks(r, text), cut(text, 1000, 1001, 1003, 4000))
	t.Logf("%d matches in %d bytes", len(want), len(text))
	require.Greater(t, len(want), 100, "the sample must exercise matching")
}
