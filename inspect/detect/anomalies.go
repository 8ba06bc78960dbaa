package detect

// The anomalies the engine raises itself (a parser raises the others, and
// declares them in its applayer.Proto.Events).
const (
	// AnomHTTPPortNotHTTP: a TCP flow to one of Options.HTTPPorts that
	// no parser recognised.
	AnomHTTPPortNotHTTP = "HTTP_PORT_NOT_HTTP"
	// AnomStreamDepthUnrecognised: a flow no parser recognised crossed
	// Options.StreamDepth with StreamDepthReject set.
	AnomStreamDepthUnrecognised = "STREAM_DEPTH_UNRECOGNISED"
)

// EngineAnomalies are the engine's own anomaly names.
var EngineAnomalies = []string{AnomHTTPPortNotHTTP, AnomStreamDepthUnrecognised}
