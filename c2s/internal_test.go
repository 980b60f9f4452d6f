package c2s

import (
	"testing"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

func TestTokenBucket(t *testing.T) {
	b := newTokenBucket(1000, 4000)
	done := make(chan struct{})
	if !b.take(4000, done) {
		t.Fatal("the burst was refused")
	}
	close(done)
	// 10 s of debt: take must sleep, and give up when the conn dies.
	start := time.Now()
	if b.take(10000, done) {
		t.Fatal("take returned true while in debt on a closed connection")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("take ignored done")
	}
}

func TestWebSocketStanzaNamespace(t *testing.T) {
	tr := &wsTransport{}
	cases := []struct{ raw, want string }{
		{"<message to='a@b'/>", "<message xmlns='jabber:client' to='a@b'/>"},
		{"<iq id='1'><query xmlns='jabber:iq:roster'/></iq>", "<iq xmlns='jabber:client' id='1'><query xmlns='jabber:iq:roster'/></iq>"},
		{"<message xmlns='jabber:client' to='a@b'/>", "<message xmlns='jabber:client' to='a@b'/>"},
		{"<message to='x' xmlns = \"jabber:client\"/>", "<message to='x' xmlns = \"jabber:client\"/>"},
		{"<presence xmlns:foo='urn:foo' foo:a='1'/>", "<presence xmlns='jabber:client' xmlns:foo='urn:foo' foo:a='1'/>"},
		{"<presence/>", "<presence xmlns='jabber:client'/>"},
	}
	for _, c := range cases {
		st, err := xmlstream.ParseStanza([]byte(c.raw), xmlstream.NSClient, xmlstream.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", c.raw, err)
		}
		if got := string(tr.stanzaBytes(st)); got != c.want {
			t.Errorf("%s: got %s, want %s", c.raw, got, c.want)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{"1.0": true, "1.1": true, "2.0": true, "1.10": true, "": false, "0.9": false, "1": false, "x.y": false} {
		if err := checkVersion(v); (err == nil) != ok {
			t.Errorf("version %q: %v", v, err)
		}
	}
}

func TestSASLEncoding(t *testing.T) {
	if b, ok := decodeSASL(""); !ok || b != nil {
		t.Error("no data must be nil")
	}
	if b, ok := decodeSASL("="); !ok || b == nil || len(b) != 0 {
		t.Error("= must be empty data")
	}
	if _, ok := decodeSASL("a*b"); ok {
		t.Error("bad base64 accepted")
	}
	if got := string(appendSASL(nil, "success", nil, false)); got != "<success xmlns='"+nsSASL+"'/>" {
		t.Error(got)
	}
	if got := string(appendSASL(nil, "challenge", []byte{}, true)); got != "<challenge xmlns='"+nsSASL+"'>=</challenge>" {
		t.Error(got)
	}
}

func TestQueueBounds(t *testing.T) {
	q := newOutQueue(10)
	if q.push(make([]byte, 8), false) != pushed {
		t.Fatal("push under the limit refused")
	}
	if q.push(make([]byte, 8), false) != overflow {
		t.Fatal("push over the limit accepted")
	}
	if q.push(make([]byte, 8), true) != pushed {
		t.Fatal("forced control data refused")
	}
	items, _, _, _ := q.take()
	if len(items) != 2 || q.bytes != 0 {
		t.Fatalf("take: %d items, %d bytes left", len(items), q.bytes)
	}
}

// An ack request travels at the end of the batch it covers, never alone.
func TestAckRequestEndsBatch(t *testing.T) {
	q := newOutQueue(1 << 10)
	q.pushStanza([]byte("<message/>"), true)
	q.pushStanza([]byte("<presence/>"), false)
	items, _, _, _ := q.take()
	if len(items) != 3 || string(items[2]) != string(smR) {
		t.Fatalf("batch %q: want the <r/> last", items)
	}
	q.pushStanza([]byte("<message/>"), false)
	if items, _, _, _ := q.take(); len(items) != 1 {
		t.Fatalf("an <r/> without a request: %q", items)
	}
	if items, _, _, _ := q.take(); len(items) != 0 {
		t.Fatalf("an <r/> in an empty batch: %q", items)
	}
}

// The counters wrap at 2^32 (XEP-0198 §4).
func TestSMCounterWrap(t *testing.T) {
	st := &xmlstream.Stanza{Raw: []byte("<message/>")}
	sm := smState{out: 1<<32 - 2, acked: 1<<32 - 2, requested: 1<<32 - 2}
	for range 4 {
		if !sm.keep(st, 10, 1000) {
			t.Fatal("keep refused")
		}
	}
	if sm.out != 2 || len(sm.unacked) != 4 {
		t.Fatalf("out %d unacked %d", sm.out, len(sm.unacked))
	}
	if sm.ack(3) {
		t.Fatal("h past the send count accepted")
	}
	if !sm.ack(0) || len(sm.unacked) != 2 || sm.bytes != 2*len(st.Raw) {
		t.Fatalf("ack across the wrap: %d left, %d bytes", len(sm.unacked), sm.bytes)
	}
	if !sm.ack(2) || len(sm.unacked) != 0 || sm.unacked != nil {
		t.Fatal("full ack left stanzas")
	}
	if !sm.ack(1) || sm.acked != 2 {
		t.Fatal("a stale h (behind the last one) must be ignored, not fail")
	}
	if sm.ack(3) {
		t.Fatal("h past the send count accepted")
	}
	// Bounds.
	sm = smState{}
	if !sm.keep(st, 1, 1000) || sm.keep(st, 1, 1000) {
		t.Fatal("count bound")
	}
	sm = smState{}
	if sm.keep(st, 10, len(st.Raw)-1) {
		t.Fatal("byte bound")
	}
}

func TestCSIClassify(t *testing.T) {
	cases := []struct {
		raw    string
		urgent bool
		key    string
	}{
		{"<presence from='a@b/c'/>", false, "p a@b/c"},
		{"<presence from='a@b/c' type='unavailable'/>", false, "p a@b/c"},
		{"<presence from='a@b' type='subscribe'/>", true, ""},
		{"<presence from='a@b' type='error'/>", true, ""},
		{"<iq type='result' id='1'/>", true, ""},
		{"<message from='a@b/c'><body>hi</body></message>", true, ""},
		{"<message from='a@b/c'><subject>s</subject></message>", true, ""},
		{"<message from='a@b/c' type='error'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", true, ""},
		{"<message from='a@b/c'><composing xmlns='http://jabber.org/protocol/chatstates'/><thread>t</thread></message>", false, "c a@b/c"},
		{"<message from='a@b/c'><received xmlns='urn:xmpp:receipts' id='x'/></message>", false, ""},
		{"<message from='a@b/c'><x xmlns='jabber:x:conference' jid='r@m'/></message>", true, ""},
		{"<message from='a@b'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><active xmlns='http://jabber.org/protocol/chatstates'/></message></forwarded></sent></message>", false, ""},
		{"<message from='a@b'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><body>x</body></message></forwarded></sent></message>", true, ""},
	}
	for _, c := range cases {
		st, err := xmlstream.ParseStanza([]byte(c.raw), xmlstream.NSClient, xmlstream.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		urgent, key := csiClassify(st)
		if urgent != c.urgent || key != c.key {
			t.Errorf("%s: urgent %v key %q, want %v %q", c.raw, urgent, key, c.urgent, c.key)
		}
	}
}

// The writer runs only while output is queued: once the queue is drained
// it ends, a push starts one again, and after stop none starts.
func TestWriterRunsOnlyWithOutput(t *testing.T) {
	q := newOutQueue(1 << 10)
	started := 0
	q.start = func() {
		started++
		go func() {
			defer q.writers.Done()
			for {
				if _, _, _, _, idle := q.takeOrIdle(true, false); idle {
					return
				}
			}
		}()
	}
	q.push([]byte("<a/>"), false)
	q.writers.Wait()
	q.push([]byte("<b/>"), false)
	q.writers.Wait()
	if started != 2 {
		t.Fatalf("%d writers started for two pushes on an idle queue, want 2", started)
	}
	q.stop()
	q.push([]byte("<c/>"), false)
	if started != 2 {
		t.Fatal("a writer started after stop")
	}
}
