package im

// XEP-0050 ad-hoc commands on the server domain. An adhocCommand is a sequence of
// form stages followed by a completion; this file runs the protocol around
// it: the command list and per-command disco nodes, sessions, actions and
// the errors of §4.6. The commands themselves live in admin_commands.go
// (XEP-0133) and push.go.
//
// Decisions:
//   - Who may see and run a command is the command's Allowed function; a
//     command the requester may not run is not listed, its disco#info and
//     execution get <forbidden/> (type 'cancel' as in XEP-0050's table).
//   - Sessions belong to one requester (full JID) and one node. Session ids
//     carry a MAC over both, so an id the server issued but no longer holds
//     (completed, canceled, expired, evicted) gets <session-expired/> while
//     an id it never issued, or issued to someone else or for another node,
//     gets <bad-sessionid/> — without remembering ended sessions.
//   - Sessions expire after adhocSessionTTL without a request; at most
//     adhocMaxSessionsPerJID per requester and adhocMaxSessions in all are
//     kept (the oldest is dropped first).
//   - Locale: the server speaks English whatever the request asks
//     (<command xml:lang='en'/> says so in every answer); a session is held
//     to the language it started with (§3.5 "Each execution session SHOULD
//     use only one language/locale"), and a later stage asking for another
//     gets <bad-locale/>.
//   - An error in a submitted form (missing or invalid field) is reported
//     with <bad-payload/> and leaves the session at the same stage, so the
//     form can be corrected and sent again.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// NSCommands is the XEP-0050 namespace, also the node of the command list.
const NSCommands = "http://jabber.org/protocol/commands"

// Session limits.
const (
	adhocSessionTTL        = 10 * time.Minute
	adhocMaxSessionsPerJID = 8
	adhocMaxSessions       = 1024
)

// adhocCommand is an ad-hoc command offered by the server domain.
type adhocCommand struct {
	// Node identifies the command (its disco node); Name is its label.
	Node, Name string
	// Allowed reports whether requester (a full JID) may list and run it.
	Allowed func(requester jid.JID) bool
	// Stages are the forms shown one after the other; none means the
	// command completes on execute.
	Stages []commandStage
	// Complete runs the command with the forms submitted for each stage
	// (in stage order) and returns the completion: notes and an optional
	// payload (a result form). An error (a *xmlstream.StanzaError, else
	// internal-server-error) is sent instead and the session stays at its
	// last stage.
	Complete func(ctx context.Context, requester jid.JID, forms []submittedForm) (*commandResult, error)
}

// commandStage is one form of a command.
type commandStage struct {
	// Form builds the form to present (type 'form').
	Form func(ctx context.Context) *xmlstream.Element
	// Check validates the submitted form before the next stage; nil
	// accepts anything. Its error is sent as <bad-payload/> with its text.
	Check func(f submittedForm) string
}

// commandResult is what a completed command returns.
type commandResult struct {
	Notes   []commandNote
	Payload *xmlstream.Element // e.g. a form of type 'result'; may be nil
}

// commandNote is a <note/> (type info, warn or error).
type commandNote struct{ Type, Text string }

// adhoc is the command registry and the live sessions.
type adhoc struct {
	s   *Server
	key []byte // MAC key of session ids
	now func() time.Time

	mu       sync.Mutex
	commands []*adhocCommand // in the order added: the order of the command list
	sessions map[string]*adhocSession
}

type adhocSession struct {
	id        string
	node      string
	requester string // full JID
	lang      string
	stage     int
	forms     []submittedForm // submitted so far, one per completed stage
	touched   time.Time
}

// registerAdhoc wires XEP-0050 on the server domain, with the XEP-0133
// commands and the push command.
func registerAdhoc(s *Server) {
	a := newAdhoc(s)
	for _, c := range s.adminCommands() {
		a.add(c)
	}
	a.add(s.pushCommand())
	s.AddServerFeature(NSCommands)
	s.HandleServerIQ(NSCommands, "command", a.handle)
	a.hookDisco()
}

// newAdhoc returns an empty registry.
func newAdhoc(s *Server) *adhoc {
	a := &adhoc{s: s, key: make([]byte, 32), now: time.Now, sessions: map[string]*adhocSession{}}
	rand.Read(a.key)
	return a
}

