package pubsub_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gavelhq/gavel/xmlstream"
)

// Publishes are answered once durable, from the node's goroutine, while
// the publisher's stream goes on: requests sent back to back without
// waiting still take effect in order — on one node (a retrieval sent right
// after them sees every item) and across nodes (every publish answered).
func TestIntegrationPipelinedPublishes(t *testing.T) {
	e := startEnv(t, nil)
	pub := e.user("feeder")
	const nodes, perNode = 8, 12
	for n := 0; n < nodes; n++ {
		pub.ok("set", fmt.Sprintf("<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='feed%d'/>"+
			"<configure><x xmlns='jabber:x:data' type='submit'>"+
			"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>"+
			"<field var='pubsub#max_items'><value>100</value></field></x></configure></pubsub>", n))
	}
	var raw strings.Builder
	for i := 0; i < perNode; i++ {
		for n := 0; n < nodes; n++ {
			fmt.Fprintf(&raw, "<iq type='set' id='p%d-%d' to='%s'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"+
				"<publish node='feed%d'><item id='i%d'><entry xmlns='http://www.w3.org/2005/Atom'><title>%d</title></entry></item></publish>"+
				"</pubsub></iq>", n, i, e.svc, n, i, i)
		}
	}
	// The retrieval goes in the same write, right behind the publishes.
	fmt.Fprintf(&raw, "<iq type='get' id='items0' to='%s'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed0'/></pubsub></iq>", e.svc)
	pub.send(raw.String())

	items := pub.expect("the retrieval", func(st *xmlstream.Stanza) bool { return st.ID() == "items0" })
	if items.Type() != "result" {
		t.Fatalf("retrieval failed: %s", items.Raw)
	}
	for i := 0; i < perNode; i++ {
		if !strings.Contains(string(items.Raw), fmt.Sprintf("id='i%d'", i)) && !strings.Contains(string(items.Raw), fmt.Sprintf(`id="i%d"`, i)) {
			t.Fatalf("the retrieval sent after publish i%d does not show it: %s", i, items.Raw)
		}
	}
	for i := 0; i < perNode; i++ {
		for n := 0; n < nodes; n++ {
			id := fmt.Sprintf("p%d-%d", n, i)
			st := pub.expect("publish "+id, func(st *xmlstream.Stanza) bool { return st.ID() == id })
			if st.Type() != "result" || !strings.Contains(string(st.Raw), fmt.Sprintf("i%d", i)) {
				t.Fatalf("publish %s: %s", id, st.Raw)
			}
		}
	}
}
