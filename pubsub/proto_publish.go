package pubsub

// Publisher use cases (XEP-0060 §7): publish one item (with or without an
// id, with publish-options preconditions, §7.1.5) and retract items (§7.2).
// The payload is kept as the serialized element, standalone: it declares
// its own namespace wherever it is later embedded.

import (
	"strings"

	"github.com/gavelhq/gavel/xmlstream"
)

// maxRetract bounds the items one retract request names.
const maxRetract = 1000

// publish stores and notifies one item (§7.1). <publish/> holds at most
// one <item/> (batch publishing is gone since version 1.13); an item holds
// at most one payload element (else invalid-payload, §7.1.3.6). Whether a
// node needs an item or a payload is the core's call (§7.1.3.7).
func (r *iqRequest) publish(pub, options *xmlstream.Element) (*xmlstream.Element, error) {
	node, err := nodeAttr(pub)
	if err != nil {
		return nil, err
	}
	elems := pub.ChildrenNamed(NSPubSub, "item")
	if len(elems) != len(pub.Elements()) {
		return nil, badRequest("<publish/> holds only <item/>")
	}
	if len(elems) > 1 {
		return nil, badRequest("one item per publish")
	}
	var items []Item
	for _, it := range elems {
		payload, err := itemPayload(it)
		if err != nil {
			return nil, err
		}
		items = append(items, Item{ID: it.Attr("id"), Publisher: r.actor, Payload: payload})
	}
	var opts *PublishOptions
	if options != nil {
		form, err := submittedForm(options, formPublishOpts)
		if err != nil {
			return nil, err
		}
		if form != nil && form.Type == "submit" {
			opts = &PublishOptions{Fields: fieldValues(form)}
		}
	}
	if r.later != nil {
		later := r.later
		r.svc().PublishThen(r.host, r.actor, node, items, opts, func(ids []string, err error) {
			if err != nil {
				later(nil, err)
				return
			}
			later(publishResult(node, ids), nil)
		})
		return nil, errAnswerLater
	}
	ids, err := r.svc().Publish(r.ctx, r.host, r.actor, node, items, opts)
	if err != nil {
		return nil, err
	}
	return publishResult(node, ids), nil
}

// publishResult names the published items' ids, generated or not (§7.1.2).
func publishResult(node string, ids []string) *xmlstream.Element {
	res := xmlstream.NewElement(NSPubSub, "publish", "node", node)
	for _, id := range ids {
		res.Append(xmlstream.NewElement(NSPubSub, "item", "id", id))
	}
	return xmlstream.NewElement(NSPubSub, "pubsub").Append(res)
}

// itemPayload serializes an <item/>'s single payload element (nil for an
// empty item). Two elements, or text beside one, are invalid-payload; so
// is a payload in the pubsub namespace itself (the schema's ##other).
func itemPayload(item *xmlstream.Element) ([]byte, error) {
	var payload *xmlstream.Element
	for _, c := range item.Children {
		switch {
		case c.Elem == nil:
			if strings.TrimSpace(c.Text) != "" {
				return nil, errInvalidPayload()
			}
		case payload != nil:
			return nil, errInvalidPayload()
		default:
			payload = c.Elem
		}
	}
	if payload == nil {
		return nil, nil
	}
	if payload.Name.Space == NSPubSub || payload.Name.Space == "" {
		return nil, errInvalidPayload()
	}
	return payload.AppendXML(nil, ""), nil
}

// retract deletes items (§7.2): every <item/> needs an id (item-required,
// §7.2.3.4); notify='true'/'1' asks for retraction notifications.
func (r *iqRequest) retract(ret *xmlstream.Element) (*xmlstream.Element, error) {
	node, err := nodeAttr(ret)
	if err != nil {
		return nil, err
	}
	notify := false
	if v, ok := ret.LookupAttr("notify"); ok {
		if notify, ok = xmlstream.ParseBool(v); !ok {
			return nil, badRequest("notify is a boolean")
		}
	}
	elems := ret.ChildrenNamed(NSPubSub, "item")
	if len(elems) == 0 {
		return nil, errItemRequired()
	}
	if len(elems) > maxRetract {
		return nil, &Error{Cond: "policy-violation", Type: "modify", Text: "too many items in one retract"}
	}
	ids := make([]string, 0, len(elems))
	for _, it := range elems {
		id := it.Attr("id")
		if id == "" {
			return nil, errItemRequired()
		}
		ids = append(ids, id)
	}
	return nil, r.svc().Retract(r.ctx, r.host, r.actor, node, ids, notify)
}
