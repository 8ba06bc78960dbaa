package netstack

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"
)

// leg is one side of a relayed TCP flow.
type leg interface {
	// read fills b (a pooled buffer). Returns io.EOF after the peer's FIN
	// and errReset after its RST.
	read(b []byte) (int, error)
	// ready blocks until read would not block, so an idle flow does not
	// hold a pooled buffer. Legs that cannot tell return at once.
	ready() error
	write(b []byte) error
	closeWrite()
	// abort resets the leg (RST); close closes it gracefully (FIN).
	abort()
	close()
	// release frees what the leg holds after it was aborted or closed.
	release()
	// mute makes the leg's next abort or close wake none of the pumps
	// waiting on it; wake wakes them. ResetAll mutes the legs of a batch
	// of flows so that all their RSTs go out before 2 relay goroutines
	// per flow wake to tear down and queue ahead of everything else.
	mute()
	wake()
}

var (
	errReset  = errors.New("connection reset")
	errClosed = errors.New("leg closed")
)

// gvLeg is a leg on a raw gVisor TCP endpoint. The raw endpoint is kept
// (not a gonet.TCPConn) because reset needs Abort, and because waiting
// for readability before borrowing a buffer keeps idle flows small.
type gvLeg struct {
	ep       tcpip.Endpoint
	wq       *waiter.Queue
	rEntry   waiter.Entry
	wEntry   waiter.Entry
	rCh, wCh chan struct{}
	done     chan struct{}
	doneOnce sync.Once
	rd       bytes.Reader
	// sw is read's writer: a local handed to Endpoint.Read (an interface)
	// was one allocation per read. Only the pump reading this leg uses it.
	sw tcpip.SliceWriter
	// registered is cleared by whichever of mute and release unregisters
	// the waiter entries first: the resetting goroutine or the relay.
	registered atomic.Bool
	// muted is set and read only by the goroutine ending the flow.
	muted bool
}

func newGVLeg(ep tcpip.Endpoint, wq *waiter.Queue) *gvLeg {
	l := &gvLeg{ep: ep, wq: wq, done: make(chan struct{})}
	l.rEntry, l.rCh = waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	l.wEntry, l.wCh = waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&l.rEntry)
	wq.EventRegister(&l.wEntry)
	l.registered.Store(true)
	return l
}

func (l *gvLeg) ready() error {
	for {
		if l.ep.Readiness(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr) != 0 {
			return nil
		}
		select {
		case <-l.rCh:
		case <-l.done:
			return errClosed
		}
	}
}

func (l *gvLeg) read(b []byte) (int, error) {
	for {
		l.sw = tcpip.SliceWriter(b)
		res, err := l.ep.Read(&l.sw, tcpip.ReadOptions{})
		l.sw = nil
		if err == nil {
			// Receive-buffer moderation grows the window from what the
			// reader copies per RTT; gVisor learns it only from here.
			l.ep.ModerateRecvBuf(res.Count)
			return res.Count, nil
		}
		switch err.(type) {
		case *tcpip.ErrWouldBlock:
			select {
			case <-l.rCh:
				continue
			case <-l.done:
				return 0, errClosed
			}
		case *tcpip.ErrClosedForReceive:
			return 0, io.EOF
		case *tcpip.ErrConnectionReset, *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
			return 0, errReset
		default:
			return 0, errors.New(err.String())
		}
	}
}

func (l *gvLeg) write(b []byte) error {
	for len(b) > 0 {
		l.rd.Reset(b)
		n, err := l.ep.Write(&l.rd, tcpip.WriteOptions{})
		b = b[n:]
		if err == nil {
			continue
		}
		switch err.(type) {
		case *tcpip.ErrWouldBlock:
			select {
			case <-l.wCh:
			case <-l.done:
				return errClosed
			}
		case *tcpip.ErrConnectionReset, *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
			return errReset
		default:
			return errors.New(err.String())
		}
	}
	return nil
}

func (l *gvLeg) closeWrite() { _ = l.ep.Shutdown(tcpip.ShutdownWrite) }

func (l *gvLeg) stopWaits() { l.doneOnce.Do(func() { close(l.done) }) }

