package main

import (
	"fmt"
	"io"
	"strings"

	goqr "github.com/piglig/go-qr"
)

// qrQuiet is the light border a reader needs around the code, in modules
// (ISO/IEC 18004 asks for four).
const qrQuiet = 4

// writeQR prints text as a QR code for a terminal: two module rows per
// line with half-block characters, dark modules in black on white set
// explicitly with ANSI colours, so it scans on light and dark terminal
// themes alike. The WireGuard mobile apps import a config from it.
func writeQR(w io.Writer, text string) error {
	q, err := goqr.EncodeText(text, goqr.Low)
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	_, err = io.WriteString(w, renderQR(q.Size(), q.Module))
	return err
}

// renderQR draws a size x size module matrix (dark reports whether a
// module is dark; outside the matrix is the quiet zone).
func renderQR(size int, dark func(x, y int) bool) string {
	at := func(x, y int) bool {
		x, y = x-qrQuiet, y-qrQuiet
		return x >= 0 && y >= 0 && x < size && y < size && dark(x, y)
	}
	var b strings.Builder
	n := size + 2*qrQuiet
	for y := 0; y < n; y += 2 {
		b.WriteString("\x1b[30;47m") // black on white
		for x := 0; x < n; x++ {
			top, bottom := at(x, y), at(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\x1b[0m\n")
	}
	return b.String()
}
