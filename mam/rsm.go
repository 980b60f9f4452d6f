package mam

// XEP-0059 Result Set Management: the request <set/> (max, after, before,
// index) and the answer <set/> (first with index, last, count). This file
// knows nothing of XEP-0313: any paged query (disco items, pubsub items)
// can use it.

import (
	"strconv"
	"strings"

	"github.com/gavelhq/gavel/xmlstream"
)

// NSRSM is the XEP-0059 namespace.
const NSRSM = "http://jabber.org/protocol/rsm"

// RSMRequest is a parsed request <set/>.
type RSMRequest struct {
	Max       int // -1: not given
	After     string
	HasAfter  bool
	Before    string
	HasBefore bool // with Before == "": the last page (§2.5)
	Index     int  // -1: not given
}

// ParseRSM reads set (nil: no RSM in the request). Bad numbers and an
// empty <after/> are bad-request.
func ParseRSM(set *xmlstream.Element) (RSMRequest, error) {
	r := RSMRequest{Max: -1, Index: -1}
	if set == nil {
		return r, nil
	}
	num := func(name string) (int, error) {
		el := set.Child(NSRSM, name)
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
	if r.Max, err = num("max"); err != nil {
		return r, err
	}
	if r.Index, err = num("index"); err != nil {
		return r, err
	}
	if a := set.Child(NSRSM, "after"); a != nil {
		r.After, r.HasAfter = strings.TrimSpace(a.Text()), true
		if r.After == "" {
			return r, xmlstream.BadRequest("empty RSM <after/>")
		}
	}
	if b := set.Child(NSRSM, "before"); b != nil {
		r.Before, r.HasBefore = strings.TrimSpace(b.Text()), true
	}
	return r, nil
}

// RSMResult builds the answer <set/>: first and last only when the page is
// not empty (§2.2), firstIndex and count only when known (>= 0).
func RSMResult(first, last string, firstIndex, count int) *xmlstream.Element {
	set := xmlstream.NewElement(NSRSM, "set")
	if first != "" {
		f := xmlstream.NewElement(NSRSM, "first").AppendText(first)
		if firstIndex >= 0 {
			f.SetAttr("index", strconv.Itoa(firstIndex))
		}
		set.Append(f, xmlstream.NewElement(NSRSM, "last").AppendText(last))
	}
	if count >= 0 {
		set.Append(xmlstream.NewElement(NSRSM, "count").AppendText(strconv.Itoa(count)))
	}
	return set
}
