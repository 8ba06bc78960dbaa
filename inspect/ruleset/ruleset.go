package ruleset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/interdict/interdict/inspect/rules"
)

// File is one input file: Path inside FS, or on the operating system's
// file system when FS is nil. Name is how errors and rejected rules name
// it ("" is Path); the embedded pack uses e.g. "default-pack/c2.rules" so
// an operator can tell it from a file on disk.
type File struct {
	FS   fs.FS
	Path string
	Name string
}

// DisplayName is the name errors use.
func (f File) DisplayName() string {
	if f.Name != "" {
		return f.Name
	}
	return f.Path
}

func (f File) open() (io.ReadCloser, error) {
	if f.FS != nil {
		return f.FS.Open(f.Path)
	}
	return os.Open(f.Path)
}

// Spec describes a rule set.
type Spec struct {
	// Rules are loaded in order.
	Rules []File
	// Classification is classification.config; nil accepts every
	// classtype with severity 3, set rejects rules with unknown ones.
	Classification *File
	// ThresholdConfig is threshold.config; optional.
	ThresholdConfig *File
	// Vars overrides address and port variables (names without '$').
	Vars map[string]string
	// HTTPBodyLimit bounds the HTTP body bytes kept for inspection per
	// message; 0 keeps the parser's default.
	HTTPBodyLimit int
	// HTTPLimits bounds the HTTP parser; zero fields keep the parser's
	// defaults (http1.DefaultLimits). HTTPBodyLimit, when set, wins over
	// HTTPLimits.Body.
	HTTPLimits http1.Limits
	// StreamDepthReject is detect.Options.StreamDepthReject.
	StreamDepthReject bool
	// HTTPPorts is detect.Options.HTTPPorts: server ports where a flow
	// no parser recognises is the anomaly HTTP_PORT_NOT_HTTP.
	HTTPPorts []uint16
	// StreamDepth is detect.Options.StreamDepth: the bytes per TCP
	// direction raw-stream rules inspect; 0 is unlimited.
	StreamDepth int64
	// ActionOrder is Suricata's action-order (e.g. drop, pass, reject,
	// alert), strongest first; empty keeps the default (pass, drop,
	// reject, alert).
	ActionOrder []string
	// Now is the threshold clock (nil: wall clock); replay passes the
	// capture's clock.
	Now func() time.Time
	// Packets is detect.Options.Packets: set by replay, which reports
	// packets to the engine.
	Packets bool
	// Prefilter is detect.Options.Prefilter: the multi-pattern engine
	// (nil: prefilter.Default).
	Prefilter prefilter.Builder
}

// Result is a compiled rule set and what loading it rejected.
type Result struct {
	Engine *detect.Engine
	// Set holds the parsed rules (callers derive e.g. traffic tags).
	Set *rules.Set
	// Loaded is the number of rules the engine runs.
	Loaded int
	// Rejected lists every rule the parser or the compiler could not
	// run, with file:line, sid and reason, in file order.
	Rejected []*rules.Error
	// Files counts per file; Loaded there counts parsed rules (a parsed
	// rule may still be rejected by the compiler).
	Files []rules.FileCount
}

// ErrNoRules is wrapped by Load when no rule source was given.
var ErrNoRules = errors.New("no rule files configured")

