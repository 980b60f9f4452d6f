package xmlstream

// XEP-0004 data forms on the element tree: building a form the server
// presents and reading one a client submits. Registration, ad-hoc
// commands (im) and pubsub use them. They work on Element directly rather
// than through mellium.im/xmpp/form, whose types marshal through
// encoding/xml token streams: payloads here are already parsed trees and
// the forms are a few dozen fields at most.

// NSDataForms is the XEP-0004 namespace.
const NSDataForms = "jabber:x:data"

// Limits on what a submitted form may carry, beyond the stream's own
// stanza size limit: enough for any form the server defines.
const (
	MaxFormFields      = 64
	MaxFormFieldValues = 1024
)

// FormField describes one <field/> of a form the server presents.
type FormField struct {
	Var, Type, Label string
	Required         bool
	Values           []string
	Options          []FormOption // of list-single / list-multi fields
}

// FormOption is an <option/> of a list field; an empty Label shows Value.
type FormOption struct{ Label, Value string }

// NewForm builds <x xmlns='jabber:x:data' type=typ> with an optional title
// and instructions, the hidden FORM_TYPE field (when formType is set), and
// fields.
func NewForm(typ, formType, title, instructions string, fields ...FormField) *Element {
	x := NewElement(NSDataForms, "x", "type", typ)
	if title != "" {
		x.Append(NewElement(NSDataForms, "title").AppendText(title))
	}
	if instructions != "" {
		x.Append(NewElement(NSDataForms, "instructions").AppendText(instructions))
	}
	if formType != "" {
		x.Append(FormField{Var: "FORM_TYPE", Type: "hidden", Values: []string{formType}}.Element())
	}
	for _, f := range fields {
		x.Append(f.Element())
	}
	return x
}

// Element builds the <field/>.
func (f FormField) Element() *Element {
	el := NewElement(NSDataForms, "field", "type", f.Type, "label", f.Label, "var", f.Var)
	// XEP-0004 §9's schema orders a field's children: desc, required, value, option.
	if f.Required {
		el.Append(NewElement(NSDataForms, "required"))
	}
	for _, v := range f.Values {
		el.Append(NewElement(NSDataForms, "value").AppendText(v))
	}
	for _, o := range f.Options {
		label := o.Label
		if label == "" {
			label = o.Value
		}
		el.Append(NewElement(NSDataForms, "option", "label", label).
			Append(NewElement(NSDataForms, "value").AppendText(o.Value)))
	}
	return el
}

// SubmittedForm is a form a client sent: its type, FORM_TYPE, and the
// values of its fields by var, with the vars in the order they came.
type SubmittedForm struct {
	Type     string // "submit", "cancel" (or "result" where accepted)
	FormType string
	Values   map[string][]string
	Vars     []string // every var but FORM_TYPE, in document order, once each
}

// ParseSubmittedForm reads x as a form of one of the given types (none
// given: "submit" and "cancel"). It reports false for another element,
// another type, or a form beyond MaxFormFields / MaxFormFieldValues.
func ParseSubmittedForm(x *Element, types ...string) (SubmittedForm, bool) {
	f := SubmittedForm{Values: map[string][]string{}}
	if x == nil || x.Name.Space != NSDataForms || x.Name.Local != "x" {
		return f, false
	}
	f.Type = x.Attr("type")
	if len(types) == 0 {
		types = []string{"submit", "cancel"}
	}
	known := false
	for _, t := range types {
		known = known || f.Type == t
	}
	if !known {
		return f, false
	}
	fields := x.ChildrenNamed(NSDataForms, "field")
	if len(fields) > MaxFormFields {
		return f, false
	}
	for _, fe := range fields {
		name := fe.Attr("var")
		if name == "" {
			continue
		}
		vals := fe.ChildrenNamed(NSDataForms, "value")
		if len(vals) > MaxFormFieldValues || len(f.Values[name])+len(vals) > MaxFormFieldValues {
			return f, false
		}
		if _, seen := f.Values[name]; !seen {
			f.Values[name] = []string{}
			if name != "FORM_TYPE" {
				f.Vars = append(f.Vars, name)
			}
		}
		for _, v := range vals {
			f.Values[name] = append(f.Values[name], v.Text())
		}
	}
	if ft := f.Values["FORM_TYPE"]; len(ft) > 0 {
		f.FormType = ft[0]
	}
	return f, true
}

// Value is the first value of field name ("" if absent).
func (f SubmittedForm) Value(name string) string {
	if v := f.Values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Has reports whether the form carries field name.
func (f SubmittedForm) Has(name string) bool {
	_, ok := f.Values[name]
	return ok
}

// ParseBool reads an XEP-0004 boolean ("1"/"true", "0"/"false").
func ParseBool(s string) (v, ok bool) {
	switch s {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}
