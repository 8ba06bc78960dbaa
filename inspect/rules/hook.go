package rules

import (
	"strings"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// Suricata 8's explicit rule hooks: "PROTO:HOOK" in the header's
// protocol field (tls:client_hello_done) pins where an app-layer rule is
// evaluated, the transaction's state in one direction, instead of
// letting the engine infer it from the rule's keywords
// (doc/userguide/firewall/firewall-design.rst, "Explicit rule hook").
// The rule is evaluated on the Units whose transaction has reached that
// state in that direction (the AppHook multi-buffer lists the states a
// Unit's side has reached), and alerts once per transaction, as any
// app-layer rule.

// appHooks are the states Suricata defines per protocol; to_server ones
// come first in each list. Every protocol has the general four.
var appHooks = map[string][]string{
	"tls": {"client_in_progress", "client_hello_done", "client_cert_done", "client_handshake_done", "client_finished",
		"server_in_progress", "server_hello", "server_cert_done", "server_hello_done", "server_handshake_done", "server_finished"},
	"http1": {"request_started", "request_line", "request_headers", "request_body", "request_trailer", "request_complete",
		"response_started", "response_line", "response_headers", "response_body", "response_trailer", "response_complete"},
}

var generalHooks = []string{"request_started", "request_complete", "response_started", "response_complete"}

// hookDir is the direction a hook's state belongs to.
func hookDir(hook string) inspect.Direction {
	if strings.HasPrefix(hook, "server_") || strings.HasPrefix(hook, "response_") {
		return inspect.ToClient
	}
	return inspect.ToServer
}

// splitHook takes "PROTO:HOOK" out of a rule's header, which gonids
// cannot parse, leaving PROTO. It returns the text unchanged and no hook
// when the protocol field has none, and a reason when the hook is not
// one Suricata defines for the protocol.
func splitHook(text string) (string, string, string) {
	i := strings.IndexFunc(text, isSpaceRune)
	if i < 0 {
		return text, "", ""
	}
	rest := strings.TrimLeftFunc(text[i:], isSpaceRune)
	j := strings.IndexFunc(rest, isSpaceRune)
	if j < 0 {
		return text, "", ""
	}
	proto, hook, ok := strings.Cut(rest[:j], ":")
	if !ok {
		return text, "", ""
	}
	start := len(text) - len(rest)
	p := strings.ToLower(proto)
	if strings.HasPrefix(hook, "<") {
		return text, "", "rule hook " + rest[:j] + ": accepting prior states (<) is for firewall rules only"
	}
	if !validHook(p, hook) {
		return text, "", "unknown rule hook " + rest[:j] + " (Suricata's app-layer hooks of " + p + ")"
	}
	return text[:start] + proto + text[start+j:], hook, ""
}

func validHook(proto, hook string) bool {
	if _, app := appProtos[proto]; !app {
		return false
	}
	for _, h := range appHooks[proto] {
		if h == hook {
			return true
		}
	}
	if proto == "http" {
		return false // hooks are per protocol state machine: http1 or http2
	}
	for _, h := range generalHooks {
		if h == hook {
			return true
		}
	}
	return false
}

func isSpaceRune(r rune) bool { return r == ' ' || r == '\t' }

// hookList pins the rule to its hook: a list on the AppHook multi-buffer
// that matches the state exactly, and the direction the state is in.
func (c *converter) hookList(hook string) error {
	fl := &c.out.Flow
	dir := hookDir(hook)
	if dir == inspect.ToServer && fl.ToClient || dir == inspect.ToClient && fl.ToServer {
		return rejectf("rule hook %s conflicts with the flow direction", hook)
	}
	fl.ToServer, fl.ToClient = dir == inspect.ToServer, dir == inspect.ToClient
	l := c.list(applayer.AppHook, nil)
	l.Ops = append(l.Ops, &Content{Pattern: []byte(hook)}, &Bsize{IntCmp{Op: "=", N: len(hook)}})
	return nil
}
