package mam

// The XEP-0313 query: form discovery (§4.1.6) and the urn:xmpp:mam:2 form
// of a query (with, start, end, before-id, after-id, ids) with its RSM
// <set/> and <flip-page/>.

import (
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of XEP-0313 and of what it builds on.
const (
	NS              = "urn:xmpp:mam:2"
	NSExtended      = "urn:xmpp:mam:2#extended"
	NSDataForms     = "jabber:x:data"
	NSXDataValidate = "http://jabber.org/protocol/xdata-validate"
)

// Page limits shared by every archive: a page holds at most MaxPage
// results (a larger <max/> is clamped, as §5.1 permits: the page then
// reports complete='false'), DefaultPage without <max/>, and about
// PageBytes of stanzas, so that a page never overflows a client's write
// queue. A query names at most MaxIDs ids.
const (
	DefaultPage = 50
	MaxPage     = 250
	PageBytes   = 256 << 10
	MaxIDs      = MaxPage
)

// Query is a parsed query on an archive of records R.
type Query[R any] struct {
	QueryID           string
	Start, End        *time.Time
	AfterID, BeforeID string
	IDs               []string
	RSM               RSMRequest
	Flip              bool
	// Match is the 'with' filter; nil: every entry matches.
	Match func(*R) bool
}

// WithFilter turns a 'with' JID into the archive's filter: nil when the
// JID filters nothing, an error (e.g. forbidden) when the requester may not
// filter by it.
type WithFilter[R any] func(with jid.JID) (func(*R) bool, error)

// QueryForm lists the supported fields (§4.1.6).
func QueryForm() *xmlstream.Element {
	x := xmlstream.NewElement(NSDataForms, "x", "type", "form")
	x.Append(xmlstream.NewElement(NSDataForms, "field", "type", "hidden", "var", "FORM_TYPE").Append(
		xmlstream.NewElement(NSDataForms, "value").AppendText(NS)))
	for _, f := range [][2]string{{"jid-single", "with"}, {"text-single", "start"}, {"text-single", "end"},
		{"text-single", "before-id"}, {"text-single", "after-id"}} {
		x.Append(xmlstream.NewElement(NSDataForms, "field", "type", f[0], "var", f[1]))
	}
	x.Append(xmlstream.NewElement(NSDataForms, "field", "type", "list-multi", "var", "ids").Append(
		xmlstream.NewElement(NSXDataValidate, "validate", "datatype", "xs:string").
			Append(xmlstream.NewElement(NSXDataValidate, "open"))))
	return xmlstream.NewElement(NS, "query").Append(x)
}

// ParseQuery validates the <query/> q: bad values are bad-request, unknown
// fields feature-not-implemented (§4.1.6), too many ids policy-violation;
// with turns a 'with' value into the filter, in form order, so its error
// stands where the field does.
func ParseQuery[R any](q *xmlstream.Element, with WithFilter[R]) (*Query[R], error) {
	mq := &Query[R]{QueryID: q.Attr("queryid"), Flip: q.Child(NS, "flip-page") != nil}
	var err error
	if mq.RSM, err = ParseRSM(q.Child(NSRSM, "set")); err != nil {
		return nil, err
	}
	if x := q.Child(NSDataForms, "x"); x != nil {
		if err := parseForm(x, mq, with); err != nil {
			return nil, err
		}
	}
	if mq.RSM.Index >= 0 && mq.Match != nil {
		return nil, xmlstream.FeatureNotImplemented("RSM <index/> is not supported with a 'with' filter")
	}
	return mq, nil
}

func parseForm[R any](x *xmlstream.Element, mq *Query[R], with WithFilter[R]) error {
	if t := x.Attr("type"); t != "" && t != "submit" {
		return xmlstream.BadRequest("the query form must be of type submit")
	}
	seen := map[string]bool{}
	for _, f := range x.ChildrenNamed(NSDataForms, "field") {
		name := f.Attr("var")
		if seen[name] {
			return xmlstream.BadRequest("field " + name + " given twice")
		}
		seen[name] = true
		var values []string
		for _, v := range f.ChildrenNamed(NSDataForms, "value") {
			if t := strings.TrimSpace(v.Text()); t != "" {
				values = append(values, t)
			}
		}
		if name != "ids" && len(values) > 1 {
			return xmlstream.BadRequest("field " + name + " takes one value")
		}
		value := ""
		if len(values) == 1 {
			value = values[0]
		}
		switch name {
		case "FORM_TYPE":
			if value != NS {
				return xmlstream.BadRequest("FORM_TYPE must be " + NS)
			}
		case "with":
			if value == "" {
				continue
			}
			j, err := jid.Parse(value)
			if err != nil {
				return xmlstream.BadRequest("'with' is not a valid JID")
			}
			if mq.Match, err = with(j); err != nil {
				return err
			}
		case "start", "end":
			if value == "" {
				continue
			}
			// An XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD.
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return xmlstream.BadRequest("'" + name + "' is not an XEP-0082 DateTime")
			}
			if name == "start" {
				mq.Start = &t
			} else {
				mq.End = &t
			}
		case "after-id":
			mq.AfterID = value
		case "before-id":
			mq.BeforeID = value
		case "ids":
			if len(values) > MaxIDs {
				return &xmlstream.StanzaError{Type: xmlstream.ErrModify, Condition: "policy-violation", Text: "too many ids in one query"}
			}
			mq.IDs = values
		default:
			return xmlstream.FeatureNotImplemented("unsupported field " + name)
		}
	}
	return nil
}
