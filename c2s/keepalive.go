package c2s

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// keepalive is the XEP-0199 liveness check of a bound session. It needs no
// goroutine: one timer per connection, which the reader never touches; the
// reader only stamps conn.lastRead on input.
type keepalive struct {
	timer  *time.Timer // guarded by conn.timerMu
	prefix string      // id prefix of our pings, unique per connection

	mu       sync.Mutex
	seq      uint64
	pingSent int64 // unix nanoseconds of the unanswered ping, 0 if none
}

// keepaliveTick runs on the timer: it pings an idle client and closes one
// that stayed silent for PingTimeout after the ping. Any input counts as an
// answer: a result, an error, or traffic of any kind.
func (c *conn) keepaliveTick() {
	if c.q.isClosed() {
		return
	}
	now := time.Now().UnixNano()
	last := c.lastRead.Load()
	var ping *xmlstream.Stanza
	var next time.Duration
	c.ka.mu.Lock()
	if c.ka.pingSent != 0 {
		if last <= c.ka.pingSent {
			c.ka.mu.Unlock()
			c.closeStream(condConnectionTimeout, "No answer to ping", false)
			return
		}
		c.ka.pingSent = 0
	}
	if idle := time.Duration(now - last); idle < c.opts.IdleTimeout {
		next = c.opts.IdleTimeout - idle
	} else {
		c.ka.seq++
		c.ka.pingSent = now
		ping = c.pingStanza(c.ka.prefix + strconv.FormatUint(c.ka.seq, 10))
		next = c.opts.PingTimeout
	}
	c.ka.mu.Unlock()
	if ping != nil {
		c.sendStanza(ping)
	}
	c.timerMu.Lock()
	if !c.timersDead {
		c.ka.timer.Reset(next)
	}
	c.timerMu.Unlock()
}

// pingIDPrefix starts the id of every keepalive ping.
const pingIDPrefix = "ping-"

func (c *conn) pingStanza(id string) *xmlstream.Stanza {
	iq := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindIQ,
		"from", c.q.domainName(), "to", c.JID().String(), "id", id, "type", "get")
	iq.Append(xmlstream.NewElement(nsPing, "ping"))
	return xmlstream.NewStanza(iq)
}

// isPingReply: an answer to one of our pings, consumed by the stream.
func (c *conn) isPingReply(st *xmlstream.Stanza) bool {
	t := st.Type()
	return st.Name.Local == xmlstream.KindIQ && (t == "result" || t == "error") &&
		strings.HasPrefix(st.ID(), c.ka.prefix)
}

func (q *outQueue) domainName() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.domain
}