func (l *gvLeg) abort() {
	if !l.muted {
		l.stopWaits()
	}
	l.ep.Abort()
}

func (l *gvLeg) close() {
	if !l.muted {
		l.stopWaits()
	}
	l.ep.Close()
}

func (l *gvLeg) release() {
	l.stopWaits()
	l.unregister()
}

// mute unregisters the pumps' waiter entries, so that the endpoint's own
// notification of the abort or close reaches nobody either.
func (l *gvLeg) mute() {
	l.muted = true
	l.unregister()
}

func (l *gvLeg) wake() { l.stopWaits() }

func (l *gvLeg) unregister() {
	if l.registered.CompareAndSwap(true, false) {
		l.wq.EventUnregister(&l.rEntry)
		l.wq.EventUnregister(&l.wEntry)
	}
}

// connLeg is a leg on any net.Conn (host sockets from DirectDialer). It
// cannot wait for readability without a buffer, so a blocked read holds
// one pooled buffer per direction.
type connLeg struct{ c net.Conn }

func (l connLeg) ready() error { return nil }

func (l connLeg) read(b []byte) (int, error) {
	n, err := l.c.Read(b)
	if err != nil && n == 0 {
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		if isReset(err) {
			return 0, errReset
		}
		return 0, err
	}
	return n, nil
}

func (l connLeg) write(b []byte) error {
	_, err := l.c.Write(b)
	return err
}

func (l connLeg) closeWrite() {
	if cw, ok := l.c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func (l connLeg) abort() {
	switch c := l.c.(type) {
	case Aborter:
		c.Abort()
		return
	case *net.TCPConn:
		// Linger 0 makes close send RST instead of FIN.
		_ = c.SetLinger(0)
	}
	_ = l.c.Close()
}

func (l connLeg) close()   { _ = l.c.Close() }
func (l connLeg) release() {}

// A host socket's blocked read wakes through the poller when it is
// closed: there is no waiting of the relay's own to hold off.
func (l connLeg) mute() {}
func (l connLeg) wake() {}

// isReset reports whether a host socket error means the peer reset the
// connection (or the local stack aborted it), as opposed to any other
// failure. errors.Is sees through *net.OpError and *os.SyscallError to
// the errno, where matching the error text depended on the platform's
// wording.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED)
}

// upLeg picks the leg type for an upstream conn: the transparent dialer's
// conns expose their gVisor endpoint.
func upLeg(c net.Conn) leg {
	if tc, ok := c.(*TransparentConn); ok {
		return newGVLeg(tc.ep, tc.wq)
	}
	return connLeg{c}
}

// legAction is what ending a flow does to one leg.
type legAction uint8

const (
	actClose  legAction = iota // FIN
	actAbort                   // RST
	actSilent                  // nothing on the wire: the guard drops the RST
)

// verdictActions is the one place verdicts map onto the two legs
// (ARCHITECTURE.md, "Verdicts").
func verdictActions(v Verdict) (client, upstream legAction) {
	switch v {
	case Drop:
		return actSilent, actAbort
	case Reject:
		return actAbort, actClose
	case RejectDst:
		return actClose, actAbort
	case RejectBoth:
		return actAbort, actAbort
	}
	return actClose, actClose
}

// tcpFlow relays one TCP flow: one pump per direction.
type tcpFlow struct {
	Flow
	inspection
	s        *Stack
	client   leg
	upstream leg

	stopOnce sync.Once
	stopped  atomic.Bool
	reason   string
	pumps    atomic.Int32
	eofs     atomic.Int32
}

func (s *Stack) newTCPFlow(info *FlowInfo, t FiveTuple, fh FlowHandler, client, upstream leg) *tcpFlow {
	f := &tcpFlow{s: s, client: client, upstream: upstream}
	// A panicking handler resets both legs: fail closed.
	f.inspection = inspection{fh: fh, onPanic: RejectBoth}
	f.info = *info
	f.tuple = t
	f.touch(info.Start)
	f.Flow.stop = f.stopWith
	f.Flow.batch = f
	return f
}

