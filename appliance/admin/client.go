package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client speaks to the API.
type Client struct {
	http  *http.Client
	base  string
	token string
}

// NewUnixClient talks to the API on a unix socket.
func NewUnixClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &Client{http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, base: "http://interdict"}
}

// NewTCPClient talks to the API at base (http://host:port) with a bearer
// token.
func NewTCPClient(base, token string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("admin url %q: want http(s)://host:port", base)
	}
	return &Client{http: &http.Client{Timeout: 2 * time.Minute}, base: strings.TrimRight(base, "/"), token: token}, nil
}

// do sends a request and decodes a 2xx answer into out; other answers
// become *APIError.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte: // sent as it is (tests send malformed bodies)
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin API: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ReloadRefused
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		return &APIError{Status: resp.StatusCode, Message: eb.Error, Reasons: eb.Reasons}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API: decode %s answer: %w", path, err)
	}
	return nil
}

// Status is GET /v1/status.
func (c *Client) Status(ctx context.Context) (st Status, err error) {
	return st, c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
}

// Flows is GET /v1/flows.
func (c *Client) Flows(ctx context.Context) (fl []Flow, err error) {
	return fl, c.do(ctx, http.MethodGet, "/v1/flows", nil, &fl)
}

// Block is POST /v1/block.
func (c *Client) Block(ctx context.Context, req BlockRequest) (b Block, err error) {
	return b, c.do(ctx, http.MethodPost, "/v1/block", req, &b)
}

// Unblock is DELETE /v1/block/{prefix}.
func (c *Client) Unblock(ctx context.Context, prefix string) error {
	return c.do(ctx, http.MethodDelete, "/v1/block/"+url.PathEscape(strings.ReplaceAll(prefix, "/", "_")), nil, nil)
}

// Blocks is GET /v1/blocks.
func (c *Client) Blocks(ctx context.Context) (bl []Block, err error) {
	return bl, c.do(ctx, http.MethodGet, "/v1/blocks", nil, &bl)
}

// Reload is POST /v1/reload. A refusal is an *APIError with status 409
// and the reasons.
func (c *Client) Reload(ctx context.Context) (r Rules, err error) {
	return r, c.do(ctx, http.MethodPost, "/v1/reload", nil, &r)
}

// Rules is GET /v1/rules.
func (c *Client) Rules(ctx context.Context) (r Rules, err error) {
	return r, c.do(ctx, http.MethodGet, "/v1/rules", nil, &r)
}

// Identities is GET /v1/identities.
func (c *Client) Identities(ctx context.Context) (st []IdentityState, err error) {
	return st, c.do(ctx, http.MethodGet, "/v1/identities", nil, &st)
}

// Interrupt is POST /v1/identities/interrupt.
func (c *Client) Interrupt(ctx context.Context, req InterruptRequest) (st []IdentityState, err error) {
	return st, c.do(ctx, http.MethodPost, "/v1/identities/interrupt", req, &st)
}

// Release is POST /v1/identities/release.
func (c *Client) Release(ctx context.Context, req ReleaseRequest) (r Released, err error) {
	return r, c.do(ctx, http.MethodPost, "/v1/identities/release", req, &r)
}

// Tokens is GET /v1/tokens.
func (c *Client) Tokens(ctx context.Context) (tb []TokenBinding, err error) {
	return tb, c.do(ctx, http.MethodGet, "/v1/tokens", nil, &tb)
}

// Unbind is DELETE /v1/tokens/{prefix}.
func (c *Client) Unbind(ctx context.Context, prefix string) (tb []TokenBinding, err error) {
	return tb, c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(prefix), nil, &tb)
}

// IsStatus reports whether err is an API answer with the given status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}
