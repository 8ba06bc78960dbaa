// Command httpmix is the HTTP origin of tests/bench/inspect.sh: a small
// site whose responses vary the way a real one's do (HTML, CSS, script,
// JSON pages, incompressible images and downloads, form posts, a redirect,
// a 404), so that inspection of both directions sees realistic bodies and
// headers rather than one repeated payload. httpmix.lua drives it with wrk.
// Bodies are generated once at start from a fixed seed: every run serves the
// same bytes, so runs compare.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", ":80", "address to serve on")
	flag.Parse()
	srv := &http.Server{
		Addr:              *listen,
		Handler:           newSite(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	fmt.Fprintln(os.Stderr, "httpmix:", srv.ListenAndServe())
	os.Exit(1)
}

// words make the text bodies look like prose and markup to the content
// matchers (a prefilter behaves differently on random bytes than on text).
var words = strings.Fields(`the of and to in is for on with as by at from this that
account login user session order item price cart checkout search result page
image video download file report document update install version release
network server client service request response status error message data`)

func text(r *rand.Rand, n int, sep string) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteString(sep)
	}
	return b.String()[:n]
}

func html(r *rand.Rand, n int) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title>\n" +
		"<link rel=\"stylesheet\" href=\"/static/style.css\"><script src=\"/static/app.js\" defer></script></head>\n<body>\n")
	for i := 0; b.Len() < n-32; i++ {
		fmt.Fprintf(&b, "<div class=\"item\" id=\"i%d\"><a href=\"/api/items?page=%d\">%s</a><p>%s</p></div>\n",
			i, i%7, text(r, 24, " "), text(r, 160, " "))
	}
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}

func script(r *rand.Rand, n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "function f%d(a,b){var s=%q;if(a>b){return s.split(' ').length+a}return document.getElementById('i%d')}\n",
			i, text(r, 48, " "), i)
	}
	return []byte(b.String())
}

func css(r *rand.Rand, n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, ".c%d{margin:%dpx;padding:%dpx;color:#%06x;font-family:sans-serif}\n", i, r.IntN(20), r.IntN(20), r.IntN(1<<24))
	}
	return []byte(b.String())
}

func random(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// page builds the JSON of one listing page; pages differ in length.
func page(r *rand.Rand, n int) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; i < 8+n*3; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":%q,"price":%d.%02d,"tags":[%q,%q]}`,
			n*100+i, text(r, 20, " "), r.IntN(500), r.IntN(100), words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	b.WriteString("]}\n")
	return []byte(b.String())
}

type asset struct {
	typ  string
	body []byte
	gz   []byte // gzip of body for text types, as sites serve them
}

func gzipped(b []byte) []byte {
	var o bytes.Buffer
	w, _ := gzip.NewWriterLevel(&o, gzip.DefaultCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return o.Bytes()
}

// serve writes body, gzip-encoded when the client accepts it and the type
// is text: the inspector then decodes it, as browsers do.
func serve(w http.ResponseWriter, req *http.Request, body, gz []byte) {
	if gz != nil && strings.Contains(req.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Vary", "Accept-Encoding")
		body = gz
	}
	_, _ = w.Write(body)
}

func newSite() http.Handler {
	r := rand.New(rand.NewPCG(1, 2))
	assets := map[string]asset{
		"/":                    {typ: "text/html; charset=utf-8", body: html(r, 6<<10)},
		"/static/app.js":       {typ: "application/javascript", body: script(r, 48<<10)},
		"/static/style.css":    {typ: "text/css", body: css(r, 12<<10)},
		"/img/photo.jpg":       {typ: "image/jpeg", body: append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), random(r, 80<<10)...)},
		"/download/report.pdf": {typ: "application/pdf", body: append([]byte("%PDF-1.7\n"), random(r, 256<<10)...)},
	}
	for path, a := range assets {
		if !strings.HasPrefix(a.typ, "image/") && a.typ != "application/pdf" {
			a.gz = gzipped(a.body)
			assets[path] = a
		}
	}
	var pages, gzPages [16][]byte
	for i := range pages {
		pages[i] = page(r, i)
		gzPages[i] = gzipped(pages[i])
	}
	mux := http.NewServeMux()
	for path, a := range assets {
		if path == "/" {
			path = "/{$}" // "/" alone would be the whole tree
		}
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", a.typ)
			w.Header().Set("Cache-Control", "max-age=60")
			serve(w, req, a.body, a.gz)
		})
	}
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, req *http.Request) {
		n, _ := strconv.Atoi(req.URL.Query().Get("page"))
		w.Header().Set("Content-Type", "application/json")
		i := (n%len(pages) + len(pages)) % len(pages)
		serve(w, req, pages[i], gzPages[i])
	})
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, req *http.Request) {
		_ = req.ParseForm()
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s" + strconv.Itoa(len(req.PostForm.Get("user"))*7919), Path: "/", HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"next":"/account"}`+"\n")
	})
	mux.HandleFunc("POST /api/upload", func(w http.ResponseWriter, req *http.Request) {
		n, _ := io.Copy(io.Discard, io.LimitReader(req.Body, 8<<20))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"stored":%d}`+"\n", n)
	})
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/", http.StatusFound)
	})
	// Everything else, including the reset probe's path when a request
	// reaches the origin (it should not: the rule rejects it), is a 404.
	return mux
}
