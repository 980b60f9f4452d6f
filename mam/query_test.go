package mam

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// form is a submitted query form with the given fields (var, value...).
func form(fields ...string) string {
	var b strings.Builder
	b.WriteString("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" + NS + "</value></field>")
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString("<field var='" + fields[i] + "'><value>" + fields[i+1] + "</value></field>")
	}
	b.WriteString("</x>")
	return b.String()
}

func query(t *testing.T, inner string) *xmlstream.Element {
	return parse(t, NS, "<query queryid='q1'>"+inner+"</query>")
}

// anyWith filters by the 'with' JID's string.
func anyWith(with jid.JID) (func(*testRecord) bool, error) {
	w := with.String()
	return func(r *testRecord) bool { return r.with == w }, nil
}

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery(query(t, "<flip-page/><set xmlns='"+NSRSM+"'><max>5</max><before/></set>"+
		form("start", "2020-01-02T03:04:05Z", "end", "2020-01-02T03:04:06.5+01:00", "after-id", "a", "before-id", "b", "with", "juliet@example.com")), anyWith)
	if err != nil {
		t.Fatal(err)
	}
	if q.QueryID != "q1" || !q.Flip || q.RSM.Max != 5 || !q.RSM.HasBefore || q.AfterID != "a" || q.BeforeID != "b" || q.IDs != nil {
		t.Errorf("parsed %+v", q)
	}
	if !q.Start.Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) || !q.End.Equal(time.Date(2020, 1, 2, 2, 4, 6, 5e8, time.UTC)) {
		t.Errorf("start %v end %v", q.Start, q.End)
	}
	if q.Match == nil || !q.Match(&testRecord{with: "juliet@example.com"}) || q.Match(&testRecord{with: "romeo@example.com"}) {
		t.Error("'with' filter not installed")
	}

	// No form, no RSM: everything unset. Empty values are not filters.
	q, err = ParseQuery(query(t, form("with", "", "start", "")), anyWith)
	if err != nil || q.Start != nil || q.Match != nil || q.RSM.Max != -1 || q.RSM.Index != -1 || q.Flip {
		t.Errorf("empty query: %+v %v", q, err)
	}
	ids := "<x xmlns='jabber:x:data' type='submit'><field var='ids'><value>i1</value><value> </value><value>i2</value></field></x>"
	if q, err := ParseQuery(query(t, ids), anyWith); err != nil || strings.Join(q.IDs, ",") != "i1,i2" {
		t.Errorf("ids: %+v %v", q, err)
	}

	// A filter that filters nothing leaves <index/> usable.
	noFilter := func(jid.JID) (func(*testRecord) bool, error) { return nil, nil }
	if q, err := ParseQuery(query(t, "<set xmlns='"+NSRSM+"'><index>2</index></set>"+form("with", "room@muc.example.com")), noFilter); err != nil || q.Match != nil || q.RSM.Index != 2 {
		t.Errorf("index with a non-filtering 'with': %+v %v", q, err)
	}
}

func TestParseQueryErrors(t *testing.T) {
	many := "<x xmlns='jabber:x:data' type='submit'><field var='ids'>" + strings.Repeat("<value>i</value>", MaxIDs+1) + "</field></x>"
	for _, c := range []struct {
		what, inner, typ, condition string
	}{
		{"bad RSM", "<set xmlns='" + NSRSM + "'><max>x</max></set>", xmlstream.ErrModify, "bad-request"},
		{"form type", "<x xmlns='jabber:x:data' type='form'/>", xmlstream.ErrModify, "bad-request"},
		{"FORM_TYPE", "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>", xmlstream.ErrModify, "bad-request"},
		{"field twice", form("start", "2020-01-02T03:04:05Z", "start", "2020-01-02T03:04:05Z"), xmlstream.ErrModify, "bad-request"},
		{"two values", "<x xmlns='jabber:x:data'><field var='after-id'><value>a</value><value>b</value></field></x>", xmlstream.ErrModify, "bad-request"},
		{"bad with", form("with", "@@"), xmlstream.ErrModify, "bad-request"},
		{"bad start", form("start", "yesterday"), xmlstream.ErrModify, "bad-request"},
		{"bad end", form("end", "2020-01-02"), xmlstream.ErrModify, "bad-request"},
		{"unknown field", form("fulltext", "x"), xmlstream.ErrCancel, "feature-not-implemented"},
		{"too many ids", many, xmlstream.ErrModify, "policy-violation"},
		{"index with filter", "<set xmlns='" + NSRSM + "'><index>0</index></set>" + form("with", "a@b"), xmlstream.ErrCancel, "feature-not-implemented"},
	} {
		_, err := ParseQuery(query(t, c.inner), anyWith)
		wantCondition(t, c.what, err, c.typ, c.condition)
	}

	// The 'with' hook's error is returned as is, where the field stands
	// in the form: before the errors of later fields, after earlier ones.
	denied := xmlstream.Forbidden("no")
	deny := func(jid.JID) (func(*testRecord) bool, error) { return nil, denied }
	if _, err := ParseQuery(query(t, form("with", "a@b", "start", "bad")), deny); !errors.Is(err, denied) {
		t.Errorf("with then bad start: %v", err)
	}
	_, err := ParseQuery(query(t, form("start", "bad", "with", "a@b")), deny)
	wantCondition(t, "bad start then with", err, xmlstream.ErrModify, "bad-request")
}

func TestQueryForm(t *testing.T) {
	want := "<query xmlns='" + NS + "'><x xmlns='jabber:x:data' type='form'>" +
		"<field type='hidden' var='FORM_TYPE'><value>" + NS + "</value></field>" +
		"<field type='jid-single' var='with'/><field type='text-single' var='start'/><field type='text-single' var='end'/>" +
		"<field type='text-single' var='before-id'/><field type='text-single' var='after-id'/>" +
		"<field type='list-multi' var='ids'><validate xmlns='" + NSXDataValidate + "' datatype='xs:string'><open/></validate></field>" +
		"</x></query>"
	if got := QueryForm().String(); got != want {
		t.Errorf("form:\n got %s\nwant %s", got, want)
	}
}
