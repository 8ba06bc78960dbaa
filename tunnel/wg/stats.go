package wg

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
)

// Stats are the device's counters since Open.
type Stats struct {
	// RxPackets and RxBytes are decrypted packets handed to the stack.
	RxPackets, RxBytes uint64
	// TxPackets and TxBytes are packets the stack wrote, handed to
	// wireguard-go for encryption.
	TxPackets, TxBytes uint64
	// RxDropped: decrypted but not IP, or no stack attached. TxDropped:
	// larger than the MTU.
	RxDropped, TxDropped uint64
	// Datagrams received on the UDP socket, by WireGuard message type.
	Initiations, Responses, Cookies, Transport uint64
	// Malformed datagrams: an unknown message type or a size no message
	// of its type has. Dropped before any cryptography.
	Malformed uint64
	// Handshake messages wireguard-go rejected: a bad MAC (not meant for
	// this key, or garbage), an initiation it could not consume (unknown
	// peer, replayed or stale timestamp), a response or cookie reply that
	// did not verify.
	InvalidMAC, InvalidInitiation, InvalidResponse, InvalidCookie uint64
	// UnderLoad: handshake messages answered with a cookie reply instead
	// of being processed, because the device was under load (its
	// handshake queue filling up) and the sender showed no valid cookie.
	// A flood of replayed initiations lands here and in
	// InvalidInitiation; what wireguard-go's per-source rate limiter or a
	// full handshake queue drops shows only in Initiations.
	UnderLoad uint64
	// DisallowedSource: decrypted packets whose inner source address is
	// not among the sending peer's allowed IPs (a peer sending as another
	// peer or an address it was not given), dropped by wireguard-go.
	DisallowedSource uint64
}

type counters struct {
	rxPackets, rxBytes, txPackets, txBytes, rxDropped, txDropped  atomic.Uint64
	initiations, responses, cookies, transport, malformed         atomic.Uint64
	invalidMAC, invalidInitiation, invalidResponse, invalidCookie atomic.Uint64
	underLoad, disallowedSource                                   atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(), TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(),
		RxDropped: c.rxDropped.Load(), TxDropped: c.txDropped.Load(),
		Initiations: c.initiations.Load(), Responses: c.responses.Load(), Cookies: c.cookies.Load(), Transport: c.transport.Load(),
		Malformed: c.malformed.Load(), InvalidMAC: c.invalidMAC.Load(), InvalidInitiation: c.invalidInitiation.Load(),
		InvalidResponse: c.invalidResponse.Load(), InvalidCookie: c.invalidCookie.Load(),
		UnderLoad: c.underLoad.Load(), DisallowedSource: c.disallowedSource.Load(),
	}
}

// countingBind classifies every received datagram by WireGuard message
// type and size; the device does the real checks.
type countingBind struct {
	conn.Bind
	c *counters
}

// Open implements conn.Bind.Open, wrapping each receive function.
func (b *countingBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.Bind.Open(port)
	if err != nil {
		return nil, 0, err
	}
	out := make([]conn.ReceiveFunc, len(fns))
	for i, fn := range fns {
		out[i] = func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
			n, err := fn(packets, sizes, eps)
			for j := 0; j < n; j++ {
				b.classify(packets[j][:sizes[j]])
			}
			return n, err
		}
	}
	return out, actual, nil
}

func (b *countingBind) classify(p []byte) {
	if len(p) < 4 {
		b.c.malformed.Add(1)
		return
	}
	switch typ := binary.LittleEndian.Uint32(p); {
	case typ == device.MessageInitiationType && len(p) == device.MessageInitiationSize:
		b.c.initiations.Add(1)
	case typ == device.MessageResponseType && len(p) == device.MessageResponseSize:
		b.c.responses.Add(1)
	case typ == device.MessageCookieReplyType && len(p) == device.MessageCookieReplySize:
		b.c.cookies.Add(1)
	case typ == device.MessageTransportType && len(p) >= device.MessageTransportSize:
		b.c.transport.Add(1)
	default:
		b.c.malformed.Add(1)
	}
}

// newLogger adapts wireguard-go's printf logger to slog and counts the
// handshake rejections it reports. wireguard-go has no counters of its
// own; its log formats are constants, so they are matched exactly.
func newLogger(log *slog.Logger, c *counters) *device.Logger {
	count := func(format string) {
		switch format {
		case "Received packet with invalid mac1":
			c.invalidMAC.Add(1)
		case "Received invalid initiation message from %s":
			c.invalidInitiation.Add(1)
		case "Received invalid response message from %s":
			c.invalidResponse.Add(1)
		case "Could not decrypt invalid cookie response", "Failed to decode cookie reply":
			c.invalidCookie.Add(1)
		case "Sending cookie response for denied handshake message for %v":
			c.underLoad.Add(1)
		case "IPv4 packet with disallowed source address from %v", "IPv6 packet with disallowed source address from %v":
			c.disallowedSource.Add(1)
		}
	}
	return &device.Logger{
		Verbosef: func(format string, args ...any) {
			count(format)
			if log != nil && log.Enabled(context.Background(), slog.LevelDebug) {
				log.Debug("wireguard: " + fmt.Sprintf(format, args...))
			}
		},
		Errorf: func(format string, args ...any) {
			count(format)
			if log != nil {
				log.Warn("wireguard: " + fmt.Sprintf(format, args...))
			}
		},
	}
}
