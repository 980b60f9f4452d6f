package im

import (
	"context"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

const peterVCard = `<vCard xmlns='vcard-temp'><FN>Peter Saint-Andre</FN><N><FAMILY>Saint-Andre</FAMILY><GIVEN>Peter</GIVEN><MIDDLE/></N>` +
	`<NICKNAME>stpeter</NICKNAME><TEL><WORK/><VOICE/><NUMBER>303-308-3282</NUMBER></TEL><DESC>a &amp; b &lt;3</DESC></vCard>`

func TestVCardOwnSetAndGet(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")

	// §3.1: none stored yet → an empty <vCard/>.
	f.client(a, `<iq type='get' id='v1'><vCard xmlns='vcard-temp'/></iq>`)
	expectXML(t, "alice", a.take(), `<iq type='result' id='v1' from='alice@example.com' to='alice@example.com/a'><vCard xmlns='vcard-temp'/></iq>`)

	// §3.2: set, with no 'to' (c2s addresses it to the bare JID).
	f.client(a, `<iq type='set' id='v2'>`+peterVCard+`</iq>`)
	expectXML(t, "alice", a.take(), `<iq type='result' id='v2' from='alice@example.com' to='alice@example.com/a'/>`)
	f.client(a, `<iq type='get' id='v3' to='alice@example.com'><vCard xmlns='vcard-temp'/></iq>`)
	expectXML(t, "alice", a.take(), `<iq type='result' id='v3' from='alice@example.com' to='alice@example.com/a'>`+peterVCard+`</iq>`)

	// The whole vCard is replaced.
	f.client(a, `<iq type='set' id='v4'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>`)
	a.take()
	f.client(a, `<iq type='get' id='v5'><vCard xmlns='vcard-temp'/></iq>`)
	expectXML(t, "alice", a.take(), `<iq type='result' id='v5' from='alice@example.com' to='alice@example.com/a'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>`)

	// An empty vCard deletes it.
	f.client(a, `<iq type='set' id='v6'><vCard xmlns='vcard-temp'/></iq>`)
	expectXML(t, "alice", a.take(), `<iq type='result' id='v6' from='alice@example.com' to='alice@example.com/a'/>`)
	if _, _, err := f.store.Get(context.Background(), data.VCardKey("alice@example.com")); err != data.ErrNotFound {
		t.Fatalf("empty vCard not deleted: %v", err)
	}
}

func TestVCardOfAnotherUser(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	a := f.login("alice@example.com/a")
	b := f.login("bob@example.com/b")
	f.client(a, `<iq type='set' id='v1'>`+peterVCard+`</iq>`)
	a.take()

	// §3.3: anyone may read it, answered by the server from the bare JID,
	// not forwarded to alice's resource.
	f.client(b, `<iq type='get' id='v2' to='alice@example.com'><vCard xmlns='vcard-temp'/></iq>`)
	expectXML(t, "bob", b.take(), `<iq type='result' id='v2' from='alice@example.com' to='bob@example.com/b'>`+peterVCard+`</iq>`)
	f.route(`<iq type='get' id='v3' from='romeo@remote.test/orchard' to='alice@example.com'><vCard xmlns='vcard-temp'/></iq>`)
	expectXML(t, "remote", f.takeRemote(), `<iq type='result' id='v3' from='alice@example.com' to='romeo@remote.test/orchard'>`+peterVCard+`</iq>`)
	expectNothing(t, a)

	// No vCard and no such account: the same service-unavailable (§3.3).
	f.client(b, `<iq type='get' id='v4' to='bob@example.com'><vCard xmlns='vcard-temp'/></iq>`)
	b.take() // bob's own: empty vCard
	f.client(a, `<iq type='get' id='v5' to='bob@example.com'><vCard xmlns='vcard-temp'/></iq>`)
	expectError(t, a, "iq", "v5", "bob@example.com", "cancel", "service-unavailable")
	f.client(a, `<iq type='get' id='v6' to='nobody@example.com'><vCard xmlns='vcard-temp'/></iq>`)
	expectError(t, a, "iq", "v6", "nobody@example.com", "cancel", "service-unavailable")

	// §3.2: only the owner sets it.
	f.client(b, `<iq type='set' id='v7' to='alice@example.com'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>`)
	expectError(t, b, "iq", "v7", "alice@example.com", "auth", "forbidden")
	f.route(`<iq type='set' id='v8' from='romeo@remote.test/orchard' to='alice@example.com'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>`)
	got := f.takeRemote()
	if len(got) != 1 {
		t.Fatalf("remote got %d stanzas", len(got))
	}
	if typ, cond := errorOf(t, got[0]); typ != "auth" || cond != "forbidden" {
		t.Fatalf("remote set: %s/%s", typ, cond)
	}
	f.client(a, `<iq type='get' id='v9'><vCard xmlns='vcard-temp'/></iq>`)
	expectXML(t, "alice", a.take(), `<iq type='result' id='v9' from='alice@example.com' to='alice@example.com/a'>`+peterVCard+`</iq>`)
}

func TestVCardLimitsAndAccountLifecycle(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")

	big := `<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>` + strings.Repeat("A", MaxVCardBytes) + `</BINVAL></PHOTO></vCard>`
	f.client(a, `<iq type='set' id='big'>`+big+`</iq>`)
	expectError(t, a, "iq", "big", "alice@example.com", "modify", "not-acceptable")
	if _, _, err := f.store.Get(context.Background(), data.VCardKey("alice@example.com")); err != data.ErrNotFound {
		t.Fatalf("oversized vCard stored: %v", err)
	}
	fits := `<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>` + strings.Repeat("A", MaxVCardBytes-200) + `</BINVAL></PHOTO></vCard>`
	f.client(a, `<iq type='set' id='fits'>`+fits+`</iq>`)
	expectXML(t, "alice", a.take(), `<iq type='result' id='fits' from='alice@example.com' to='alice@example.com/a'/>`)

	// Anonymous accounts keep none.
	anon := f.login("x@" + testAnon + "/r")
	f.client(anon, `<iq type='set' id='an'><vCard xmlns='vcard-temp'><FN>x</FN></vCard></iq>`)
	expectError(t, anon, "iq", "an", "x@anon.example.com", "cancel", "not-allowed")

	// Deleting the account deletes the vCard.
	if err := f.acc.Delete(context.Background(), jid.MustParse("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.Get(context.Background(), data.VCardKey("alice@example.com")); err != data.ErrNotFound {
		t.Fatalf("vCard kept after account deletion: %v", err)
	}
}

func TestVCardAdvertised(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<iq type='get' id='d1' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if got := a.take(); len(got) != 1 || !discoHasFeature(t, got[0], NSVCard) {
		t.Fatalf("server disco#info lacks vcard-temp: %v", got)
	}
	f.client(a, `<iq type='get' id='d2' to='alice@example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if got := a.take(); len(got) != 1 || !discoHasFeature(t, got[0], NSVCard) {
		t.Fatalf("account disco#info lacks vcard-temp: %v", got)
	}
}
