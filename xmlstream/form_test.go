package xmlstream

import (
	"strings"
	"testing"
)

func TestFormRoundTrip(t *testing.T) {
	x := NewForm("form", "urn:example:form", "Title", "Fill it", FormField{Var: "a", Type: "boolean", Label: "A?", Values: []string{"1"}},
		FormField{Var: "b", Type: "list-single", Required: true, Options: []FormOption{{Value: "one"}, {Label: "Two", Value: "two"}}})
	s := x.String()
	for _, want := range []string{"<title>Title</title>", "<instructions>Fill it</instructions>", "var='FORM_TYPE'",
		"<required/>", "<option label='one'><value>one</value></option>"} {
		if !strings.Contains(s, want) {
			t.Fatalf("form lacks %s: %s", want, s)
		}
	}
	sub, err := ParseElement([]byte(`<x xmlns='jabber:x:data' type='submit'>`+
		`<field var='FORM_TYPE'><value>urn:example:form</value></field>`+
		`<field var='b'><value>two</value></field><field var='a'><value>0</value></field>`+
		`<field var='empty'/><field><value>no var</value></field><field var='b'><value>three</value></field></x>`), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := ParseSubmittedForm(sub)
	if !ok || f.Type != "submit" || f.FormType != "urn:example:form" {
		t.Fatalf("parsed %+v %v", f, ok)
	}
	if strings.Join(f.Vars, ",") != "b,a,empty" || strings.Join(f.Values["b"], ",") != "two,three" || f.Value("a") != "0" {
		t.Fatalf("vars %v values %v", f.Vars, f.Values)
	}
	if !f.Has("empty") || f.Has("missing") || f.Value("empty") != "" {
		t.Fatalf("empty field: %v", f.Values)
	}
	if _, ok := ParseSubmittedForm(sub, "result"); ok {
		t.Fatal("a submit form accepted where only result is")
	}
	if _, ok := ParseSubmittedForm(NewElement(NSDataForms, "x", "type", "form")); ok {
		t.Fatal("a form of type form accepted as a submission")
	}
	big := NewElement(NSDataForms, "x", "type", "submit")
	for range MaxFormFields + 1 {
		big.Append(NewElement(NSDataForms, "field", "var", "v"))
	}
	if _, ok := ParseSubmittedForm(big); ok {
		t.Fatal("a form beyond MaxFormFields accepted")
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"1": true, "true": true, "0": false, "false": false} {
		if v, ok := ParseBool(in); !ok || v != want {
			t.Fatalf("ParseBool(%q) = %v, %v", in, v, ok)
		}
	}
	if _, ok := ParseBool("yes"); ok {
		t.Fatal("yes is not an XEP-0004 boolean")
	}
}
