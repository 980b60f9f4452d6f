package im

// The server's push notifications: a headline message from the domain to
// one account, a list of accounts, every online account or every
// registered account. Recipients with an available resource (non-negative
// priority) get it at once; the others get it from offline storage at their
// next login, which the XEP-0334 <store/> hint asks for (offline.go keeps a
// headline only with it). The message carries an optional <subject/> and
// an optional XEP-0066 <x xmlns='jabber:x:oob'><url/></x>.
//
// Server.Push is the core, called by the ad-hoc command below (node
// NodePush) and by the admin HTTP API. The command's form (FORM_TYPE
// NodePush):
//
//	audience   list-single  list | online | all   (default list)
//	recipients jid-multi    accounts (user or user@domain) when audience is list
//	subject    text-single  optional
//	body       text-multi   required
//	url        text-single  optional absolute URI

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// NodePush is the ad-hoc command node of push notifications, also the
// FORM_TYPE of its form.
const NodePush = "urn:gavel:push:0"

const nsOOB = "jabber:x:oob"

// Limits on one push.
const (
	MaxPushRecipients   = 10000 // listed recipients
	MaxPushSubjectBytes = 1024
	MaxPushBodyBytes    = 64 << 10
	MaxPushURLBytes     = 4096
)

// PushAudience selects the recipients of a push.
type PushAudience string

const (
	PushToList   PushAudience = "list"   // PushRequest.Recipients
	PushToOnline PushAudience = "online" // accounts with a bound resource
	PushToAll    PushAudience = "all"    // every registered account of the domain
)

// PushRequest is one push notification.
type PushRequest struct {
	Audience PushAudience // "" means PushToList
	// Recipients (PushToList) are localparts or bare JIDs of the domain.
	Recipients []string
	Subject    string
	Body       string
	URL        string // optional, sent as XEP-0066 out-of-band data
}

// PushResult counts what happened to a push.
type PushResult struct {
	Recipients int // accounts addressed
	Delivered  int // handed to at least one online resource
	Stored     int // kept in offline storage for the next login
	// Dropped were neither delivered nor stored: offline queue full, an
	// inbound filter stopped it, an anonymous account that went away.
	Dropped int
	// Unknown are listed recipients that are no account of the domain.
	Unknown []string
}

// PushError is a request Push refuses; Field names the offending input.
type PushError struct{ Field, Reason string }

func (e *PushError) Error() string { return "push: " + e.Field + ": " + e.Reason }

// checkPush validates req and resolves its listed recipients (nil for the
// other audiences, resolved when sending).
func (s *Server) checkPush(req *PushRequest) ([]jid.JID, error) {
	switch req.Audience {
	case "":
		req.Audience = PushToList
	case PushToList, PushToOnline, PushToAll:
	default:
		return nil, &PushError{"audience", "must be list, online or all"}
	}
	switch {
	case strings.TrimSpace(req.Body) == "":
		return nil, &PushError{"body", "is empty"}
	case len(req.Body) > MaxPushBodyBytes:
		return nil, &PushError{"body", fmt.Sprintf("exceeds %d bytes", MaxPushBodyBytes)}
	case len(req.Subject) > MaxPushSubjectBytes:
		return nil, &PushError{"subject", fmt.Sprintf("exceeds %d bytes", MaxPushSubjectBytes)}
	case len(req.URL) > MaxPushURLBytes:
		return nil, &PushError{"url", fmt.Sprintf("exceeds %d bytes", MaxPushURLBytes)}
	}
	if req.URL != "" {
		if u, err := url.Parse(req.URL); err != nil || u.Scheme == "" {
			return nil, &PushError{"url", "is not an absolute URI"}
		}
	}
	if req.Audience != PushToList {
		return nil, nil
	}
	if len(req.Recipients) > MaxPushRecipients {
		return nil, &PushError{"recipients", fmt.Sprintf("at most %d", MaxPushRecipients)}
	}
	var out []jid.JID
	seen := map[string]bool{}
	for _, r := range req.Recipients {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !strings.Contains(r, "@") {
			r += "@" + s.opts.Domain
		}
		j, msg := s.localAccount(r)
		if msg != "" {
			return nil, &PushError{"recipients", msg}
		}
		if !seen[j.String()] {
			seen[j.String()] = true
			out = append(out, j)
		}
	}
	if len(out) == 0 {
		return nil, &PushError{"recipients", "name at least one account"}
	}
	return out, nil
}

// Push sends req. It returns a *PushError for an invalid request; errors
// of storage while listing accounts are returned as they are, with what was
// sent until then counted.
func (s *Server) Push(ctx context.Context, req PushRequest) (PushResult, error) {
	var res PushResult
	targets, err := s.checkPush(&req)
	if err != nil {
		return res, err
	}
	switch req.Audience {
	case PushToOnline:
		for _, b := range s.onlineUsers() {
			if j, err := jid.Parse(b); err == nil {
				targets = append(targets, j)
			}
		}
	case PushToAll:
		users, err := s.accounts.List(ctx, s.opts.Domain)
		if err != nil {
			return res, err
		}
		for _, u := range users {
			if j, err := jid.New(u, s.opts.Domain, ""); err == nil {
				targets = append(targets, j)
			}
		}
	}
	for _, to := range targets {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if req.Audience == PushToList && !s.accountExists(ctx, to) {
			res.Unknown = append(res.Unknown, to.String())
			continue
		}
		res.Recipients++
		switch s.pushTo(ctx, to, &req) {
		case pushDelivered:
			res.Delivered++
		case pushStored:
			res.Stored++
		default:
			res.Dropped++
		}
	}
	s.log.Info("push sent", "audience", string(req.Audience), "recipients", res.Recipients,
		"delivered", res.Delivered, "stored", res.Stored, "dropped", res.Dropped, "unknown", len(res.Unknown))
	return res, nil
}