// run relays until both directions end; the calling goroutine is the
// client-to-server pump.
func (f *tcpFlow) run() {
	f.pumps.Store(2)
	if f.s.enter() {
		go func() {
			_ = preGrowStack()
			defer f.s.leave()
			f.pump(ToClient, f.upstream, f.client)
		}()
	} else {
		f.pumps.Store(1)
		f.stopWith(Continue, "shutdown")
	}
	f.pump(ToServer, f.client, f.upstream)
}

func (f *tcpFlow) pump(dir Direction, from, to leg) {
	defer f.pumpDone()
	// h is the chunk being read and the bytes of this direction held
	// unsent (Hold); it keeps its pooled buffer only while it holds.
	var h heldBytes
	defer h.free(f.s)
	limit := f.s.cfg.limits.HoldLimit
	for {
		if err := from.ready(); err != nil {
			return
		}
		buf := h.room(f.s, limit)
		n, err := from.read(buf[h.n:])
		if err != nil {
			if f.stopped.Load() {
				return
			}
			if errors.Is(err, io.EOF) && h.n > 0 && !f.finalAsk(dir, &h, to) {
				return
			}
			h.free(f.s)
			switch {
			case errors.Is(err, io.EOF):
				// When the other direction is over too, pumpDone closes
				// both legs next, and the close sends this FIN: a
				// shutdown first was one more system call per
				// connection on a host socket.
				if f.pumps.Load() > 1 {
					to.closeWrite()
				}
				f.eofs.Add(1)
			case errors.Is(err, errReset):
				// Propagate the reset to the other leg. Held bytes were
				// never decided: they go nowhere.
				if dir == ToServer {
					f.end(actClose, actAbort, Continue, "rst")
				} else {
					f.end(actAbort, actClose, Continue, "rst")
				}
			case errors.Is(err, errClosed):
			default:
				f.end(actAbort, actAbort, Continue, "error")
			}
			return
		}
		v := f.decide(&f.inspection, f.s, dir, buf[h.n:h.n+n])
		h.n += n
		switch {
		case v.Terminal():
			f.stopWith(v, "verdict")
			return
		case v == Hold:
			if h.n < limit {
				continue
			}
			if v = f.undecided(f.s, dir, "limit"); v.Terminal() {
				f.stopWith(v, "hold_limit")
				return
			}
		}
		if f.stopped.Load() {
			// Reset meanwhile: ResetAll aborts the upstream legs of a
			// batch after all the clients', and bytes read before the
			// decision must not follow it.
			return
		}
		if err := to.write(buf[:h.n]); err != nil {
			if !f.stopped.Load() {
				f.end(actAbort, actAbort, Continue, "error")
			}
			return
		}
		if v == Monitor {
			f.observe(&f.inspection, f.s, dir, buf[h.n-n:h.n])
		}
		h.free(f.s)
	}
}

// finalAsk asks the handler about the bytes it holds when the stream in
// dir ended (an empty chunk) and forwards them on Continue or Pass. It
// reports whether the pump goes on to propagate the FIN; false when the
// flow was ended.
func (f *tcpFlow) finalAsk(dir Direction, h *heldBytes, to leg) bool {
	v := f.decide(&f.inspection, f.s, dir, nil)
	if v == Hold {
		v = f.undecided(f.s, dir, "eof")
	}
	if v.Terminal() {
		f.stopWith(v, "verdict")
		return false
	}
	if f.stopped.Load() {
		return false // reset meanwhile: as in pump
	}
	if err := to.write(h.bytes()); err != nil {
		if !f.stopped.Load() {
			f.end(actAbort, actAbort, Continue, "error")
		}
		return false
	}
	return true
}

// undecided is what becomes of held bytes the handler did not decide
// before the bound or the end of the stream: Reject (fail closed), or
// Continue with HoldFailOpen.
func (f *Flow) undecided(s *Stack, dir Direction, reason string) Verdict {
	v, outcome := Reject, "reject"
	if s.cfg.limits.HoldFailOpen {
		v, outcome = Continue, "forward"
	}
	s.m.holdUndecided.WithLabelValues(reason, outcome).Inc()
	s.log.Warn("flow handler held bytes without deciding", "flow", f.info.ID, "tuple", f.tuple,
		"dir", dir, "reason", reason, "limit", s.cfg.limits.HoldLimit, "outcome", outcome)
	return v
}

