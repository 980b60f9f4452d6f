package im

// XEP-0004 data forms as used by registration (XEP-0077), ad-hoc commands
// (XEP-0050) and service administration (XEP-0133): building a form and
// reading a submitted one. They work on xmlstream.Element directly rather
// than through mellium.im/xmpp/form, whose types marshal through
// encoding/xml token streams: the iq payloads here are already parsed trees,
// the forms are a handful of fields, and a round trip through another XML
// representation would cost more code than these two helpers.

import (
	"github.com/gavelhq/gavel/xmlstream"
)

const nsDataForms = "jabber:x:data"

// Limits on what a submitted form may carry, beyond the stream's own
// stanza size limit: enough for any form defined here.
const (
	maxFormFields      = 64
	maxFormFieldValues = 1024
)

// formField describes one <field/> of a form the server presents.
type formField struct {
	Var, Type, Label string
	Required         bool
	Values           []string
	Options          []formOption // of list-single / list-multi fields
}

// formOption is an <option/> of a list field; an empty Label shows Value.
type formOption struct{ Label, Value string }

// newForm builds <x xmlns='jabber:x:data' type=typ> with an optional title
// and instructions, the hidden FORM_TYPE field (when formType is set), and
// fields.
func newForm(typ, formType, title, instructions string, fields ...formField) *xmlstream.Element {
	x := xmlstream.NewElement(nsDataForms, "x", "type", typ)
	if title != "" {
		x.Append(xmlstream.NewElement(nsDataForms, "title").AppendText(title))
	}
	if instructions != "" {
		x.Append(xmlstream.NewElement(nsDataForms, "instructions").AppendText(instructions))
	}
	if formType != "" {
		x.Append(formFieldElement(formField{Var: "FORM_TYPE", Type: "hidden", Values: []string{formType}}))
	}
	for _, f := range fields {
		x.Append(formFieldElement(f))
	}
	return x
}

func formFieldElement(f formField) *xmlstream.Element {
	el := xmlstream.NewElement(nsDataForms, "field", "type", f.Type, "label", f.Label, "var", f.Var)
	// XEP-0004 §9's schema orders a field's children: desc, required, value, option.
	if f.Required {
		el.Append(xmlstream.NewElement(nsDataForms, "required"))
	}
	for _, v := range f.Values {
		el.Append(xmlstream.NewElement(nsDataForms, "value").AppendText(v))
	}
	for _, o := range f.Options {
		label := o.Label
		if label == "" {
			label = o.Value
		}
		el.Append(xmlstream.NewElement(nsDataForms, "option", "label", label).
			Append(xmlstream.NewElement(nsDataForms, "value").AppendText(o.Value)))
	}
	return el
}

// submittedForm is the field values of a submitted form, by var.
type submittedForm struct {
	formType string
	values   map[string][]string
}

// parseSubmittedForm reads a form of type 'submit' (XEP-0050 §4.4 asks to
// treat 'cancel' the same way). It reports false for any other type or a
// form beyond the limits.
func parseSubmittedForm(x *xmlstream.Element) (submittedForm, bool) {
	f := submittedForm{values: map[string][]string{}}
	if x == nil || x.Name.Space != nsDataForms || x.Name.Local != "x" {
		return f, false
	}
	switch x.Attr("type") {
	case "submit", "cancel":
	default:
		return f, false
	}
	fields := x.ChildrenNamed(nsDataForms, "field")
	if len(fields) > maxFormFields {
		return f, false
	}
	for _, fe := range fields {
		name := fe.Attr("var")
		if name == "" {
			continue
		}
		vals := fe.ChildrenNamed(nsDataForms, "value")
		if len(vals) > maxFormFieldValues {
			return f, false
		}
		for _, v := range vals {
			f.values[name] = append(f.values[name], v.Text())
		}
	}
	if ft := f.values["FORM_TYPE"]; len(ft) > 0 {
		f.formType = ft[0]
	}
	return f, true
}

// value is the first value of field name ("" if absent).
func (f submittedForm) value(name string) string {
	if v := f.values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// all is every value of field name.
func (f submittedForm) all(name string) []string { return f.values[name] }

// has reports whether the form carries field name.
func (f submittedForm) has(name string) bool {
	_, ok := f.values[name]
	return ok
}
