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