// add registers c; a node added again replaces the earlier command.
func (a *adhoc) add(c *adhocCommand) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, old := range a.commands {
		if old.Node == c.Node {
			a.commands[i] = c
			return
		}
	}
	a.commands = append(a.commands, c)
}

func (a *adhoc) lookup(node string) *adhocCommand {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.commands {
		if c.Node == node {
			return c
		}
	}
	return nil
}

// allowedCommands lists the commands requester may run.
func (a *adhoc) allowedCommands(requester jid.JID) []*adhocCommand {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*adhocCommand
	for _, c := range a.commands {
		if c.Allowed(requester) {
			out = append(out, c)
		}
	}
	return out
}

// hookDisco answers disco#info and disco#items for the command list node
// and each command node, passing every other query to the handlers
// registered before (disco.go), which answer nodes they do not know with
// <item-not-found/>.
func (a *adhoc) hookDisco() {
	s := a.s
	s.mu.RLock()
	prevInfo := s.serverIQ[iqKey(nsDiscoInfo, "query")]
	prevItems := s.serverIQ[iqKey(nsDiscoItems, "query")]
	s.mu.RUnlock()
	unavailable := func(context.Context, *xmlstream.Stanza, *xmlstream.Element) (*xmlstream.Element, error) {
		return nil, xmlstream.ServiceUnavailable()
	}
	if prevInfo == nil { // registerServices did not run first: no disco otherwise
		prevInfo = unavailable
	}
	if prevItems == nil {
		prevItems = unavailable
	}
	s.HandleServerIQ(nsDiscoInfo, "query", func(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
		if iq.Type() == "get" && q.Attr("node") != "" {
			if res, err, ok := a.discoInfo(iq, q); ok {
				return res, err
			}
		}
		return prevInfo(ctx, iq, q)
	})
	s.HandleServerIQ(nsDiscoItems, "query", func(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
		if iq.Type() == "get" && q.Attr("node") == NSCommands {
			return a.discoItems(iq, q), nil
		}
		return prevItems(ctx, iq, q)
	})
}

// requester is the sender of iq, or false if it has no valid address.
func requesterOf(iq *xmlstream.Stanza) (jid.JID, bool) {
	if iq.From() == "" {
		return jid.JID{}, false
	}
	j, err := jid.Parse(iq.From())
	return j, err == nil
}

// discoInfo answers disco#info on the command list node and command nodes
// (ok=false: not a node of ours).
func (a *adhoc) discoInfo(iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error, bool) {
	node := q.Attr("node")
	res := discoQuery(nsDiscoInfo, q)
	if node == NSCommands {
		res.Append(xmlstream.NewElement(nsDiscoInfo, "identity", "category", "automation", "type", "command-list", "name", "Commands"))
		appendFeatures(res, []string{NSCommands})
		return res, nil, true
	}
	c := a.lookup(node)
	if c == nil {
		return nil, nil, false
	}
	from, ok := requesterOf(iq)
	if !ok || !c.Allowed(from) {
		return nil, adhocForbidden(), true
	}
	res.Append(xmlstream.NewElement(nsDiscoInfo, "identity", "category", "automation", "type", "command-node", "name", c.Name))
	appendFeatures(res, []string{NSCommands, nsDataForms})
	return res, nil, true
}

// discoItems lists the commands the requester may run (§2.2: "The responder
// is not required to send the same list of commands to all requesters").
func (a *adhoc) discoItems(iq *xmlstream.Stanza, q *xmlstream.Element) *xmlstream.Element {
	res := discoQuery(nsDiscoItems, q)
	from, ok := requesterOf(iq)
	if !ok {
		return res
	}
	for _, c := range a.allowedCommands(from) {
		res.Append(xmlstream.NewElement(nsDiscoItems, "item", "jid", iq.To(), "node", c.Node, "name", c.Name))
	}
	return res
}

// XEP-0050 §4.6 errors.
func adhocError(typ, cond, app string) *xmlstream.StanzaError {
	e := &xmlstream.StanzaError{Type: typ, Condition: cond}
	if app != "" {
		e.App = xmlstream.NewElement(NSCommands, app)
	}
	return e
}

func adhocBadRequest(app, text string) *xmlstream.StanzaError {
	e := adhocError(xmlstream.ErrModify, "bad-request", app)
	e.Text = text
	return e
}

