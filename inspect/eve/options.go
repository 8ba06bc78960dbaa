package eve

import (
	"fmt"
	"net/netip"
	"strings"
)

// XFF is Suricata's xff option of an eve-log output type (alert, http):
// where the client address a reverse proxy or load balancer put in the
// X-Forwarded-For header goes in the event. A header whose chosen entry
// is not an IP address adds nothing.
type XFF struct {
	// Mode is "extra-data" (alert.xff, or xff on an http event) or
	// "overwrite" (it replaces src_ip, or dest_ip for data to the
	// client, as Suricata does).
	Mode string
	// Deployment is "reverse" (the last entry: the one the proxy in front
	// of the servers appended) or "forward" (the first: the client a
	// forward proxy saw).
	Deployment string
}

// XFF modes and deployments.
const (
	XFFExtraData = "extra-data"
	XFFOverwrite = "overwrite"
	XFFReverse   = "reverse"
	XFFForward   = "forward"
)

// Validate checks mode and deployment; empty ones take Suricata's
// fallbacks (extra-data, reverse).
func (x *XFF) Validate() error {
	if err := oneOf("mode", &x.Mode, XFFExtraData, XFFOverwrite); err != nil {
		return err
	}
	return oneOf("deployment", &x.Deployment, XFFReverse, XFFForward)
}

// oneOf sets an empty *v to the default, the first choice, and refuses
// anything but the two choices.
func oneOf(what string, v *string, def, other string) error {
	switch *v {
	case "":
		*v = def
	case def, other:
	default:
		return fmt.Errorf("xff %s %q: want %s or %s", what, *v, def, other)
	}
	return nil
}

// Address is the address header names for this deployment, or "" when
// that entry is not an IP address (a port after it is dropped, as
// Suricata does: 192.0.2.1:80, [2001:db8::1]:80).
func (x *XFF) Address(header string) string {
	entry := header
	if x.Deployment == XFFForward {
		if i := strings.IndexByte(entry, ','); i >= 0 {
			entry = entry[:i]
		}
	} else if i := strings.LastIndexByte(entry, ','); i >= 0 {
		entry = entry[i+1:]
	}
	entry = strings.TrimSpace(entry)
	if strings.HasPrefix(entry, "[") {
		end := strings.IndexByte(entry, ']')
		if end < 0 {
			return ""
		}
		entry = entry[1:end]
	} else if strings.Count(entry, ":") == 1 {
		entry = entry[:strings.IndexByte(entry, ':')]
	}
	a, err := netip.ParseAddr(entry)
	if err != nil || a.Zone() != "" {
		return ""
	}
	return a.String()
}

// apply puts the X-Forwarded-For address of ev's transaction where x says.
func (x *XFF) apply(ev *Event) {
	addr := x.Address(ev.xff)
	if addr == "" {
		return
	}
	if x.Mode == XFFOverwrite {
		if ev.Direction == "to_client" {
			ev.DestIP = addr
		} else {
			ev.SrcIP = addr
		}
		return
	}
	if ev.Alert != nil {
		a := *ev.Alert
		a.XFF = addr
		ev.Alert = &a
		return
	}
	ev.XFF = addr
}

// Options are the options of Suricata's eve-log types that change what a
// Writer writes.
type Options struct {
	// AlertXFF and HTTPXFF are the xff options of alert and http events
	// (nil: off).
	AlertXFF, HTTPXFF *XFF
	// HTTPBasic makes http events carry only the basic http fields, as
	// Suricata's http logger without extended: yes.
	HTTPBasic bool
	// DNSVersion2 writes dns events in Suricata's version 2 format
	// (eve-log dns version: 2): a record per question of a request, one
	// per response (dnsv2.go). Alerts keep version 3.
	DNSVersion2 bool
	// DNSNoRequests and DNSNoResponses drop dns events of requests or
	// responses (Suricata's dns requests: no, responses: no); DNSTypes,
	// when set, keeps only messages with a question of one of these
	// record types (upper case, as logged: A, AAAA, MX), as Suricata's
	// types: list does. Alerts are not filtered.
	DNSNoRequests, DNSNoResponses bool
	DNSTypes                      []string
}

// SetOptions sets the options. Call it before the first Write.
func (w *Writer) SetOptions(o Options) {
	w.xffAlert, w.xffHTTP, w.httpBasic, w.dnsV2 = o.AlertXFF, o.HTTPXFF, o.HTTPBasic, o.DNSVersion2
	w.dnsFilter = dnsFilter{noRequests: o.DNSNoRequests, noResponses: o.DNSNoResponses, types: o.DNSTypes}
}

// outputOptions returns ev, or a copy with the writer's per-type options
// (xff, the basic http form) applied.
func (w *Writer) outputOptions(ev *Event) *Event {
	if w.httpBasic && ev.EventType == TypeHTTP && ev.HTTP != nil {
		e := *ev
		e.HTTP = ev.HTTP.basic()
		ev = &e
	}
	return w.withXFF(ev)
}

// withXFF returns ev, or a copy with the xff option applied.
func (w *Writer) withXFF(ev *Event) *Event {
	if ev.xff == "" {
		return ev
	}
	var x *XFF
	switch ev.EventType {
	case TypeAlert:
		x = w.xffAlert
	case TypeHTTP:
		x = w.xffHTTP
	}
	if x == nil {
		return ev
	}
	e := *ev
	x.apply(&e)
	return &e
}
