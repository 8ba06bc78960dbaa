package applayer

// Tunneler is implemented by a parser whose flow can turn into another
// protocol's: an HTTP CONNECT answered 2xx. After a Feed, Tunnel reports
// (once) that the flow is now a tunnel, with the first bytes of each
// direction that the parser took past that point; the parser reads no
// more. Detection then probes those bytes, and the ones that follow, for
// the tunnelled protocol as it does a new flow's, as Suricata changes a
// flow's protocol after CONNECT.
type Tunneler interface {
	Tunnel() (first [2][]byte, ok bool)
}
