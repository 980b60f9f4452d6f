package im

// XEP-0004 data forms as used by registration (XEP-0077), ad-hoc commands
// (XEP-0050) and service administration (XEP-0133): thin names over the
// shared helpers in xmlstream/form.go.

import (
	"github.com/gavelhq/gavel/xmlstream"
)

const nsDataForms = xmlstream.NSDataForms

// formField describes one <field/> of a form the server presents.
type formField struct {
	Var, Type, Label string
	Required         bool
	Values           []string
	Options          []formOption // of list-single / list-multi fields
}

// formOption is an <option/> of a list field; an empty Label shows Value.
type formOption struct{ Label, Value string }

func (f formField) shared() xmlstream.FormField {
	out := xmlstream.FormField{Var: f.Var, Type: f.Type, Label: f.Label, Required: f.Required, Values: f.Values}
	for _, o := range f.Options {
		out.Options = append(out.Options, xmlstream.FormOption(o))
	}
	return out
}

// newForm builds <x xmlns='jabber:x:data' type=typ> with an optional title
// and instructions, the hidden FORM_TYPE field (when formType is set), and
// fields.
func newForm(typ, formType, title, instructions string, fields ...formField) *xmlstream.Element {
	shared := make([]xmlstream.FormField, len(fields))
	for i, f := range fields {
		shared[i] = f.shared()
	}
	return xmlstream.NewForm(typ, formType, title, instructions, shared...)
}

func formFieldElement(f formField) *xmlstream.Element { return f.shared().Element() }

// submittedForm is the field values of a submitted form, by var.
type submittedForm struct {
	formType string
	values   map[string][]string
}

// parseSubmittedForm reads a form of type 'submit' (XEP-0050 §4.4 asks to
// treat 'cancel' the same way). It reports false for any other type or a
// form beyond the limits.
func parseSubmittedForm(x *xmlstream.Element) (submittedForm, bool) {
	f, ok := xmlstream.ParseSubmittedForm(x)
	return submittedForm{formType: f.FormType, values: f.Values}, ok
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

// has reports whether the form carries a value for field name.
func (f submittedForm) has(name string) bool { return len(f.values[name]) > 0 }
