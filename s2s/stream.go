package s2s

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// header returns a server stream header; empty attributes are omitted.
func header(from, to, id string) []byte {
	b := []byte("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0'")
	for _, a := range [][2]string{{"from", from}, {"to", to}, {"id", id}} {
		if a[1] != "" {
			b = append(b, ' ')
			b = append(b, a[0]...)
			b = append(b, "='"...)
			b = xmlstream.AppendEscaped(b, a[1])
			b = append(b, '\'')
		}
	}
	return append(b, '>')
}

func streamErrorBytes(cond, text string) []byte {
	b := []byte("<stream:error><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
	if text != "" {
		b = append(b, "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"...)
		b = xmlstream.AppendEscaped(b, text)
		b = append(b, "</text>"...)
	}
	return append(b, "</stream:error></stream:stream>"...)
}

// dialbackElement serializes <db:result/> or <db:verify/> with the stream's db prefix.
func dialbackElement(local, from, to, id, typ, key string) []byte {
	b := []byte("<db:" + local)
	for _, a := range [][2]string{{"from", from}, {"to", to}, {"id", id}, {"type", typ}} {
		if a[1] != "" {
			b = append(b, ' ')
			b = append(b, a[0]...)
			b = append(b, "='"...)
			b = xmlstream.AppendEscaped(b, a[1])
			b = append(b, '\'')
		}
	}
	if key == "" {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	b = xmlstream.AppendEscaped(b, key)
	return append(b, "</db:"+local+">"...)
}

func newStreamID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// conn is one server stream's socket with serialized writes.
type conn struct {
	net.Conn
	dec *xmlstream.Decoder
	id  string // stream id of the peer's last header
	// detach stops closing the socket when the connect context ends.
	detach func() bool
	wmu    sync.Mutex
}

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.Conn.Write(b)
	return err
}

// next reads the next element within d (0 = no deadline).
func (c *conn) next(d time.Duration) (*xmlstream.Stanza, error) {
	if d > 0 {
		_ = c.SetReadDeadline(time.Now().Add(d))
	} else {
		_ = c.SetReadDeadline(time.Time{})
	}
	return c.dec.Next()
}

// resolve returns the addresses to try for a remote domain: the static
// Hosts entry, else its _xmpp-server._tcp SRV targets in order, else domain:5269.
func (s *Service) resolve(ctx context.Context, domain string) []string {
	if a, ok := s.opts.Hosts[domain]; ok {
		return []string{a}
	}
	_, srvs, err := net.DefaultResolver.LookupSRV(ctx, "xmpp-server", "tcp", domain)
	if err == nil && len(srvs) > 0 {
		if len(srvs) == 1 && srvs[0].Target == "." {
			return nil // RFC 2782: service decidedly not available
		}
		out := make([]string, 0, len(srvs))
		for _, r := range srvs {
			out = append(out, net.JoinHostPort(trimDot(r.Target), strconv.Itoa(int(r.Port))))
		}
		return out
	}
	return []string{net.JoinHostPort(domain, "5269")}
}

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

// dial connects to the first reachable address of domain.
func (s *Service) dial(ctx context.Context, domain string) (net.Conn, error) {
	addrs := s.resolve(ctx, domain)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("s2s: %s publishes no XMPP server", domain)
	}
	var d net.Dialer
	var last error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
