package detect

import (
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// tunnel follows a flow that turned into another protocol's (an HTTP
// CONNECT answered 2xx, applayer.Tunneler): the parser is closed and
// protocol detection starts afresh on the tunnel's bytes, so what the
// tunnel carries (TLS, HTTP/2, HTTP) is parsed and its buffers
// inspected, as Suricata does after CONNECT; left opaque, a tunnel
// would hide a TLS SNI or a request from every app-layer rule. The
// new parser's transactions are numbered after the old one's, so rules
// deduplicated per transaction fire again on them.
func (f *Flow) tunnel() {
	tp, ok := f.parser.(applayer.Tunneler)
	if !ok {
		return
	}
	first, ok := tp.Tunnel()
	if !ok {
		return
	}
	f.parser.Close(f.onUnit)
	f.txBase = f.txNext
	f.parser, f.probing = nil, true
	for i := range f.dirs {
		f.dirs[i].probe, f.dirs[i].noApp = nil, false
		f.dirs[i].lastUnit.valid = false
	}
	f.appWhy = ""
	for _, dir := range [2]inspect.Direction{inspect.ToServer, inspect.ToClient} {
		if len(first[dir]) > 0 {
			f.appLayer(dir, first[dir])
		}
	}
}
