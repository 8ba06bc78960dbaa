package policy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// Guard is the part of *netstack.Guard the block list drives: the packet
// guard drops a blocked source's packets before gVisor sees them.
type Guard interface {
	Block(p netip.Prefix, until time.Time) error
	Unblock(p netip.Prefix) bool
}

// Flows is the part of *netstack.FlowTable used to reset a blocked
// source's live flows.
type Flows interface {
	Range(fn func(*netstack.Flow) bool)
}

// Options are the run-time dependencies of a Policy.
type Options struct {
	// Clock drives expiry, limiters and delays (default: the wall clock).
	Clock Clock
	// Registerer receives the metrics (nil: kept but not exported).
	Registerer prometheus.Registerer
	// Logger logs every block and unblock (default slog.Default()).
	Logger *slog.Logger
	// Events receives the EVE records: drops of chunks policy ended
	// (protocol validation, bytes/s drop) and an interruption record for
	// every block-list change. The appliance passes its one *eve.Writer,
	// so they land in the main EVE file. Nil discards (changes are still
	// logged).
	Events enforce.Sink
	// SweepEvery is the period of the expiry sweep (default 1s); negative
	// disables the background sweeper (tests call Sweep).
	SweepEvery time.Duration
	// Shared is the fleet's store (appliance/cluster), nil for a single
	// appliance: API and rule blocks are written to it, and the others'
	// are loaded by New and then applied from its watch.
	Shared state.Watcher
}

// Policy holds the block list, the rate limiters and the protocol
// validation settings. Wrap puts it in front of a netstack.Handler;
// Attach connects it to the stack's guard and flow table; OnResult is the
// enforce handler's hook. All methods are safe for concurrent use.
type Policy struct {
	s     *settings
	clock Clock
	log   *slog.Logger
	m     *metrics
	evs   enforce.Sink

	blocks blockList
	// attachMu orders Attach against block-list changes, so an entry
	// added while Attach copies the list reaches the guard exactly once.
	attachMu sync.Mutex
	guard    Guard
	flowTab  Flows

	sources *sourceLimiters
	live    liveFlows

	// shared is Options.Shared; stop ends its watch.
	shared state.Watcher
	stop   func()

	done chan struct{}
	// goMu orders goroutine starts against Close, so wg.Add never races
	// wg.Wait.
	goMu     sync.Mutex
	closed   bool
	wg       sync.WaitGroup
	eveErred atomic.Bool
}

// New validates cfg and builds a Policy. Static block entries are in
// force at once for flows the wrapped handler sees; the guard learns them
// at Attach.
func New(cfg Config, opts Options) (*Policy, error) {
	s, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	p := &Policy{s: s, clock: opts.Clock, log: opts.Logger, m: m, evs: opts.Events, done: make(chan struct{})}
	if p.clock == nil {
		p.clock = wallClock{}
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.blocks.init(s.maxEntries)
	p.live.m = map[uint64]*flow{}
	if nf := s.newFlows; nf != nil {
		p.sources = newSourceLimiters(nf, m.limiterSources)
	}
	for _, e := range s.static {
		if _, err := p.block(e.prefix, e.dur, e.reason, OriginStatic, blockCause{}); err != nil {
			return nil, fmt.Errorf("policy: static block %s: %w", e.prefix, err)
		}
	}
	if opts.Shared != nil {
		p.shared = opts.Shared
		if err := p.follow(opts.Shared); err != nil {
			return nil, err
		}
	}
	every := opts.SweepEvery
	if every == 0 {
		every = time.Second
	}
	if every > 0 {
		p.async(func() { p.sweeper(every) })
	}
	return p, nil
}

// Attach connects the policy to the stack's packet guard and flow table
// (netstack.Stack.Guard and Flows), which exist only after netstack.New,
// while the wrapped handler must be passed to it. Entries blocked before
// Attach are pushed to the guard now. Either argument may be nil.
func (p *Policy) Attach(g Guard, flows Flows) error {
	p.attachMu.Lock()
	p.guard, p.flowTab = g, flows
	list := p.List()
	var errs []error
	if g != nil {
		for _, e := range list {
			if err := g.Block(e.Prefix, p.guardUntil(e.Until)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	p.attachMu.Unlock()
	// Flows that started before Attach and are blocked already.
	for _, e := range list {
		p.resetFlows(e.Prefix)
	}
	return errors.Join(errs...)
}

// Close stops the sweeper and wakes every chunk waiting for the bytes/s
// limit (it is then forwarded at once). Call it after the stack's Close.
func (p *Policy) Close() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	p.goMu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.goMu.Unlock()
	p.wg.Wait()
}

// async runs fn on a goroutine Close waits for; false once closed.
func (p *Policy) async(fn func()) bool {
	p.goMu.Lock()
	defer p.goMu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
	return true
}

func (p *Policy) sweeper(every time.Duration) {
	for {
		select {
		case <-p.done:
			return
		case <-p.clock.After(every):
			p.Sweep()
			if p.sources != nil {
				p.sources.evictIdle(p.clock.Now())
			}
		}
	}
}

// emit writes an EVE record (a drop of a chunk policy ended, an
// interruption).
func (p *Policy) emit(ev *eve.Event) {
	if p.evs == nil {
		return
	}
	if err := p.evs.Write(ev); err != nil && p.eveErred.CompareAndSwap(false, true) {
		p.log.Error("policy: EVE write failed; further failures are not logged", "err", err)
	}
}
