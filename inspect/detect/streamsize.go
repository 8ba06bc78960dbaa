package detect

import (
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/rules"
)

// streamSizeOK evaluates stream_size. Suricata compares a side's
// next_seq - isn: the bytes it sent plus one for its SYN; the stream
// offsets here count payload bytes, so one is added. A side's size
// includes the chunk being inspected, as Suricata's stream engine has
// updated next_seq before detection runs. Only TCP flows have a size.
func (f *Flow) streamSizeOK(s *rules.StreamSize) bool {
	if f.tr != trTCP {
		return false
	}
	client := int(f.dirs[inspect.ToServer].off) + 1
	server := int(f.dirs[inspect.ToClient].off) + 1
	switch s.Side {
	case "client":
		return s.Cmp.Match(client)
	case "server":
		return s.Cmp.Match(server)
	case "both":
		return s.Cmp.Match(client) && s.Cmp.Match(server)
	}
	return s.Cmp.Match(client) || s.Cmp.Match(server) // either
}
