package muc

import (
	"strings"
	"testing"
)

func TestServiceDisco(t *testing.T) {
	f := newFixture(t, nil)
	u := f.user(alice)
	f.send("<iq type='get' id='i' from='" + alice + "' to='" + testService + "'><query xmlns='" + NSDiscoInfo + "'/></iq>")
	wantStanzas(t, "alice", u.take(), "<iq from='"+testService+"' id='i' to='"+alice+"' type='result'><query xmlns='"+NSDiscoInfo+"'>"+
		"<identity category='conference' name='Chatrooms' type='text'/>"+
		"<feature var='"+NSDiscoInfo+"'/><feature var='"+NSDiscoItems+"'/><feature var='"+NSMUC+"'/>"+
		"<feature var='"+NSStableID+"'/><feature var='"+NSRSM+"'/><feature var='"+NSOccupantID+"'/><feature var='"+NSPing+"'/></query></iq>")

	// Rooms: three persistent public ones, a hidden one, a temporary public one, a locked one.
	mk := func(room string, fields ...string) {
		full := "owner@example.com/" + room
		f.user(full)
		f.send("<presence from='" + full + "' to='" + room + "@" + testService + "/o'><x xmlns='" + NSMUC + "'/></presence>")
		var b strings.Builder
		for i := 0; i+1 < len(fields); i += 2 {
			b.WriteString("<field var='" + fields[i] + "'><value>" + fields[i+1] + "</value></field>")
		}
		f.send("<iq type='set' id='c' from='" + full + "' to='" + room + "@" + testService + "'><query xmlns='" + NSMUCOwner + "'><x xmlns='jabber:x:data' type='submit'>" + b.String() + "</x></query></iq>")
	}
	mk("a", fieldPersistent, "1", fieldName, "Room A")
	mk("b", fieldPersistent, "1")
	mk("c", fieldPersistent, "1")
	mk("hidden", fieldPersistent, "1", fieldPublic, "0")
	mk("temp")
	f.user("x@example.com/y")
	f.send("<presence from='x@example.com/y' to='locked@" + testService + "/o'><x xmlns='" + NSMUC + "'/></presence>")

	f.send("<iq type='get' id='it' from='" + alice + "' to='" + testService + "'><query xmlns='" + NSDiscoItems + "'/></iq>")
	wantStanzas(t, "alice", u.take(), "<iq from='"+testService+"' id='it' to='"+alice+"' type='result'><query xmlns='"+NSDiscoItems+"'>"+
		"<item jid='a@"+testService+"' name='Room A'/><item jid='b@"+testService+"'/><item jid='c@"+testService+"'/><item jid='temp@"+testService+"'/></query></iq>")
	// RSM paging.
	f.send("<iq type='get' id='p1' from='" + alice + "' to='" + testService + "'><query xmlns='" + NSDiscoItems + "'><set xmlns='" + NSRSM + "'><max>2</max></set></query></iq>")
	wantStanzas(t, "alice", u.take(), "<iq from='"+testService+"' id='p1' to='"+alice+"' type='result'><query xmlns='"+NSDiscoItems+"'>"+
		"<item jid='a@"+testService+"' name='Room A'/><item jid='b@"+testService+"'/>"+
		"<set xmlns='"+NSRSM+"'><first index='0'>a@"+testService+"</first><last>b@"+testService+"</last><count>4</count></set></query></iq>")
	f.send("<iq type='get' id='p2' from='" + alice + "' to='" + testService + "'><query xmlns='" + NSDiscoItems + "'><set xmlns='" + NSRSM + "'><max>2</max><after>b@" + testService + "</after></set></query></iq>")
	wantStanzas(t, "alice", u.take(), "<iq from='"+testService+"' id='p2' to='"+alice+"' type='result'><query xmlns='"+NSDiscoItems+"'>"+
		"<item jid='c@"+testService+"'/><item jid='temp@"+testService+"'/>"+
		"<set xmlns='"+NSRSM+"'><first index='2'>c@"+testService+"</first><last>temp@"+testService+"</last><count>4</count></set></query></iq>")

	page := func(id, set string) string {
		return "<iq type='get' id='" + id + "' from='" + alice + "' to='" + testService + "'><query xmlns='" + NSDiscoItems + "'><set xmlns='" + NSRSM + "'>" + set + "</set></query></iq>"
	}
	item := func(room string) string { return "<item jid='" + room + "@" + testService + "'/>" }
	// Backwards: the last page (empty <before/>), then the one before it.
	f.send(page("p3", "<max>2</max><before/>"))
	wantStanzas(t, "alice", u.take(), "<iq from='"+testService+"' id='p3' to='"+alice+"' type='result'><query xmlns='"+NSDiscoItems+"'>"+
		item("c")+item("temp")+"<set xmlns='"+NSRSM+"'><first index='2'>c@"+testService+"</first><last>temp@"+testService+"</last><count>4</count></set></query></iq>")
	f.send(page("p4", "<max>2</max><before>c@"+testService+"</before>"))
	wantStanzas(t, "alice", u.take(), "<iq from='"+testService+"' id='p4' to='"+alice+"' type='result'><query xmlns='"+NSDiscoItems+"'>"+
		"<item jid='a@"+testService+"' name='Room A'/>"+item("b")+"<set xmlns='"+NSRSM+"'><first index='0'>a@"+testService+"</first><last>b@"+testService+"</last><count>4</count></set></query></iq>")
	// By index; and the count alone (<max>0</max>).
	f.send(page("p5", "<max>1</max><index>1</index>"))
	wantStanzas(t, "alice", u.take(), "<iq from='"+testService+"' id='p5' to='"+alice+"' type='result'><query xmlns='"+NSDiscoItems+"'>"+
		item("b")+"<set xmlns='"+NSRSM+"'><first index='1'>b@"+testService+"</first><last>b@"+testService+"</last><count>4</count></set></query></iq>")
	f.send(page("p6", "<max>0</max>"))
	wantStanzas(t, "alice", u.take(), "<iq from='"+testService+"' id='p6' to='"+alice+"' type='result'><query xmlns='"+NSDiscoItems+"'>"+
		"<set xmlns='"+NSRSM+"'><count>4</count></set></query></iq>")
	// An id that is not listed (XEP-0059 §2.5), and a bad number.
	f.send(page("p7", "<after>hidden@"+testService+"</after>"))
	if got := u.take(); len(got) != 1 || !strings.Contains(got[0], "item-not-found") {
		t.Fatalf("after an unlisted room: %v", got)
	}
	f.send(page("p8", "<max>-1</max>"))
	if got := u.take(); len(got) != 1 || !strings.Contains(got[0], "bad-request") {
		t.Fatalf("negative max: %v", got)
	}
}

