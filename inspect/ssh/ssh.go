package ssh

import (
	"bytes"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// AppProto is the EVE app_proto name.
const AppProto = "ssh"

// maxBanner bounds an identification line: RFC 4253 allows 255 bytes
// with CR LF; a longer line raises EvLongBanner and ends parsing.
const maxBanner = 255

// Anomaly event names, as Suricata's ssh decoder events.
const (
	EvInvalidBanner = "INVALID_BANNER"
	EvLongBanner    = "LONG_BANNER"
)

func init() {
	applayer.Register(applayer.Proto{
		Name:      AppProto,
		Transport: inspect.ProtoTCP,
		Probe:     Probe,
		New:       func() applayer.Parser { return New() },
		Buffers:   []applayer.Buffer{applayer.SSHProto, applayer.SSHSoftware},
		Events:    applayer.EventNames(EvInvalidBanner, EvLongBanner),
	})
}

// Probe recognises a flow whose first bytes in either direction are an
// SSH identification line.
func Probe(_ inspect.Direction, data []byte) applayer.ProbeResult {
	const magic = "SSH-"
	n := min(len(data), len(magic))
	if string(data[:n]) != magic[:n] {
		return applayer.ProbeNo
	}
	if n < len(magic) {
		return applayer.ProbeMore
	}
	return applayer.ProbeYes
}

// Parser reads both banners. It implements applayer.Parser.
type Parser struct {
	line   [2][]byte
	done   [2]bool
	side   [2]inspect.SSHSide
	unit   applayer.Unit
	logged bool
}

var _ applayer.Parser = (*Parser)(nil)

// New returns a parser for one flow.
func New() *Parser {
	p := &Parser{}
	p.unit.AppProto = AppProto
	return p
}

// Feed implements applayer.Parser.
func (p *Parser) Feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	if dir > inspect.ToClient || p.done[dir] {
		return
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(p.line[dir])+len(data) > maxBanner {
			p.fail(dir, EvLongBanner, emit)
			return
		}
		p.line[dir] = append(p.line[dir], data...)
		return
	}
	line := append(p.line[dir], data[:i]...)
	p.line[dir] = nil
	p.done[dir] = true
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > maxBanner {
		p.fail(dir, EvLongBanner, emit)
		return
	}
	proto, software, ok := parseBanner(line)
	if !ok {
		p.fail(dir, EvInvalidBanner, emit)
		return
	}
	p.side[dir] = inspect.SSHSide{ProtoVersion: string(proto), SoftwareVersion: string(software)}
	u := &p.unit
	u.Dir = dir
	u.Buffers[applayer.SSHProto], u.Buffers[applayer.SSHSoftware] = proto, software
	if p.done[0] && p.done[1] {
		p.attachEvent()
	}
	emit(u)
	u.Event = nil
}

// Close implements applayer.Parser: a flow that ended after one banner is
// logged with what it had.
func (p *Parser) Close(emit func(*applayer.Unit)) {
	if p.logged || (p.side[0] == inspect.SSHSide{} && p.side[1] == inspect.SSHSide{}) {
		return
	}
	u := &p.unit
	u.Buffers[applayer.SSHProto], u.Buffers[applayer.SSHSoftware] = nil, nil
	p.attachEvent()
	emit(u)
	u.Event = nil
}

func (p *Parser) attachEvent() {
	if p.logged {
		return
	}
	p.logged = true
	p.unit.Event = &inspect.Event{Dir: inspect.ToServer, SSH: &inspect.SSHTx{Client: p.side[0], Server: p.side[1]}}
}

func (p *Parser) fail(dir inspect.Direction, ev string, emit func(*applayer.Unit)) {
	p.done[dir] = true
	p.line[dir] = nil
	emit(&applayer.Unit{AppProto: AppProto, Dir: dir, Anomalies: []inspect.Anomaly{{AppProto: AppProto, Event: ev}}})
}

// parseBanner splits "SSH-protoversion-softwareversion[ comments]".
func parseBanner(line []byte) (proto, software []byte, ok bool) {
	rest, found := bytes.CutPrefix(line, []byte("SSH-"))
	if !found {
		return nil, nil, false
	}
	proto, software, found = bytes.Cut(rest, []byte("-"))
	if !found || len(proto) == 0 || len(software) == 0 {
		return nil, nil, false
	}
	if sp := bytes.IndexByte(software, ' '); sp >= 0 {
		software = software[:sp]
	}
	return bytes.Clone(proto), bytes.Clone(software), len(software) > 0
}