// heldBytes is one direction's read buffer and the bytes at its start
// that the handler holds (Hold). The next read lands behind them, so
// holding copies nothing until they fill the pooled buffer; then they
// move once into a buffer of the hold bound (rare: a head larger than a
// read buffer).
type heldBytes struct {
	bp  *[]byte // pooled, borrowed while reading or holding
	big []byte  // replaces *bp once the held bytes outgrew it
	n   int     // bytes held at the start of the buffer
}

// room returns the buffer to read into behind the held bytes, with room
// for at least one byte, and at most up to limit while bytes are held.
func (h *heldBytes) room(s *Stack, limit int) []byte {
	if h.bp == nil {
		h.bp = s.getBuf()
	}
	buf := *h.bp
	if h.big != nil {
		buf = h.big
	}
	if h.n == 0 {
		return buf
	}
	if h.n == len(buf) {
		// n < limit here: a Hold that reached the limit ended the flow.
		nb := make([]byte, min(limit, 2*len(buf)))
		copy(nb, buf[:h.n])
		h.big, buf = nb, nb
	}
	return buf[:min(len(buf), limit)]
}

func (h *heldBytes) bytes() []byte {
	if h.big != nil {
		return h.big[:h.n]
	}
	return (*h.bp)[:h.n]
}

// free forgets the held bytes and returns the pooled buffer.
func (h *heldBytes) free(s *Stack) {
	if h.bp != nil {
		s.putBuf(h.bp)
	}
	*h = heldBytes{}
}

// stopWith ends the flow with v's actions (see verdictActions).
func (f *tcpFlow) stopWith(v Verdict, reason string) {
	c, u := verdictActions(v)
	f.end(c, u, v, reason)
}

// stopClient implements batchStopper.
func (f *tcpFlow) stopClient(v Verdict, reason string) bool {
	c, _ := verdictActions(v)
	ended := false
	f.stopOnce.Do(func() {
		f.client.mute()
		f.upstream.mute()
		f.mark(c, v, reason)
		apply(f.client, c)
		ended = true
	})
	return ended
}

// stopUpstream implements batchStopper.
func (f *tcpFlow) stopUpstream(v Verdict) {
	_, u := verdictActions(v)
	apply(f.upstream, u)
}

// wake implements batchStopper.
func (f *tcpFlow) wake() {
	f.upstream.wake()
	f.client.wake()
}

func (f *tcpFlow) end(client, upstream legAction, v Verdict, reason string) {
	f.stopOnce.Do(func() {
		f.mark(client, v, reason)
		apply(f.upstream, upstream)
		apply(f.client, client)
	})
}

// mark records the end of the flow before its legs are acted on.
func (f *tcpFlow) mark(client legAction, v Verdict, reason string) {
	f.stopped.Store(true)
	f.reason = reason
	if v.Terminal() {
		f.verdict.Store(uint32(v))
	}
	if client == actSilent {
		_ = f.s.guard.Blackhole(f.tuple, time.Now().Add(f.s.cfg.limits.BlackholeTTL))
	}
}

func apply(l leg, a legAction) {
	switch a {
	case actClose:
		l.close()
	case actAbort, actSilent:
		l.abort()
	}
}

func (f *tcpFlow) pumpDone() {
	if f.pumps.Add(-1) != 0 {
		return
	}
	// Both directions are over: after two FINs this is the graceful end.
	f.end(actClose, actClose, Continue, "fin")
	f.client.release()
	f.upstream.release()
	f.s.flows.remove(&f.Flow)
	v := Verdict(f.verdict.Load())
	f.s.m.tcp.active.Dec()
	f.s.m.tcp.endedWith(v)
	f.fh.Close(FlowStats{
		BytesToServer: f.bytesToServer.Load(), BytesToClient: f.bytesToClient.Load(),
		PacketsToServer: f.pktsToServer.Load(), PacketsToClient: f.pktsToClient.Load(),
		Verdict: v, Reason: f.reason, End: time.Now(),
	})
}
