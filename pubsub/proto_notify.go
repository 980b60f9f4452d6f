package pubsub

// Event notifications (XEP-0060 §7.1.2, §7.2.2, §8.2.5, §8.4.2, §8.5.2,
// §12.8): each Event becomes ONE <message from=host><event xmlns=
// 'pubsub#event'>…</event></message>, encoded once (xmlstream.Template) and
// copied per recipient with only 'to' written in. A replayed last item
// carries an XEP-0203 <delay/>. Recipients holding several subscriptions
// get SHIM SubID headers (§12.7) for items and retractions — their copies
// differ, so each is encoded on its own; every other recipient shares the
// template.
//
// All copies of one Event share its message id: the id tells the service
// which event a bounce is about, the bounce's 'from' which recipient.

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// Notify implements Notifier. It never blocks on a recipient: Route
// queues on each session's bounded writer.
func (p *Protocol) Notify(ctx context.Context, ev *Event, to []Recipient) {
	if len(to) == 0 || p.opts.Router == nil {
		return
	}
	msg := p.notification(ev)
	if msg == nil {
		return
	}
	withHeaders := ev.Kind == EventItems || ev.Kind == EventRetract
	plain := make([]jid.JID, 0, len(to))
	for _, r := range to {
		if withHeaders && len(r.SubIDs) > 0 {
			tagged := withSubIDs(msg, r.SubIDs)
			p.opts.Router.Route(ctx, xmlstream.NewTemplate(tagged).Stanza(xmlstream.Addressee{To: r.JID.String()}))
			continue
		}
		plain = append(plain, r.JID)
	}
	p.fanout(ctx, xmlstream.NewTemplate(msg), jidStrings(plain))
}

// jidStrings is the string form of each JID, all cut from one allocation
// (JID.String costs two or three per JID; a fan-out has thousands).
func jidStrings(js []jid.JID) []string {
	size := 0
	for _, j := range js {
		size += len(j.Localpart()) + len(j.Domainpart()) + len(j.Resourcepart()) + 2
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(js))
	for i, j := range js {
		if l := j.Localpart(); l != "" {
			buf = append(append(buf, l...), '@')
		}
		buf = append(buf, j.Domainpart()...)
		if r := j.Resourcepart(); r != "" {
			buf = append(append(buf, '/'), r...)
		}
		ends[i] = len(buf)
	}
	all := string(buf)
	out := make([]string, len(js))
	start := 0
	for i, end := range ends {
		out[i], start = all[start:end], end
	}
	return out
}

// fanout routes one copy of t to each address.
func (p *Protocol) fanout(ctx context.Context, t *xmlstream.Template, to []string) {
	switch len(to) {
	case 0:
		return
	case 1:
		p.opts.Router.Route(ctx, t.Stanza(xmlstream.Addressee{To: to[0]}))
		return
	}
	t.Each(len(to), func(i int) xmlstream.Addressee { return xmlstream.Addressee{To: to[i]} },
		func(st *xmlstream.Stanza) { p.opts.Router.Route(ctx, st) })
}

// notification builds the message for ev, without 'to' (nil for an Event
// it cannot express).
func (p *Protocol) notification(ev *Event) *xmlstream.Element {
	event := p.eventPayload(ev)
	if event == nil {
		return nil
	}
	msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage,
		"from", ev.Host, "type", ev.Config.NotificationType, "id", p.nextID())
	msg.Append(xmlstream.NewElement(NSPubSubEvent, "event").Append(event))
	if ev.Delayed && ev.Kind == EventItems && len(ev.Items) > 0 {
		stamp := ev.Items[0].Time
		for _, it := range ev.Items[1:] {
			if it.Time.After(stamp) {
				stamp = it.Time
			}
		}
		if !stamp.IsZero() {
			msg.Append(xmlstream.NewElement(nsDelay, "delay", "from", ev.Host, "stamp", stamp.UTC().Format(time.RFC3339)))
		}
	}
	return msg
}

// eventPayload is the child of <event/> for ev.
func (p *Protocol) eventPayload(ev *Event) *xmlstream.Element {
	switch ev.Kind {
	case EventItems:
		items := xmlstream.NewElement(NSPubSubEvent, "items", "node", ev.Node)
		for _, it := range ev.Items {
			items.Append(p.itemElement(NSPubSubEvent, it, ev.Config.DeliverPayloads))
		}
		return items
	case EventRetract:
		items := xmlstream.NewElement(NSPubSubEvent, "items", "node", ev.Node)
		for _, id := range ev.Retracted {
			items.Append(xmlstream.NewElement(NSPubSubEvent, "retract", "id", id))
		}
		return items
	case EventPurge:
		return xmlstream.NewElement(NSPubSubEvent, "purge", "node", ev.Node)
	case EventDelete:
		del := xmlstream.NewElement(NSPubSubEvent, "delete", "node", ev.Node)
		if ev.Redirect != "" {
			del.Append(xmlstream.NewElement(NSPubSubEvent, "redirect", "uri", ev.Redirect))
		}
		return del
	case EventConfig:
		conf := xmlstream.NewElement(NSPubSubEvent, "configuration", "node", ev.Node)
		if ev.Config.DeliverPayloads {
			conf.Append(configForm(&ev.Config, "result"))
		}
		return conf
	case EventSubscription:
		s := ev.Subscription
		if s == nil {
			return nil
		}
		node := s.Node
		if node == "" {
			node = ev.Node
		}
		return xmlstream.NewElement(NSPubSubEvent, "subscription",
			"node", node, "jid", s.JID.String(), "subid", s.SubID, "subscription", s.State.String())
	}
	p.log.Error("pubsub: unknown event kind", "kind", int(ev.Kind))
	return nil
}

// withSubIDs is msg with a SHIM <headers/> naming subids as its last
// child (§12.7). msg is not modified: the copy shares its children.
func withSubIDs(msg *xmlstream.Element, subids []string) *xmlstream.Element {
	headers := xmlstream.NewElement(nsSHIM, "headers")
	for _, id := range subids {
		headers.Append(xmlstream.NewElement(nsSHIM, "header", "name", "SubID").AppendText(id))
	}
	out := &xmlstream.Element{Name: msg.Name, Attrs: msg.Attrs,
		Children: make([]xmlstream.Child, len(msg.Children), len(msg.Children)+1)}
	copy(out.Children, msg.Children)
	return out.Append(headers)
}
