package im

import (
	"strings"
	"testing"

	"github.com/gavelhq/gavel/xmlstream"
)

// remoteTo returns the stanzas in got addressed to jid (bare or full).
func remoteTo(got []*xmlstream.Stanza, jid string) []string {
	var out []string
	for _, st := range got {
		if st.To() == jid || strings.HasPrefix(st.To(), jid+"/") {
			out = append(out, string(st.Raw))
		}
	}
	return out
}

// A contact on another server that alice blocked gets neither her presence
// broadcasts nor her probes, and its probes go unanswered (XEP-0191 §3.3):
// the inbound filter cannot help here, the stanzas leave the server.
func TestBlockedRemoteContactGetsNoPresence(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
	// romeo subscribes to alice and she approves (subscription from);
	// she subscribes to him and he approves (both).
	f.route("<presence from='romeo@remote.test' to='alice@example.com' type='subscribe'/>")
	f.client(a, "<presence to='romeo@remote.test' type='subscribed'/>")
	f.client(a, "<presence to='romeo@remote.test' type='subscribe'/>")
	f.route("<presence from='romeo@remote.test' to='alice@example.com' type='subscribed'/>")
	f.blockJIDs(a, "romeo@remote.test")
	f.takeRemote()
	a.take()

	f.client(a, "<presence><status>bidding</status></presence>")
	if got := remoteTo(f.takeRemote(), "romeo@remote.test"); len(got) != 0 {
		t.Fatalf("blocked contact got presence or probes: %v", got)
	}
	f.route("<presence from='romeo@remote.test/orchard' to='alice@example.com' type='probe'/>")
	if got := remoteTo(f.takeRemote(), "romeo@remote.test"); len(got) != 0 {
		t.Fatalf("probe from a blocked contact answered: %v", got)
	}
	// Unblocked, the next broadcast reaches him again.
	f.client(a, "<iq type='set' id='u1'><unblock xmlns='urn:xmpp:blocking'><item jid='romeo@remote.test'/></unblock></iq>")
	f.takeRemote()
	f.client(a, "<presence><status>back</status></presence>")
	if got := remoteTo(f.takeRemote(), "romeo@remote.test"); len(got) != 1 || !strings.Contains(got[0], "back") {
		t.Fatalf("after unblock: %v", got)
	}
}

// A message stored while the sender was not blocked is not delivered once
// the user has blocked the sender.
func TestOfflineMessageFromSenderBlockedLater(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.route("<message from='romeo@remote.test/orchard' to='alice@example.com' type='chat' id='m1'><body>early</body></message>")
	f.route("<message from='juliet@remote.test/balcony' to='alice@example.com' type='chat' id='m2'><body>kept</body></message>")
	a := f.login("alice@example.com/a")
	f.blockJIDs(a, "romeo@remote.test")
	a.take()
	f.client(a, "<presence/>")
	var ids []string
	for _, st := range a.take() {
		if st.Name.Local == xmlstream.KindMessage {
			ids = append(ids, st.ID())
		}
	}
	if strings.Join(ids, ",") != "m2" {
		t.Fatalf("offline messages delivered: %v, want only m2", ids)
	}
}