func adhocForbidden() *xmlstream.StanzaError {
	return adhocError(xmlstream.ErrCancel, "forbidden", "")
}

func adhocSessionExpired() *xmlstream.StanzaError {
	return adhocError(xmlstream.ErrCancel, "not-allowed", "session-expired")
}

// badPayload is the XEP-0050 error for a submitted form the command cannot
// accept; text says which field and why.
func badPayload(text string) *xmlstream.StanzaError { return adhocBadRequest("bad-payload", text) }

// handle answers <command/> iqs to the domain.
func (a *adhoc) handle(ctx context.Context, iq *xmlstream.Stanza, cmd *xmlstream.Element) (*xmlstream.Element, error) {
	if iq.Type() != "set" {
		return nil, xmlstream.FeatureNotImplemented("commands are executed with iq set")
	}
	from, ok := requesterOf(iq)
	if !ok {
		return nil, xmlstream.BadRequest("no requester")
	}
	node := cmd.Attr("node")
	if node == "" {
		return nil, xmlstream.BadRequest("the command has no node")
	}
	c := a.lookup(node)
	if c == nil {
		return nil, xmlstream.ItemNotFound()
	}
	if !c.Allowed(from) {
		return nil, adhocForbidden()
	}
	action := cmd.Attr("action")
	switch action {
	case "", "execute", "next", "prev", "complete", "cancel":
	default:
		return nil, adhocBadRequest("malformed-action", "unknown action "+action)
	}
	lang := cmd.Lang()
	if lang == "" {
		lang = iq.Lang()
	}
	sid := cmd.Attr("sessionid")
	if sid == "" {
		if action != "" && action != "execute" {
			return nil, adhocBadRequest("bad-action", "a new session starts with execute")
		}
		return a.start(ctx, from, c, lang)
	}
	return a.step(ctx, from, c, sid, action, lang, cmd)
}

// start opens a session: the first stage's form, or the completion of a
// command without stages.
func (a *adhoc) start(ctx context.Context, from jid.JID, c *adhocCommand, lang string) (*xmlstream.Element, error) {
	sess := &adhocSession{node: c.Node, requester: from.String(), lang: lang}
	sess.id = a.newSessionID(sess.requester, sess.node)
	if len(c.Stages) == 0 {
		return a.complete(ctx, from, c, sess)
	}
	a.keep(sess)
	return a.stageReply(ctx, c, sess), nil
}

// step continues a session.
func (a *adhoc) step(ctx context.Context, from jid.JID, c *adhocCommand, sid, action, lang string, cmd *xmlstream.Element) (*xmlstream.Element, error) {
	if !a.validSessionID(sid, from.String(), c.Node) {
		return nil, adhocBadRequest("bad-sessionid", "")
	}
	// Taken out while in use: a concurrent request with the same id finds
	// no session (session-expired) instead of racing this one.
	sess := a.take(sid)
	if sess == nil {
		return nil, adhocSessionExpired()
	}
	if lang != "" && sess.lang != "" && !strings.EqualFold(lang, sess.lang) {
		a.keep(sess)
		return nil, adhocBadRequest("bad-locale", "this session uses "+sess.lang)
	}
	last := sess.stage == len(c.Stages)-1
	if action == "" || action == "execute" {
		// The <actions execute='...'/> of the stage shown.
		action = "next"
		if last {
			action = "complete"
		}
	}
	switch action {
	case "cancel":
		return commandElement(c.Node, sess.id, "canceled"), nil
	case "prev":
		if sess.stage == 0 {
			a.keep(sess)
			return nil, adhocBadRequest("bad-action", "there is no previous stage")
		}
		sess.stage--
		sess.forms = sess.forms[:sess.stage]
		a.keep(sess)
		return a.stageReply(ctx, c, sess), nil
	case "next", "complete":
		if (action == "next") == last {
			a.keep(sess)
			return nil, adhocBadRequest("bad-action", "action "+action+" is not allowed at this stage")
		}
	}
	f, ok := parseSubmittedForm(cmd.Child(nsDataForms, "x"))
	if !ok {
		a.keep(sess)
		return nil, badPayload("submit the form of this stage")
	}
	if check := c.Stages[sess.stage].Check; check != nil {
		if msg := check(f); msg != "" {
			a.keep(sess)
			return nil, badPayload(msg)
		}
	}
	sess.forms = append(sess.forms[:sess.stage], f)
	if action == "next" {
		sess.stage++
		a.keep(sess)
		return a.stageReply(ctx, c, sess), nil
	}
	res, err := a.complete(ctx, from, c, sess)
	if err != nil {
		sess.forms = sess.forms[:sess.stage]
		a.keep(sess)
	}
	return res, err
}

