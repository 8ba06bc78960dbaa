package rules

import (
	"strconv"
	"strings"

	"github.com/interdict/interdict/inspect/applayer"
)

// Suricata's HTTP/2 frame keywords (rust/src/http2/detect.rs): each tests
// the frames of a stream in the direction inspected and matches when
// any frame does. http2.frametype and http2.errorcode take a name or a
// number, http2.priority (a weight) and http2.window (an increment) a
// number with an optional comparison (<, >, <=, >=, a range lo-hi).

// http2FrameTypes and http2ErrorCodes are RFC 9113's names, as Suricata
// spells them.
var http2FrameTypes = map[string]uint64{"DATA": 0, "HEADERS": 1, "PRIORITY": 2, "RST_STREAM": 3, "SETTINGS": 4,
	"PUSH_PROMISE": 5, "PING": 6, "GOAWAY": 7, "WINDOW_UPDATE": 8, "CONTINUATION": 9}

var http2ErrorCodes = map[string]uint64{"NO_ERROR": 0, "PROTOCOL_ERROR": 1, "INTERNAL_ERROR": 2,
	"FLOW_CONTROL_ERROR": 3, "SETTINGS_TIMEOUT": 4, "STREAM_CLOSED": 5, "FRAME_SIZE_ERROR": 6,
	"REFUSED_STREAM": 7, "CANCEL": 8, "COMPRESSION_ERROR": 9, "CONNECT_ERROR": 10, "ENHANCE_YOUR_CALM": 11,
	"INADEQUATE_SECURITY": 12, "HTTP_1_1_REQUIRED": 13, "HTTP11_REQUIRED": 13}

// http2SettingIDs are the SETTINGS parameters Suricata names.
var http2SettingIDs = map[string]uint16{"SETTINGS_HEADER_TABLE_SIZE": 1, "SETTINGS_ENABLE_PUSH": 2,
	"SETTINGS_MAX_CONCURRENT_STREAMS": 3, "SETTINGS_INITIAL_WINDOW_SIZE": 4, "SETTINGS_MAX_FRAME_SIZE": 5,
	"SETTINGS_MAX_HEADER_LIST_SIZE": 6, "SETTINGS_ENABLE_CONNECT_PROTOCOL": 8, "SETTINGS_NO_RFC7540_PRIORITIES": 9}

// http2Settings builds http2.settings:ID[ VALUE], VALUE a uint test
// ("42", ">76", "42-68"): a SETTINGS parameter with that identifier (and
// a value passing the test) in the direction inspected.
func (c *converter) http2Settings(v string) error {
	v = strings.TrimSpace(v)
	end := strings.IndexFunc(v, func(r rune) bool { return !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') })
	if end < 0 {
		end = len(v)
	}
	id, ok := http2SettingIDs[strings.ToUpper(v[:end])]
	if !ok {
		return rejectf("http2.settings: unknown setting %q", v[:end])
	}
	l := c.list(applayer.HTTP2Settings, nil)
	l.Ops = append(l.Ops, &Content{Pattern: []byte{byte(id >> 8), byte(id)}, Depth: &Value{N: 2}})
	if rest := strings.TrimSpace(v[end:]); rest != "" {
		ops, err := uintTests("http2.settings", strings.ReplaceAll(rest, " ", ""), false, 4, 1<<32-1)
		if err != nil {
			return err
		}
		for _, op := range ops {
			op.(*ByteTest).Offset = Value{N: 2}
		}
		l.Ops = append(l.Ops, ops...)
	}
	if c.out.AppProto == "" {
		c.out.AppProto = "http2"
	}
	return nil
}

func (c *converter) http2Frame(kw, v string, neg bool) error {
	buf, nbytes, max := applayer.HTTP2FrameType, 1, uint64(255)
	var names map[string]uint64
	switch kw {
	case "http2.frametype":
		names = http2FrameTypes
	case "http2.errorcode":
		buf, nbytes, max, names = applayer.HTTP2ErrorCode, 4, 1<<32-1, http2ErrorCodes
	case "http2.priority":
		buf = applayer.HTTP2Priority
	case "http2.window":
		buf, nbytes, max = applayer.HTTP2Window, 4, 1<<31-1
	}
	if names != nil {
		if n, ok := names[strings.ToUpper(strings.TrimSpace(v))]; ok {
			v = strconv.FormatUint(n, 10)
		} else if _, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err != nil {
			return rejectf("%s: unknown value %q", kw, v)
		}
	}
	ops, err := uintTests(kw, v, neg, nbytes, max)
	if err != nil {
		return err
	}
	if c.out.AppProto == "" {
		c.out.AppProto = "http2"
	}
	l := c.list(buf, nil)
	l.Ops = append(l.Ops, ops...)
	return nil
}
