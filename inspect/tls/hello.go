package tls

// hello is what a ClientHello tells detection.
type hello struct {
	sni     []byte // aliases the handshake buffer
	version uint16 // highest offered: supported_versions, else legacy_version
	// first is the first known version in supported_versions (0: none),
	// the client's version for ssl_version as Suricata takes it.
	first     uint16
	anomalies [4]string
	nAnom     int
	ok        bool // the fixed part parsed: an EVE record is worth logging
	// legacy is the legacy_version field; random the 32-byte random.
	legacy uint16
	random []byte
	// ja3 is the JA3 string (legacy version, ciphers, extensions, groups,
	// point formats; GREASE values left out); ja4 the JA4 fingerprint.
	ja3, ja4 string
	// alpns are the ALPN extension's protocols; they alias the
	// handshake buffer.
	alpns [][]byte
}

func (h *hello) flag(ev string) {
	for _, a := range h.anomalies[:h.nAnom] {
		if a == ev {
			return
		}
	}
	if h.nAnom < len(h.anomalies) {
		h.anomalies[h.nAnom] = ev
		h.nAnom++
	}
}

// reader walks a byte slice; a short read sets bad and yields zeros.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() int {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() int {
	if len(r.b) < 2 {
		r.bad = true
		r.b = nil
		return 0
	}
	v := int(r.b[0])<<8 | int(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if len(r.b) < n {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// isGREASE reports RFC 8701 reserved values (0x?A?A), which clients offer
// to keep servers tolerant and which are never a real version.
func isGREASE(v int) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// parseClientHello parses a ClientHello body (RFC 8446 4.1.2, RFC 5246
// 7.4.1.2) and its server_name (RFC 6066 3) and supported_versions
// (RFC 8446 4.2.1) extensions.
func parseClientHello(b []byte) (h hello) {
	r := reader{b: b}
	h.version = uint16(r.u16())
	h.legacy = h.version
	h.random = r.bytes(32)
	if n := r.u8(); n > 32 {
		r.bad = true
	} else {
		r.bytes(n) // legacy_session_id
	}
	var ciphers []byte
	if n := r.u16(); n < 2 || n%2 != 0 {
		r.bad = true
	} else {
		ciphers = r.bytes(n)
	}
	if n := r.u8(); n < 1 {
		r.bad = true
	} else {
		r.bytes(n)
	}
	if r.bad {
		h.flag(EvInvalidHandshakeMessage)
		return h
	}
	h.ok = true
	var j ja3
	var j4 ja4
	j.add(0, int(h.legacy))
	for c := (reader{b: ciphers}); len(c.b) > 0; {
		v := c.u16()
		j.add(1, v)
		j4.cipher(v)
	}
	defer func() {
		h.ja3 = j.String(5)
		h.ja4 = j4.String(h.version)
	}()
	if len(r.b) == 0 {
		return h // no extensions: allowed before TLS 1.3
	}
	ext := reader{b: r.bytes(r.u16())}
	if r.bad || len(r.b) != 0 {
		h.flag(EvInvalidHandshakeMessage)
	}
	sniSeen := false
	for len(ext.b) > 0 {
		typ := ext.u16()
		data := ext.bytes(ext.u16())
		if ext.bad {
			h.flag(EvInvalidHandshakeMessage)
			break
		}
		j.add(2, typ)
		j4.extension(typ, data)
		switch typ {
		case 10: // supported_groups
			gr := reader{b: data}
			for l := (reader{b: gr.bytes(gr.u16())}); len(l.b) > 1; {
				j.add(3, l.u16())
			}
		case 11: // ec_point_formats
			pr := reader{b: data}
			for l := (reader{b: pr.bytes(pr.u8())}); len(l.b) > 0; {
				j.add(4, l.u8())
			}
		case 16: // application_layer_protocol_negotiation
			h.alpns = parseALPN(data, h.alpns[:0])
		case 0: // server_name
			if sniSeen {
				h.flag(EvMultipleSNIExtensions)
				continue
			}
			sniSeen = true
			h.sni = parseSNI(data, &h)
		case 43: // supported_versions
			vr := reader{b: data}
			list := reader{b: vr.bytes(vr.u8())}
			if vr.bad || len(vr.b) != 0 || len(list.b)%2 != 0 {
				h.flag(EvInvalidHandshakeMessage)
				continue
			}
			best := 0
			for len(list.b) > 0 {
				v := list.u16()
				if !isGREASE(v) && v > best {
					best = v
				}
				if h.first == 0 && sslClass(uint16(v)) != 0 {
					h.first = uint16(v)
				}
			}
			if best != 0 {
				h.version = uint16(best)
			}
		}
	}
	return h
}

// parseSNI returns the first host_name in a server_name extension.
func parseSNI(data []byte, h *hello) []byte {
	r := reader{b: data}
	list := reader{b: r.bytes(r.u16())}
	if r.bad || len(r.b) != 0 {
		h.flag(EvInvalidSNILength)
		return nil
	}
	var name []byte
	for len(list.b) > 0 {
		typ := list.u8()
		v := list.bytes(list.u16())
		if list.bad {
			h.flag(EvInvalidSNILength)
			return name
		}
		if typ != 0 {
			h.flag(EvInvalidSNIType)
			continue
		}
		if name == nil {
			name = v
		}
	}
	if name != nil && len(name) == 0 {
		h.flag(EvInvalidSNILength)
	}
	return name
}

// serverHello is what a ServerHello tells detection.
type serverHello struct {
	legacy, version uint16 // legacy_version; negotiated (supported_versions)
	random          []byte
	ja3s            string
	alpns           [][]byte // the chosen ALPN protocol; aliases the buffer
}

// parseALPN appends the protocols of an ALPN extension (RFC 7301 3.1: a
// 2-byte list length, then 1-byte-prefixed names) to dst; a malformed
// list ends the reading.
func parseALPN(data []byte, dst [][]byte) [][]byte {
	r := reader{b: data}
	l := reader{b: r.bytes(r.u16())}
	for len(l.b) > 0 {
		p := l.bytes(l.u8())
		if l.bad || len(p) == 0 {
			break
		}
		dst = append(dst, p)
	}
	return dst
}

// parseServerHello parses a ServerHello body (RFC 8446 4.1.3, RFC 5246
// 7.4.1.3); ok is false when its fixed part is malformed.
func parseServerHello(b []byte) (s serverHello, ok bool) {
	r := reader{b: b}
	s.legacy = uint16(r.u16())
	s.version = s.legacy
	s.random = r.bytes(32)
	if n := r.u8(); n > 32 {
		return s, false
	} else {
		r.bytes(n)
	}
	cipher := r.u16()
	r.u8() // compression
	if r.bad {
		return s, false
	}
	var j ja3
	j.add(0, int(s.legacy))
	j.add(1, cipher)
	if len(r.b) > 0 {
		ext := reader{b: r.bytes(r.u16())}
		for len(ext.b) > 0 && !ext.bad {
			typ := ext.u16()
			data := ext.bytes(ext.u16())
			j.add(2, typ)
			if typ == 43 && len(data) == 2 { // supported_versions: the chosen one
				s.version = uint16(data[0])<<8 | uint16(data[1])
			}
			if typ == 16 {
				s.alpns = parseALPN(data, nil)
			}
		}
	}
	s.ja3s = j.String(3)
	return s, true
}
