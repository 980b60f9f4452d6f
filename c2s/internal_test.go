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
