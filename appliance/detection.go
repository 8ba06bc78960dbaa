package appliance

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/appliance/enforce"
	configrules "github.com/interdict/interdict/configs/rules"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/rules"
	"github.com/interdict/interdict/inspect/ruleset"

	// The app-layer parsers register themselves with inspect/applayer;
	// the engine detects the protocols linked in.
	_ "github.com/interdict/interdict/inspect/dns"
	_ "github.com/interdict/interdict/inspect/http1"
	_ "github.com/interdict/interdict/inspect/ssh"
	_ "github.com/interdict/interdict/inspect/tls"
)

// PackPrefix names the embedded default pack's files in file:line
// reasons, so they are told apart from files on disk.
const PackPrefix = "default-pack/"

// maxRejectedLogged bounds the log lines of one load: a pack like ET Open
// rejects hundreds of rules, and the admin API lists them all.
const maxRejectedLogged = 50

// RuleStats describes the rule set the engine runs.
type RuleStats struct {
	// Generation counts successful loads: 1 after startup.
	Generation int
	LoadedAt   time.Time
	Loaded     int
	Rejected   []*rules.Error
	Files      []rules.FileCount
	// LastReload is the time and outcome of the last reload attempt
	// (zero before the first).
	LastReload      time.Time
	LastReloadError string
}

// ReloadError is a refused reload: the running engine stays in place.
// Reasons carry file:line where the fault has one.
type ReloadError struct {
	Reasons []string
}

func (e *ReloadError) Error() string {
	const shown = 20
	r := e.Reasons
	more := ""
	if len(r) > shown {
		more = fmt.Sprintf("; and %d more", len(r)-shown)
		r = r[:shown]
	}
	return "reload refused, running rules kept: " + strings.Join(r, "; ") + more
}

// Detection owns the rule engine behind the enforce handler: it loads the
// configured rules at startup and on reload compiles a new engine beside
// the running one and swaps it in (enforce.Handler.SetFactory), so live
// flows keep their inspector and new flows get the new rules.
type Detection struct {
	spec    RuleSettings
	handler *enforce.Handler
	log     *slog.Logger

	mu    sync.Mutex // serialises loads: two reloads never compile at once
	stats atomic.Pointer[RuleStats]

	reloads  *prometheus.CounterVec
	loaded   prometheus.Gauge
	rejected prometheus.Gauge
	loadErrs prometheus.Counter
}

// NewDetection loads the rules and builds the enforce handler over them.
// Rejected rules are logged and counted; only an unreadable input or a
// set in which no rule loads stops the start.
func NewDetection(spec RuleSettings, cfg enforce.Config, log *slog.Logger) (*Detection, error) {
	d := &Detection{spec: spec, log: log}
	d.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "interdict", Subsystem: "rules", Name: "reloads_total",
		Help: "Rule reloads by result: ok (new engine swapped in) or failed (running engine kept).",
	}, []string{"result"})
	d.loaded = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "interdict", Subsystem: "rules", Name: "loaded",
		Help: "Rules the running engine runs.",
	})
	d.rejected = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "interdict", Subsystem: "rules", Name: "rejected",
		Help: "Rules of the running set that were rejected (not runnable) when it was loaded.",
	})
	d.loadErrs = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "interdict", Subsystem: "rules", Name: "load_errors_total",
		Help: "Rules rejected with a file:line reason, summed over every load (startup and reloads).",
	})
	d.reloads.WithLabelValues("ok")
	d.reloads.WithLabelValues("failed")
	// One decoder memory budget for every flow, kept across reloads (the
	// flows of the old engine still hold their share).
	budget := http1.NewBudget(spec.HTTPLimits.DecoderMemory)
	d.spec.HTTPLimits.Budget = budget
	decMem := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "interdict", Subsystem: "http", Name: "decoder_memory_bytes",
			Help: "Memory reserved by the HTTP body decoders (gzip, deflate, br, zstd) of all flows.",
		}, func() float64 { return float64(budget.Used()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "http", Name: "decoder_memory_refused_total",
			Help: "Compressed bodies refused because their decoder would pass rules.http.decoder_memory.",
		}, func() float64 { return float64(budget.Refused()) }),
	}
	if cfg.Registerer != nil {
		for _, c := range append([]prometheus.Collector{d.reloads, d.loaded, d.rejected, d.loadErrs}, decMem...) {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("rules metrics: %w", err)
			}
		}
	}
	res, err := d.load()
	if err != nil {
		return nil, err
	}
	if res.Loaded == 0 {
		return nil, fmt.Errorf("rules: none of %d rules loaded (first: %s)", len(res.Rejected), firstReason(res.Rejected))
	}
	h, err := enforce.New(res.Engine, cfg)
	if err != nil {
		return nil, err
	}
	d.handler = h
	d.commit(res, time.Now())
	return d, nil
}

func firstReason(errs []*rules.Error) string {
	if len(errs) == 0 {
		return "no rules in the files"
	}
	return errs[0].Error()
}

// Handler is the enforce handler to hand to the netstack.
func (d *Detection) Handler() *enforce.Handler { return d.handler }

// Stats returns the running rule set's description.
func (d *Detection) Stats() RuleStats { return *d.stats.Load() }

