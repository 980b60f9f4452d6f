package mam

import (
	"errors"
	"testing"

	"github.com/gavelhq/gavel/xmlstream"
)

// parse parses one element in the default namespace ns.
func parse(t *testing.T, ns, raw string) *xmlstream.Element {
	t.Helper()
	el, err := xmlstream.ParseElement([]byte(raw), ns, xmlstream.Limits{})
	if err != nil {
		t.Fatalf("parsing %s: %v", raw, err)
	}
	return el
}

// wantCondition fails unless err is a stanza error of that type and
// condition.
func wantCondition(t *testing.T, what string, err error, typ, condition string) {
	t.Helper()
	var se *xmlstream.StanzaError
	if !errors.As(err, &se) || se.Type != typ || se.Condition != condition {
		t.Errorf("%s: got %v, want %s/%s", what, err, typ, condition)
	}
}
