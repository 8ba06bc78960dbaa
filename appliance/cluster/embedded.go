package cluster

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded is a NATS server with JetStream running in the appliance,
// clustered with the other members through its routes. Its clients (the
// appliance's Store) connect on a loopback port.
type Embedded struct {
	srv *server.Server
	es  EmbeddedSettings
}

// clusterName is the NATS cluster every embedded member joins.
const clusterName = "interdict"

// StartEmbedded starts the server and waits until it accepts clients
// (not until JetStream has a leader: Open waits for that).
func StartEmbedded(es EmbeddedSettings, wait time.Duration) (*Embedded, error) {
	if err := os.MkdirAll(es.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: store_dir: %w", err)
	}
	routes, err := routeURLs(es.Routes)
	if err != nil {
		return nil, err
	}
	port := es.ClientPort
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: es.Name,
		Host:       "127.0.0.1", // only this appliance's Store is a client
		Port:       port,
		JetStream:  true,
		StoreDir:   es.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	// A member without routes is a fleet of one: a JetStream cluster
	// needs routes (the server refuses to start without them), so it runs
	// standalone and others may use it as an external server.
	if len(routes) > 0 {
		opts.Cluster = server.ClusterOpts{Name: clusterName, Host: es.RouteHost, Port: es.RoutePort}
		opts.Routes = routes
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("cluster: embedded NATS not ready after %s (route port %d busy?)", wait, es.RoutePort)
	}
	e := &Embedded{srv: srv, es: es}
	if a, ok := srv.Addr().(*net.TCPAddr); ok {
		e.es.ClientPort = a.Port
	}
	return e, nil
}

// Settings are the server's, with the client port it took: starting
// again with them (after Shutdown) keeps the port, so its Store
// reconnects.
func (e *Embedded) Settings() EmbeddedSettings { return e.es }

// ClientURL is where the appliance's Store connects.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Server is the NATS server, for monitoring (ctl cluster).
func (e *Embedded) Server() *server.Server { return e.srv }

// Shutdown stops the server and waits for its goroutines.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// routeURLs parses the route list.
func routeURLs(list []string) ([]*url.URL, error) {
	var out []*url.URL
	for _, r := range list {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil {
			return nil, fmt.Errorf("cluster: route %q: %w", r, err)
		}
		out = append(out, u)
	}
	return out, nil
}
