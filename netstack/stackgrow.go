package netstack

// growIndex is a variable so preGrowStack's frame cannot be optimised
// away.
var growIndex = 1

// preGrowStack grows the calling goroutine's stack to 16 KiB in one copy
// while the stack is still shallow. The forwarder's per-SYN goroutine
// and a flow's upstream-to-client pump each grew 4 -> 8 -> 16 KiB
// (runtime.copystack probed with perf while tests/bench's connect loop
// ran): every growth copies and re-walks the frames already on the
// stack, deep ones under net.Dial and gVisor's send path, which cost
// about 5% of the appliance's CPU at 4,000 connections per second;
// growing once at entry cost about 1.5%. The memory is the same 16 KiB
// the goroutine reached anyway, and the runtime shrinks idle stacks.
//
//go:noinline
func preGrowStack() byte {
	var b [8 << 10]byte
	b[growIndex] = 1
	return b[growIndex*2]
}