func TestRoomDiscoInfo(t *testing.T) {
	f := twoInRoom(t, fieldName, "A Dark Cave", fieldModerated, "1")
	c := f.user(carol)
	f.send("<iq type='get' id='i' from='" + carol + "' to='" + testRoom + "'><query xmlns='" + NSDiscoInfo + "'/></iq>")
	got := c.take()
	if len(got) != 1 {
		t.Fatalf("room info: %q", got)
	}
	for _, want := range []string{"<identity category='conference' name='A Dark Cave' type='text'/>",
		"<feature var='muc_moderated'/>", "<feature var='muc_temporary'/>", "<feature var='muc_semianonymous'/>",
		"<feature var='muc_open'/>", "<feature var='muc_public'/>", "<feature var='muc_unsecured'/>",
		"<feature var='" + NSOccupantID + "'/>", "<feature var='" + NSStanzaID + "'/>",
		"<field var='muc#roominfo_occupants' label='Number of occupants'><value>2</value></field>"} {
		w := want
		if strings.HasPrefix(want, "<field") {
			w = "<field label='Number of occupants' var='muc#roominfo_occupants'><value>2</value></field>"
		}
		if !strings.Contains(got[0], w) {
			t.Errorf("room info lacks %s:\n%s", w, got[0])
		}
	}
	f.send("<iq type='get' id='n' from='" + carol + "' to='nope@" + testService + "'><query xmlns='" + NSDiscoInfo + "'/></iq>")
	if got := c.take(); len(got) != 1 || !strings.Contains(got[0], "<item-not-found") {
		t.Fatalf("info of a missing room: %q", got)
	}
}
