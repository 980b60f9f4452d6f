package bench

import (
	"testing"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

func TestAppendPublish(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	b := appendPublish(nil, "pubsub.example.org", "bench-s7-1-0", "p0-7", "", 7, now, 120)
	st, err := xmlstream.ParseStanza(b, "jabber:client", xmlstream.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	el, _ := st.Element()
	pub := el.Child(nsPubSub, "pubsub").Child(nsPubSub, "publish")
	if st.ID() != "p0-7" || st.Type() != "set" || pub.Attr("node") != "bench-s7-1-0" {
		t.Errorf("publish iq %s", b)
	}
	entry := pub.Child(nsPubSub, "item").Child("urn:gavel:bench", "entry")
	if entry == nil || len(entry.Text()) != 120 {
		t.Fatalf("payload of %s", b)
	}
	if ts, ok := payloadTime(b); !ok || ts != now.UnixNano() {
		t.Errorf("payload time %d %v", ts, ok)
	}
	// The notification a subscriber gets carries the same payload.
	ev := []byte("<message from='pubsub.example.org'><event xmlns='" + nsPubSubEvent + "'><items node='n'><item id='x'>" +
		entry.String() + "</item></items></event></message>")
	if ts, ok := payloadTime(ev); !ok || ts != now.UnixNano() {
		t.Errorf("event payload time %d %v", ts, ok)
	}
}

func TestS7Publishers(t *testing.T) {
	for _, c := range []struct{ senders, nodes, want int }{{4, 1, 1}, {4, 5000, 4}, {0, 10, 1}, {8, 3, 3}} {
		if got := s7Publishers(&Config{Senders: c.senders, Nodes: c.nodes}); got != c.want {
			t.Errorf("senders %d nodes %d: %d publishers, want %d", c.senders, c.nodes, got, c.want)
		}
	}
}
