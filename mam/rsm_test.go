package mam

import (
	"testing"

	"github.com/gavelhq/gavel/xmlstream"
)

func TestParseRSM(t *testing.T) {
	none, err := ParseRSM(nil)
	if err != nil || none != (RSMRequest{Max: -1, Index: -1}) {
		t.Fatalf("no <set/>: %+v %v", none, err)
	}
	for _, c := range []struct {
		in   string
		want RSMRequest
	}{
		{"<set xmlns='" + NSRSM + "'/>", RSMRequest{Max: -1, Index: -1}},
		{"<set xmlns='" + NSRSM + "'><max> 10 </max><after>a</after></set>", RSMRequest{Max: 10, After: "a", HasAfter: true, Index: -1}},
		{"<set xmlns='" + NSRSM + "'><max>0</max><before/></set>", RSMRequest{Max: 0, HasBefore: true, Index: -1}},
		{"<set xmlns='" + NSRSM + "'><before>b</before><index>3</index></set>", RSMRequest{Max: -1, Before: "b", HasBefore: true, Index: 3}},
		// Children of another namespace are not RSM.
		{"<set xmlns='" + NSRSM + "'><max xmlns='urn:other'>x</max></set>", RSMRequest{Max: -1, Index: -1}},
	} {
		got, err := ParseRSM(parse(t, "", c.in))
		if err != nil || got != c.want {
			t.Errorf("%s: %+v %v, want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"<max>-1</max>", "<max>ten</max>", "<max/>", "<index>-2</index>", "<index>1.5</index>",
		"<max>99999999999999999999999</max>", "<after/>", "<after>  </after>",
	} {
		_, err := ParseRSM(parse(t, "", "<set xmlns='"+NSRSM+"'>"+bad+"</set>"))
		wantCondition(t, bad, err, xmlstream.ErrModify, "bad-request")
	}
}

func TestRSMResult(t *testing.T) {
	for _, c := range []struct {
		first, last       string
		firstIndex, count int
		want              string
	}{
		{"", "", -1, -1, "<set xmlns='" + NSRSM + "'/>"},
		{"", "", -1, 7, "<set xmlns='" + NSRSM + "'><count>7</count></set>"},
		{"a", "b", -1, -1, "<set xmlns='" + NSRSM + "'><first>a</first><last>b</last></set>"},
		{"a", "b", 0, 2, "<set xmlns='" + NSRSM + "'><first index='0'>a</first><last>b</last><count>2</count></set>"},
		// An empty page has no first, whatever index was given.
		{"", "", 5, 5, "<set xmlns='" + NSRSM + "'><count>5</count></set>"},
	} {
		if got := RSMResult(c.first, c.last, c.firstIndex, c.count).String(); got != c.want {
			t.Errorf("RSMResult(%q, %q, %d, %d) = %s, want %s", c.first, c.last, c.firstIndex, c.count, got, c.want)
		}
	}
}
