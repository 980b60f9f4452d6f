package pubsub

// Subscription approval (XEP-0060 §8.6): the service asks each owner with
// a pubsub#subscribe_authorization form in a <message/>; an owner answers
// by submitting the form (pubsub#allow true or false) in a <message/> back,
// or cancels it (the subscription stays pending).

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// RequestAuthorization implements Notifier: one form, encoded once, to
// every owner. It goes as a normal message so that an offline owner finds
// it later (§12.9 allows offline storage for these).
func (p *Protocol) RequestAuthorization(ctx context.Context, req AuthorizationRequest) {
	if len(req.Owners) == 0 || p.opts.Router == nil {
		return
	}
	fields := []xmlstream.FormField{
		{Var: "pubsub#node", Type: "text-single", Label: "Node ID", Values: []string{req.Node}},
		{Var: "pubsub#subscriber_jid", Type: "jid-single", Label: "Subscriber Address", Values: []string{req.Subscriber.String()}},
		{Var: "pubsub#allow", Type: "boolean", Label: "Allow this JID to subscribe to this pubsub node?", Values: []string{"false"}},
	}
	if req.SubID != "" {
		fields = append([]xmlstream.FormField{{Var: "pubsub#subid", Type: "hidden", Values: []string{req.SubID}}}, fields...)
	}
	form := xmlstream.NewForm("form", formSubscribeAuth, "PubSub subscriber request",
		"To approve this entity's subscription request, click the OK button. To deny the request, click the cancel button.",
		fields...)
	msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage, "from", req.Host, "id", p.nextID())
	msg.Append(
		xmlstream.NewElement(xmlstream.NSClient, "body").AppendText(
			req.Subscriber.String()+" asks to subscribe to node "+req.Node+"; answer the form to allow or deny it."),
		form)
	to := make([]string, 0, len(req.Owners))
	for _, o := range req.Owners {
		to = append(to, o.String())
	}
	p.fanout(ctx, xmlstream.NewTemplate(msg), to)
}

// HandleMessage processes a message to host that answers a subscription
// approval form (§8.6). It reports false when st carries no such form (the
// caller then treats st as any other message); a form it cannot act on is
// answered with an error.
func (p *Protocol) HandleMessage(ctx context.Context, host string, st *xmlstream.Stanza) bool {
	el, err := st.Element()
	if err != nil {
		return false
	}
	var form xmlstream.SubmittedForm
	found := false
	for _, x := range el.ChildrenNamed(xmlstream.NSDataForms, "x") {
		if f, ok := xmlstream.ParseSubmittedForm(x); ok && f.FormType == formSubscribeAuth {
			form, found = f, true
			break
		}
	}
	if !found {
		return false
	}
	if form.Type == "cancel" || p.svc == nil {
		return true // the subscription stays pending (§8.6)
	}
	if err := p.authorize(ctx, host, st, form); err != nil {
		p.bounce(ctx, st, p.stanzaError(err))
	}
	return true
}

// authorize applies one submitted approval form.
func (p *Protocol) authorize(ctx context.Context, host string, st *xmlstream.Stanza, form xmlstream.SubmittedForm) error {
	actor, err := jid.Parse(st.From())
	if err != nil {
		return xmlstream.JIDMalformed()
	}
	node := form.Value("pubsub#node")
	if node == "" {
		return errNodeIDRequired()
	}
	sj := form.Value("pubsub#subscriber_jid")
	if sj == "" {
		return errJIDRequired()
	}
	subscriber, err := jid.Parse(sj)
	if err != nil {
		return errInvalidJID()
	}
	allow, ok := xmlstream.ParseBool(form.Value("pubsub#allow"))
	if !ok {
		return badRequest("pubsub#allow is a boolean")
	}
	return p.svc.Authorize(ctx, host, actor, node, subscriber, form.Value("pubsub#subid"), allow)
}
