package pubsub

// The data forms of XEP-0060 (§16.4 registry): pubsub#node_config and
// pubsub#subscribe_options are rendered from the core's field tables
// (ConfigFields / SubOptionFields, Values) and submitted fields go back
// through Set, so the core alone knows what a field means; pubsub#meta-data
// (§5.4) is built from NodeInfo. Collection nodes (XEP-0248) are not
// offered: a submission asking for one is feature-not-implemented
// <unsupported feature='collections'/>.

import (
	"errors"
	"strconv"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// FORM_TYPEs (§16.4).
const (
	formNodeConfig    = NSPubSub + "#node_config"
	formSubOptions    = NSPubSub + "#subscribe_options"
	formMetaData      = NSPubSub + "#meta-data"
	formPublishOpts   = NSPubSub + "#publish-options"
	formSubscribeAuth = NSPubSub + "#subscribe_authorization"
)

// Node-type fields the core does not model: only leaf nodes exist here.
const (
	fieldNodeType   = "pubsub#node_type"
	fieldCollection = "pubsub#collection"
)

// configForm renders a node configuration as a pubsub#node_config form:
// typ "form" (with labels and options, §8.2.2) or "result" (values only,
// for configuration notifications, §8.2.5).
func configForm(cfg *Config, typ string) *xmlstream.Element {
	fields := ConfigFields()
	out := make([]xmlstream.FormField, 0, len(fields))
	for _, f := range fields {
		vals, _ := cfg.Values(f.Var)
		out = append(out, formField(f, vals, typ == "form"))
	}
	return xmlstream.NewForm(typ, formNodeConfig, "", "", out...)
}

// subOptionsForm renders subscription options (§6.3.2) as a
// pubsub#subscribe_options form of type typ.
func subOptionsForm(o *SubOptions, typ string) *xmlstream.Element {
	fields := SubOptionFields()
	out := make([]xmlstream.FormField, 0, len(fields))
	for _, f := range fields {
		vals, _ := o.Values(f.Var)
		out = append(out, formField(f, vals, typ == "form"))
	}
	return xmlstream.NewForm(typ, formSubOptions, "", "", out...)
}

// formField turns the core's description of a field into a form field;
// full adds the label and options a form to fill in needs.
func formField(f FieldInfo, vals []string, full bool) xmlstream.FormField {
	ff := xmlstream.FormField{Var: f.Var, Type: f.Type, Values: vals}
	if full {
		ff.Label = f.Label
		for _, o := range f.Options {
			ff.Options = append(ff.Options, xmlstream.FormOption{Label: o.Label, Value: o.Value})
		}
		if f.Type == "list-multi" && len(f.Options) == 0 {
			// A list without options of its own (roster groups): offer
			// what is chosen, so that a form renderer can show it.
			for _, v := range vals {
				ff.Options = append(ff.Options, xmlstream.FormOption{Value: v})
			}
		}
	}
	return ff
}

// submittedForm reads the data form inside parent (<configure/>,
// <options/>, <publish-options/>): nil when there is none; bad-request
// when it is not a submit or cancel form of formType (a form without
// FORM_TYPE is taken as one, XEP-0068 §3).
func submittedForm(parent *xmlstream.Element, formType string) (*xmlstream.SubmittedForm, error) {
	xs := parent.ChildrenNamed(xmlstream.NSDataForms, "x")
	if len(xs) == 0 {
		return nil, nil
	}
	if len(xs) > 1 {
		return nil, badRequest("more than one data form")
	}
	f, ok := xmlstream.ParseSubmittedForm(xs[0])
	if !ok {
		return nil, badRequest("a data form of type submit or cancel is expected")
	}
	if f.FormType != "" && f.FormType != formType {
		return nil, badRequest("the form's FORM_TYPE is not " + formType)
	}
	return &f, nil
}

// fieldValues is the submitted fields by var, without FORM_TYPE: what the
// core takes for subscription options and publish-options preconditions.
func fieldValues(f *xmlstream.SubmittedForm) map[string][]string {
	if f == nil {
		return nil
	}
	out := make(map[string][]string, len(f.Vars))
	for _, v := range f.Vars {
		out[v] = f.Values[v]
	}
	return out
}

// applyConfigForm sets each submitted field on cfg in the order given
// (fields not submitted keep their value: XEP-0004 §3.4 incomplete
// submission). The core's Set refuses unknown fields and bad values with
// not-acceptable.
func applyConfigForm(cfg *Config, f *xmlstream.SubmittedForm) error {
	for _, v := range f.Vars {
		vals := f.Values[v]
		switch v {
		case fieldNodeType:
			if len(vals) == 0 || vals[0] == "" || vals[0] == "leaf" {
				continue
			}
			if vals[0] == "collection" {
				return errUnsupported("collections")
			}
			return errNotAcceptable("")
		case fieldCollection:
			if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
				continue
			}
			return errUnsupported("collections")
		}
		if err := cfg.Set(v, vals); err != nil {
			var e *Error
			if v == "pubsub#access_model" && errors.As(err, &e) && e.Cond == "not-acceptable" && e.App == "" {
				// §8.1.2: an access model the service does not offer.
				return errNotAcceptable("unsupported-access-model")
			}
			return err
		}
	}
	return nil
}

// metaDataForm is a node's pubsub#meta-data form (§5.4; fields of the
// §16.4.3 registry), of type result.
func metaDataForm(info *NodeInfo) *xmlstream.Element {
	c := &info.Config
	var owners, publishers []string
	for _, j := range info.Owners {
		owners = append(owners, j.String())
	}
	for _, j := range info.Publishers {
		publishers = append(publishers, j.String())
	}
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	maxItems := strconv.Itoa(c.MaxItems)
	if c.MaxItems == MaxItemsMax {
		maxItems = "max"
	}
	var created []string
	if !info.Created.IsZero() {
		created = []string{info.Created.UTC().Format(time.RFC3339)}
	}
	var creator []string
	if info.Creator.String() != "" {
		creator = []string{info.Creator.String()}
	}
	fields := []xmlstream.FormField{
		{Var: "pubsub#type", Type: "text-single", Label: "Payload semantic type information", Values: one(c.Type)},
		{Var: "pubsub#creator", Type: "jid-single", Label: "Node creator", Values: creator},
		{Var: "pubsub#creation_date", Type: "text-single", Label: "Creation date", Values: created},
		{Var: "pubsub#title", Type: "text-single", Label: "A short name for the node", Values: one(c.Title)},
		{Var: "pubsub#description", Type: "text-single", Label: "A description of the node", Values: one(c.Description)},
		{Var: "pubsub#language", Type: "list-single", Label: "Default language", Values: one(c.Language)},
		{Var: "pubsub#contact", Type: "jid-multi", Label: "People to contact with questions", Values: c.Contact},
		{Var: "pubsub#access_model", Type: "list-single", Label: "Access model", Values: one(c.AccessModel)},
		{Var: "pubsub#publish_model", Type: "list-single", Label: "Publish model", Values: one(c.PublishModel)},
		{Var: "pubsub#max_items", Type: "text-single", Label: "Max # of items to persist", Values: []string{maxItems}},
		{Var: "pubsub#owner", Type: "jid-multi", Label: "Node owners", Values: owners},
		{Var: "pubsub#publisher", Type: "jid-multi", Label: "Publishers to this node", Values: publishers},
		{Var: "pubsub#num_subscribers", Type: "text-single", Label: "Number of subscribers to this node",
			Values: []string{strconv.Itoa(info.Subscribers)}},
	}
	return xmlstream.NewForm("result", formMetaData, "", "", fields...)
}