// Spec builds the loader input from the settings: the embedded pack
// first (its classification.config unless one is configured), then the
// configured files in order.
func (rs RuleSettings) Spec() ruleset.Spec {
	var spec ruleset.Spec
	if rs.DefaultPack {
		for _, f := range configrules.RuleFiles() {
			spec.Rules = append(spec.Rules, ruleset.File{FS: configrules.Files, Path: f, Name: PackPrefix + f})
		}
		if rs.Classification == "" {
			spec.Classification = &ruleset.File{FS: configrules.Files, Path: configrules.Classification,
				Name: PackPrefix + configrules.Classification}
		}
	}
	for _, f := range rs.Files {
		spec.Rules = append(spec.Rules, ruleset.File{Path: f})
	}
	if rs.Classification != "" {
		spec.Classification = &ruleset.File{Path: rs.Classification}
	}
	if rs.ThresholdConfig != "" {
		spec.ThresholdConfig = &ruleset.File{Path: rs.ThresholdConfig}
	}
	spec.Vars = rs.Vars
	spec.HTTPBodyLimit = rs.HTTPBodyLimit
	spec.HTTPLimits = rs.HTTPLimits
	spec.HTTPPorts = rs.HTTPPorts
	spec.StreamDepth = rs.StreamDepth
	spec.StreamDepthReject = rs.StreamDepthReject
	spec.Prefilter = rs.Prefilter
	return spec
}

// load reads and compiles the rule set, logging and counting rejected
// rules.
func (d *Detection) load() (*ruleset.Result, error) {
	start := time.Now()
	res, err := ruleset.Load(d.spec.Spec())
	if err != nil {
		return nil, err
	}
	for i, e := range res.Rejected {
		if i == maxRejectedLogged {
			d.log.Warn("rules rejected", "more", len(res.Rejected)-i)
			break
		}
		d.log.Warn("rule rejected", "file", e.File, "line", e.Line, "sid", e.SID, "reason", e.Reason)
	}
	d.loadErrs.Add(float64(len(res.Rejected)))
	if n := countClasstypeRejects(res.Rejected); n > 0 {
		// ET Open alone names 30-odd classtypes the default pack's file does
		// not: loading it without its own classification.config rejects
		// about 11,000 rules for this one reason.
		d.log.Warn("rules rejected for a classtype the classification file lacks; set rules.classification to the rule set's own classification.config",
			"rules", n, "classification", classificationName(d.spec))
	}
	d.log.Info("rules compiled", "loaded", res.Loaded, "rejected", len(res.Rejected), "files", len(res.Files),
		"prefilter", prefilterEngines(res), "took", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// prefilterEngines names the multi-pattern engines the compiled groups
// scan with (one, unless a group fell back), so the log shows which
// engine rules.prefilter resolved to in this binary.
func prefilterEngines(res *ruleset.Result) string {
	var names []string
	if res.Engine != nil {
		for _, g := range res.Engine.Groups() {
			if g.Engine != "" && !slices.Contains(names, g.Engine) {
				names = append(names, g.Engine)
			}
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func (d *Detection) commit(res *ruleset.Result, now time.Time) {
	prev := d.stats.Load()
	st := &RuleStats{Generation: 1, LoadedAt: now, Loaded: res.Loaded, Rejected: res.Rejected, Files: res.Files}
	if prev != nil {
		st.Generation = prev.Generation + 1
		st.LastReload = now
	}
	d.stats.Store(st)
	d.loaded.Set(float64(res.Loaded))
	d.rejected.Set(float64(len(res.Rejected)))
}

// Reload re-reads every rule source and, if the new set is acceptable,
// swaps it in. Not acceptable: a source that cannot be read or parsed, a
// set in which no rule loads, or (unless rules.allow_partial) any
// rejected rule. Then the running engine stays and the error, a
// *ReloadError with file:line reasons where there are any, says why.
func (d *Detection) Reload() (RuleStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	res, err := d.load()
	if err == nil {
		switch {
		case res.Loaded == 0:
			err = &ReloadError{Reasons: append([]string{"no rule loaded"}, reasons(res.Rejected)...)}
		case len(res.Rejected) > 0 && !d.spec.AllowPartial:
			err = &ReloadError{Reasons: reasons(res.Rejected)}
		}
	} else {
		err = &ReloadError{Reasons: []string{err.Error()}}
	}
	if err != nil {
		d.reloads.WithLabelValues("failed").Inc()
		st := *d.stats.Load()
		st.LastReload, st.LastReloadError = now, err.Error()
		d.stats.Store(&st)
		d.log.Error("rule reload refused; the running rules stay", "err", err)
		return st, err
	}
	if err := d.handler.SetFactory(res.Engine); err != nil {
		d.reloads.WithLabelValues("failed").Inc()
		return d.Stats(), err
	}
	d.commit(res, now)
	d.reloads.WithLabelValues("ok").Inc()
	st := d.Stats()
	d.log.Info("rules reloaded", "generation", st.Generation, "loaded", st.Loaded, "rejected", len(st.Rejected))
	return st, nil
}

func reasons(errs []*rules.Error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// IsReloadRefused reports whether err is a refused reload.
func IsReloadRefused(err error) bool {
	var re *ReloadError
	return errors.As(err, &re)
}

func countClasstypeRejects(errs []*rules.Error) int {
	n := 0
	for _, e := range errs {
		if strings.HasPrefix(e.Reason, "unknown classtype") {
			n++
		}
	}
	return n
}

func classificationName(rs RuleSettings) string {
	switch {
	case rs.Classification != "":
		return rs.Classification
	case rs.DefaultPack:
		return PackPrefix + configrules.Classification
	}
	return "none"
}