// Load reads every source and compiles the engine.
func Load(spec Spec) (*Result, error) {
	if len(spec.Rules) == 0 {
		return nil, ErrNoRules
	}
	eopts := detect.Options{Now: spec.Now, StreamDepth: spec.StreamDepth, StreamDepthReject: spec.StreamDepthReject,
		HTTPPorts: spec.HTTPPorts, Packets: spec.Packets, Prefilter: spec.Prefilter}
	if len(spec.ActionOrder) > 0 {
		order, err := detect.ParseActionOrder(spec.ActionOrder)
		if err != nil {
			return nil, err
		}
		eopts.ActionOrder = order
	}
	opts := &rules.Options{Vars: spec.Vars}
	if c := spec.Classification; c != nil {
		classes, err := readWith(*c, func(r io.Reader) (map[string]rules.Class, error) {
			return rules.LoadClassification(r, c.DisplayName())
		})
		if err != nil {
			return nil, fmt.Errorf("classification: %w", err)
		}
		opts.Classification = classes
	}
	if tcf := spec.ThresholdConfig; tcf != nil {
		tc, err := readWith(*tcf, func(r io.Reader) (*rules.ThresholdConfig, error) {
			return rules.LoadThresholds(r, tcf.DisplayName())
		})
		if err != nil {
			return nil, fmt.Errorf("threshold config: %w", err)
		}
		eopts.Thresholds = tc
	}
	set := &rules.Set{}
	for _, f := range spec.Rules {
		rc, err := f.open()
		if err != nil {
			return nil, fmt.Errorf("rules: %s: %w", f.DisplayName(), err)
		}
		err = set.Load(rc, f.DisplayName(), opts)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("rules: %s: %w", f.DisplayName(), err)
		}
	}
	if lim := spec.HTTPLimits; spec.HTTPBodyLimit > 0 || lim != (http1.Limits{}) || usesFileMatch(set.Rules) || usesHTTP1Frames(set.Rules) {
		if spec.HTTPBodyLimit > 0 {
			lim.Body = spec.HTTPBodyLimit
		}
		// The file keywords need each file's size and digests: hashing
		// costs a pass over every body byte, so only rule sets that use
		// them pay for it.
		lim.FileMatch = usesFileMatch(set.Rules)
		// So do the frame buffers: a copy of the message per Unit.
		lim.Frames = usesHTTP1Frames(set.Rules)
		eopts.Protos = WithHTTPLimits(applayer.Protos(), lim)
	}
	eng, err := detect.New(set.Rules, eopts)
	if err != nil {
		return nil, fmt.Errorf("compile rules: %w", err)
	}
	res := &Result{Engine: eng, Set: set, Loaded: eng.Rules(), Files: set.Files}
	res.Rejected = append(append(res.Rejected, set.Errors...), eng.Rejected()...)
	return res, nil
}

func readWith[T any](f File, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	rc, err := f.open()
	if err != nil {
		return zero, fmt.Errorf("%s: %w", f.DisplayName(), err)
	}
	defer rc.Close()
	return parse(rc)
}

// usesFileMatch reports whether a rule tests a complete file (filesize,
// filemd5, filesha1, filesha256).
func usesFileMatch(rs []*rules.Rule) bool {
	for _, r := range rs {
		for _, l := range r.Lists {
			switch l.Buffer {
			case applayer.FileSize, applayer.FileMD5, applayer.FileSHA1, applayer.FileSHA256:
				return true
			}
		}
	}
	return false
}

// usesHTTP1Frames reports whether a rule inspects an HTTP/1 frame
// (frame:http1.request, frame:http1.response).
func usesHTTP1Frames(rs []*rules.Rule) bool {
	for _, r := range rs {
		for _, l := range r.Lists {
			if l.Buffer == applayer.HTTP1FrameRequest || l.Buffer == applayer.HTTP1FrameResponse {
				return true
			}
		}
	}
	return false
}

// WithHTTPLimits returns protos with the HTTP parser's limits set to l
// (zero fields keep their defaults). Without l.Budget, the parsers share
// one budget of l.DecoderMemory.
func WithHTTPLimits(protos []applayer.Proto, l http1.Limits) []applayer.Proto {
	if l.Budget == nil {
		l.Budget = http1.NewBudget(l.DecoderMemory)
	}
	out := append([]applayer.Proto(nil), protos...)
	for i := range out {
		switch out[i].Name {
		case http1.AppProto:
			out[i].New = func() applayer.Parser { return http1.New(http1.WithLimits(l)) }
		case http1.AppProto2:
			out[i].New = func() applayer.Parser { return http1.New(http1.WithLimits(l), http1.WithPriorKnowledge()) }
		}
	}
	return out
}