type pushOutcome int

const (
	pushDropped pushOutcome = iota
	pushDelivered
	pushStored
)

// pushTo delivers one push message to the account to, as messageToBare
// does for a headline, except that with no available resource it is
// stored rather than dropped.
func (s *Server) pushTo(ctx context.Context, to jid.JID, req *PushRequest) pushOutcome {
	st, stop := s.filterInbound(ctx, to, pushMessage(s.opts.Domain, to.String(), req))
	if stop {
		return pushDropped
	}
	sent := false
	for _, r := range s.router.Resources(to.String()) {
		if r.Available && r.Priority >= 0 && r.Session.Send(st) {
			sent = true
		}
	}
	switch {
	case sent:
		return pushDelivered
	case s.storeOffline(ctx, to, st):
		return pushStored
	}
	return pushDropped
}

// pushMessage builds the headline.
func pushMessage(from, to string, req *PushRequest) *xmlstream.Stanza {
	m := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage,
		"from", from, "to", to, "type", "headline", "id", newPushID())
	if req.Subject != "" {
		m.Append(xmlstream.NewElement(xmlstream.NSClient, "subject").AppendText(req.Subject))
	}
	m.Append(xmlstream.NewElement(xmlstream.NSClient, "body").AppendText(req.Body))
	if req.URL != "" {
		m.Append(xmlstream.NewElement(nsOOB, "x").Append(xmlstream.NewElement(nsOOB, "url").AppendText(req.URL)))
	}
	m.Append(xmlstream.NewElement(nsHints, "store"))
	return xmlstream.NewStanza(m)
}

func newPushID() string { return "push-" + rand.Text() }

// pushCommand is the ad-hoc face of Push, for administrators.
func (s *Server) pushCommand() *adhocCommand {
	return &adhocCommand{
		Node: NodePush, Name: "Send Push Notification",
		Allowed: func(r jid.JID) bool { return s.IsAdmin(r.Bare().String()) },
		Stages: []commandStage{{Form: pushForm, Check: func(f submittedForm) string {
			req := pushRequestFrom(f)
			if _, err := s.checkPush(&req); err != nil {
				return err.(*PushError).Field + " " + err.(*PushError).Reason
			}
			return ""
		}}},
		Complete: s.pushComplete,
	}
}

func pushForm(context.Context) *xmlstream.Element {
	return newForm("form", NodePush, "Push Notification",
		"Send a headline message to accounts of this server. Those not online get it at their next login.",
		formField{Var: "audience", Type: "list-single", Label: "Recipients", Required: true, Values: []string{string(PushToList)},
			Options: []formOption{{"The accounts listed below", string(PushToList)},
				{"All online accounts", string(PushToOnline)}, {"All registered accounts", string(PushToAll)}}},
		formField{Var: "recipients", Type: "jid-multi", Label: "Accounts (user or user@domain)"},
		formField{Var: "subject", Type: "text-single", Label: "Subject"},
		formField{Var: "body", Type: "text-multi", Label: "Message", Required: true},
		formField{Var: "url", Type: "text-single", Label: "Link (optional)"})
}

func pushRequestFrom(f submittedForm) PushRequest {
	return PushRequest{
		Audience:   PushAudience(f.value("audience")),
		Recipients: f.all("recipients"),
		Subject:    f.value("subject"),
		Body:       strings.Join(f.all("body"), "\n"),
		URL:        strings.TrimSpace(f.value("url")),
	}
}

func (s *Server) pushComplete(ctx context.Context, _ jid.JID, forms []submittedForm) (*commandResult, error) {
	res, err := s.Push(ctx, pushRequestFrom(forms[0]))
	if pe, ok := err.(*PushError); ok {
		return nil, badPayload(pe.Field + " " + pe.Reason)
	}
	if err != nil {
		return nil, err
	}
	out := &commandResult{Notes: []commandNote{{"info", fmt.Sprintf(
		"Push sent to %d recipients: %d delivered, %d stored offline, %d dropped",
		res.Recipients, res.Delivered, res.Stored, res.Dropped)}}}
	if len(res.Unknown) > 0 {
		shown := res.Unknown[:min(len(res.Unknown), 20)]
		text := "No such account: " + strings.Join(shown, ", ")
		if len(shown) < len(res.Unknown) {
			text += fmt.Sprintf(" and %d more", len(res.Unknown)-len(shown))
		}
		typ := "warn"
		if res.Recipients == 0 {
			typ = "error" // XEP-0050 §3.4: nothing was done
		}
		out.Notes = append(out.Notes, commandNote{typ, text})
	}
	count := func(v, label string, n int) formField {
		return formField{Var: v, Label: label, Values: []string{strconv.Itoa(n)}}
	}
	out.Payload = newForm("result", NodePush, "", "",
		count("recipients", "Recipients", res.Recipients),
		count("delivered", "Delivered online", res.Delivered),
		count("stored", "Stored offline", res.Stored),
		count("dropped", "Dropped", res.Dropped))
	if len(res.Unknown) > 0 {
		out.Payload.Append(formFieldElement(formField{Var: "unknown", Type: "jid-multi", Label: "No such account",
			Values: slices.Clone(res.Unknown)}))
	}
	return out, nil
}