// complete runs the command and builds the completed answer.
func (a *adhoc) complete(ctx context.Context, from jid.JID, c *adhocCommand, sess *adhocSession) (*xmlstream.Element, error) {
	res, err := c.Complete(ctx, from, sess.forms)
	if err != nil {
		return nil, err
	}
	el := commandElement(c.Node, sess.id, "completed")
	if res != nil {
		for _, n := range res.Notes {
			el.Append(xmlstream.NewElement(NSCommands, "note", "type", n.Type).AppendText(n.Text))
		}
		if res.Payload != nil {
			el.Append(res.Payload)
		}
	}
	return el, nil
}

// stageReply is the executing answer showing sess's current stage.
func (a *adhoc) stageReply(ctx context.Context, c *adhocCommand, sess *adhocSession) *xmlstream.Element {
	el := commandElement(c.Node, sess.id, "executing")
	last := sess.stage == len(c.Stages)-1
	actions := xmlstream.NewElement(NSCommands, "actions")
	if sess.stage > 0 {
		actions.Append(xmlstream.NewElement(NSCommands, "prev"))
	}
	if last {
		actions.SetAttr("execute", "complete")
		actions.Append(xmlstream.NewElement(NSCommands, "complete"))
	} else {
		actions.SetAttr("execute", "next")
		actions.Append(xmlstream.NewElement(NSCommands, "next"))
	}
	el.Append(actions)
	el.Append(c.Stages[sess.stage].Form(ctx))
	return el
}

func commandElement(node, sid, status string) *xmlstream.Element {
	el := xmlstream.NewElement(NSCommands, "command", "node", node, "sessionid", sid, "status", status)
	el.Attrs = append(el.Attrs, xmlstream.Attr{Name: xmlstream.Name{Space: xmlstream.NSXML, Local: "lang"}, Value: "en"})
	return el
}

// newSessionID is random bytes plus a MAC binding them to the requester
// and node.
func (a *adhoc) newSessionID(requester, node string) string {
	var r [12]byte
	rand.Read(r[:])
	nonce := base64.RawURLEncoding.EncodeToString(r[:])
	return nonce + "." + a.mac(nonce, requester, node)
}

func (a *adhoc) mac(nonce, requester, node string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(nonce + "\x00" + requester + "\x00" + node))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

func (a *adhoc) validSessionID(sid, requester, node string) bool {
	nonce, sum, ok := strings.Cut(sid, ".")
	return ok && hmac.Equal([]byte(sum), []byte(a.mac(nonce, requester, node)))
}

// take removes and returns the live session sid (nil if gone or expired).
func (a *adhoc) take(sid string) *adhocSession {
	a.mu.Lock()
	defer a.mu.Unlock()
	sess := a.sessions[sid]
	if sess == nil {
		return nil
	}
	delete(a.sessions, sid)
	if a.now().Sub(sess.touched) >= adhocSessionTTL {
		return nil
	}
	return sess
}

// keep stores sess as touched now, dropping expired sessions and, beyond
// the limits, the requester's oldest or everybody's oldest.
func (a *adhoc) keep(sess *adhocSession) {
	now := a.now()
	sess.touched = now
	a.mu.Lock()
	defer a.mu.Unlock()
	var mine int
	var oldestMine, oldest *adhocSession
	for id, o := range a.sessions {
		if now.Sub(o.touched) >= adhocSessionTTL {
			delete(a.sessions, id)
			continue
		}
		if o.requester == sess.requester {
			mine++
			if oldestMine == nil || o.touched.Before(oldestMine.touched) {
				oldestMine = o
			}
		}
		if oldest == nil || o.touched.Before(oldest.touched) {
			oldest = o
		}
	}
	switch {
	case mine >= adhocMaxSessionsPerJID:
		delete(a.sessions, oldestMine.id)
	case len(a.sessions) >= adhocMaxSessions:
		delete(a.sessions, oldest.id)
	}
	a.sessions[sess.id] = sess
}
