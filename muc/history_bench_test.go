package muc

import (
	"context"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// echoSession is an occupant's session for the throughput benchmark: it
// counts what it receives and wakes its sender when the room reflects the
// message it waits for.
type echoSession struct {
	jid  jid.JID
	want atomic.Pointer[string]
	echo chan struct{}
	got  atomic.Int64
}

func (e *echoSession) JID() jid.JID { return e.jid }
func (e *echoSession) Send(st *xmlstream.Stanza) bool {
	e.got.Add(1)
	if w := e.want.Load(); w != nil && st.ID() == *w {
		e.want.Store(nil)
		e.echo <- struct{}{}
	}
	return true
}
func (e *echoSession) Close(string, string) {}

// BenchmarkRoomHistoryThroughput measures archived groupchat messages per
// second through ONE room on a disk store with SyncWrites (every history
// append durable before the message is broadcast). Each of the senders is
// an occupant that sends a message and waits for the room to reflect it
// before sending the next, as a client would: with one sender the figure
// is the latency of one durable append; with many, what the room sustains.
//
// "pipelined" is one occupant keeping up to 512 messages in flight (half
// the room's mailbox) in a room of two: the room's own ceiling, with
// fan-out reduced to two copies per message.
func BenchmarkRoomHistoryThroughput(b *testing.B) {
	for _, senders := range []int{1, 16, 128} {
		b.Run("senders="+strconv.Itoa(senders), func(b *testing.B) {
			benchHistoryThroughput(b, senders)
		})
	}
	b.Run("pipelined", benchHistoryPipelined)
}

// newHistoryBenchRoom opens a SyncWrites disk store and a room owned by
// alice with n echo sessions in it.
func newHistoryBenchRoom(b *testing.B, n int) (*fixture, []*echoSession) {
	st, err := data.Open(filepath.Join(b.TempDir(), "db"), data.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	f := newFixtureOn(b, st, nil)
	f.createInstant(alice, "first")
	sess := make([]*echoSession, n)
	for i := range sess {
		full := "user" + strconv.Itoa(i) + "@example.com/r"
		j := jid.MustParse(full)
		sess[i] = &echoSession{jid: j, echo: make(chan struct{}, 1)}
		if _, err := f.router.Bind(sess[i], j.Bare(), j.Resourcepart()); err != nil {
			b.Fatal(err)
		}
		f.send("<presence from='" + full + "' to='" + testRoom + "/u" + strconv.Itoa(i) + "'><x xmlns='" + NSMUC + "'><history maxstanzas='0'/></x></presence>")
	}
	f.drainAll()
	return f, sess
}

const benchBody = "<body>Thrice the brinded cat hath mew'd, thrice and once the hedge-pig whined.</body>"

func benchHistoryPipelined(b *testing.B) {
	f, sess := newHistoryBenchRoom(b, 1)
	s := sess[0]
	ctx := context.Background()
	from := s.jid.String()
	const window = 512
	base := s.got.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		for int64(n)-(s.got.Load()-base) >= window {
			runtime.Gosched()
		}
		raw := "<message id='m" + strconv.Itoa(n) + "' type='groupchat' from='" + from + "' to='" + testRoom + "'>" + benchBody + "</message>"
		msg, err := xmlstream.ParseStanza([]byte(raw), xmlstream.NSClient, xmlstream.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		f.router.Route(ctx, msg)
	}
	for s.got.Load()-base < int64(b.N) {
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func benchHistoryThroughput(b *testing.B, senders int) {
	f, sess := newHistoryBenchRoom(b, senders)
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Bool
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, s := range sess {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := s.jid.String()
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				id := "m" + strconv.Itoa(i) + "-" + strconv.FormatInt(n, 10)
				s.want.Store(&id)
				raw := "<message id='" + id + "' type='groupchat' from='" + from + "' to='" + testRoom + "'>" + benchBody + "</message>"
				msg, err := xmlstream.ParseStanza([]byte(raw), xmlstream.NSClient, xmlstream.Limits{})
				if err != nil {
					failed.Store(true)
					return
				}
				f.router.Route(ctx, msg)
				<-s.echo
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if failed.Load() {
		b.Fatal("a message did not parse")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
