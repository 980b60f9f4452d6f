package im

// XEP-0059 Result Set Management: the request (<set/> with max, after,
// before, index) and the answer (first with index, last, count).

import (
	"strconv"
	"strings"

	"github.com/gavelhq/gavel/xmlstream"
)

const nsRSM = "http://jabber.org/protocol/rsm"

// rsmRequest is a parsed request <set/>.
type rsmRequest struct {
	max       int // -1: not given
	after     string
	hasAfter  bool
	before    string
	hasBefore bool // with before == "": the last page (§2.5)
	index     int  // -1: not given
}

// parseRSM reads set (nil: no RSM in the request). Bad numbers and an
// empty <after/> are bad-request.
func parseRSM(set *xmlstream.Element) (rsmRequest, error) {
	r := rsmRequest{max: -1, index: -1}
	if set == nil {
		return r, nil
	}
	num := func(name string) (int, error) {
		el := set.Child(nsRSM, name)
		if el == nil {
			return -1, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(el.Text()))
		if err != nil || n < 0 {
			return 0, xmlstream.BadRequest("RSM <" + name + "/> must be a non-negative integer")
		}
		return n, nil
	}
	var err error
	if r.max, err = num("max"); err != nil {
		return r, err
	}
	if r.index, err = num("index"); err != nil {
		return r, err
	}
	if a := set.Child(nsRSM, "after"); a != nil {
		r.after, r.hasAfter = strings.TrimSpace(a.Text()), true
		if r.after == "" {
			return r, xmlstream.BadRequest("empty RSM <after/>")
		}
	}
	if b := set.Child(nsRSM, "before"); b != nil {
		r.before, r.hasBefore = strings.TrimSpace(b.Text()), true
	}
	return r, nil
}

// rsmResult builds the answer <set/>: first and last only when the page is
// not empty (§2.2), firstIndex and count only when known (>= 0).
func rsmResult(first, last string, firstIndex, count int) *xmlstream.Element {
	set := xmlstream.NewElement(nsRSM, "set")
	if first != "" {
		f := xmlstream.NewElement(nsRSM, "first").AppendText(first)
		if firstIndex >= 0 {
			f.SetAttr("index", strconv.Itoa(firstIndex))
		}
		set.Append(f, xmlstream.NewElement(nsRSM, "last").AppendText(last))
	}
	if count >= 0 {
		set.Append(xmlstream.NewElement(nsRSM, "count").AppendText(strconv.Itoa(count)))
	}
	return set
}
