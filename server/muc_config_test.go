package server_test

import (
	"strings"
	"testing"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/xmlstream"
)

// The muc: section reaches the service: with create: admins an ordinary
// user cannot create a room, and new rooms start from default_room.
func TestMUCConfigSection(t *testing.T) {
	ts := testserver.Start(t, func(c *server.Config) {
		c.MUC.Create = "admins"
		c.MUC.DefaultRoom.Whois = "anyone"
	})
	ann, _ := loginTCP(t, ts, "ann", "desk")
	startSession(t, ann)
	room := "lot7@conference." + ts.Domain
	ann.SendRaw("<presence to='" + room + "/ann'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	st := ann.Expect(t, func(st *xmlstream.Stanza) bool {
		return st.Name.Local == xmlstream.KindPresence && strings.HasPrefix(st.From(), room)
	}, wait)
	if st.Type() != "error" || xmpptest.ErrorCondition(st) != "not-allowed" {
		t.Fatalf("room creation by a user under create: admins: %s", st.Raw)
	}

	// The admin may; the room starts non-anonymous (status 100) from default_room.
	pw := printedPasswords(ts.Stdout.String())
	admin := xmpptest.Dial(t, ts.C2SAddr)
	admin.Domain = ts.Domain
	admin.Login("SCRAM-SHA-256", "admin", pw["admin@"+ts.Domain], "console")
	startSession(t, admin)
	admin.SendRaw("<presence to='" + room + "/auctioneer'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	self := admin.Expect(t, func(st *xmlstream.Stanza) bool {
		return st.Name.Local == xmlstream.KindPresence && st.From() == room+"/auctioneer"
	}, wait)
	if st := string(self.Raw); !strings.Contains(st, "code='201'") || !strings.Contains(st, "code='100'") {
		t.Fatalf("admin's creation self-presence (want 201, and 100 for whois: anyone): %s", self.Raw)
	}
}
