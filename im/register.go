package im

// XEP-0077 in-band registration for accounts of the primary domain.
//
// Before authentication (Registrar, wired to c2s's PreAuthIQ hook by the
// server package): an iq get returns the registration fields (legacy
// <username/> and <password/> plus the same fields as a jabber:iq:register
// data form); an iq set creates the account. Registration can be closed
// (the default outside dev mode): the stream feature is then not advertised,
// a get gets <service-unavailable/> (§3.1: "does not support In-Band
// Registration") and a set <not-allowed/>. A per-IP throttle bounds how many
// accounts one address creates per window (§3.1.1 allows <not-acceptable/>
// for an entity that "attempts to register too many times"; it is sent with
// type 'wait' since the same request succeeds once the window passes).
//
// After authentication (registerRegistration, always on): get answers
// <registered/> with the username; a set with username and password changes
// the account's own password (§3.3); a set with <remove/> cancels the
// account (§3.2): the account and its data are deleted, contacts are told
// (unavailable, unsubscribe, unsubscribed), the requesting session gets its
// result, then every session of the account ends with a <not-authorized/>
// stream error. Error payloads never echo the request: it carries a
// password (§3.3 says so for password changes; it is as true for
// registration).

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of XEP-0077.
const (
	NSRegister        = "jabber:iq:register"
	NSRegisterFeature = "http://jabber.org/features/iq-register"
	// Data form types of §7.3.
	formTypeRegister       = NSRegister
	formTypeChangePassword = "jabber:iq:register:changepassword"
)

// MinPasswordLength is the fewest characters a password chosen through
// in-band registration or an in-band password change may have. Passwords an
// administrator sets (XEP-0133, the command line) are not held to it.
const MinPasswordLength = 8

// Registration defaults (see RegistrationOptions).
const (
	DefaultRegistrationsPerIP = 5
	DefaultRegistrationWindow = time.Hour
	// maxThrottledAddrs bounds the throttle's table; when it is full of
	// live windows new addresses are refused until some expire (failing
	// closed: a flood from many addresses stops, it does not evict the
	// windows that hold it back).
	maxThrottledAddrs = 4096
)

// orderRegisterCancel runs the cancellation filter before every other
// outbound filter: the request is answered and the account gone before
// blocking, archiving or carbons would look at it.
const orderRegisterCancel = 50

// RegistrationOptions configure pre-authentication registration.
type RegistrationOptions struct {
	// Open allows creating accounts in-band.
	Open bool
	// MaxPerIP accounts may be created from one address (an IPv4 address or
	// an IPv6 /64) per Window; 0 disables the throttle.
	MaxPerIP int
	// Window is the throttle period (default DefaultRegistrationWindow).
	Window time.Duration
	// Exempt addresses are not throttled; nil means loopback (127.0.0.0/8
	// and ::1), an empty non-nil slice exempts nothing.
	Exempt []netip.Prefix
}

// Registrar answers in-band registration before authentication.
type Registrar struct {
	s        *Server
	opts     RegistrationOptions
	throttle regThrottle
}

// NewRegistrar returns the pre-authentication side of XEP-0077 for the
// primary domain.
func (s *Server) NewRegistrar(o RegistrationOptions) *Registrar {
	if o.Window <= 0 {
		o.Window = DefaultRegistrationWindow
	}
	if o.Exempt == nil {
		o.Exempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	r := &Registrar{s: s, opts: o}
	r.throttle = regThrottle{max: o.MaxPerIP, window: o.Window, exempt: o.Exempt, now: time.Now,
		entries: map[string]*regWindow{}}
	return r
}

// StreamFeatures are the features to advertise before authentication:
// <register xmlns='http://jabber.org/features/iq-register'/> when
// registration is open, nothing otherwise.
func (r *Registrar) StreamFeatures(domain string) []*xmlstream.Element {
	// Accounts are created on the primary domain only: never offered on
	// the anonymous host, whose users have no accounts.
	if !r.opts.Open || domain != r.s.opts.Domain {
		return nil
	}
	return []*xmlstream.Element{xmlstream.NewElement(NSRegisterFeature, "register")}
}

// HandlePreAuth answers an iq get or set a client sent before
// authenticating on a stream to domain from ip. It returns nil when the iq
// is not a registration request (the stream then ends as for any other
// stanza before authentication).
func (r *Registrar) HandlePreAuth(ctx context.Context, domain string, ip netip.Addr, iq *xmlstream.Stanza) *xmlstream.Stanza {
	el, err := iq.Element()
	if err != nil {
		return nil
	}
	kids := el.Elements()
	if len(kids) != 1 || kids[0].Name != (xmlstream.Name{Space: NSRegister, Local: "query"}) {
		return nil
	}
	q := kids[0]
	// Accounts are registered on the primary domain only: the anonymous
	// host has none to create.
	open := r.opts.Open && domain == r.s.opts.Domain
	switch iq.Type() {
	case "get":
		if !open {
			return xmlstream.ErrorReply(iq, xmlstream.ServiceUnavailable())
		}
		return xmlstream.ResultReply(iq, registrationForm())
	case "set":
		if !open {
			return xmlstream.ErrorReply(iq, xmlstream.NotAllowed("In-band registration is disabled on this server"))
		}
		if err := r.register(ctx, domain, ip, q); err != nil {
			return xmlstream.ErrorReply(iq, err)
		}
		return xmlstream.ResultReply(iq, nil)
	}
	return nil
}

// registrationForm is the answer to a get before authentication: the legacy
// fields and the equivalent data form (§4, "x:data form + iq:register fields").
func registrationForm() *xmlstream.Element {
	q := xmlstream.NewElement(NSRegister, "query")
	q.Append(xmlstream.NewElement(NSRegister, "instructions").
		AppendText("Choose a username and password to register with this server."))
	q.Append(xmlstream.NewElement(NSRegister, "username"), xmlstream.NewElement(NSRegister, "password"))
	q.Append(newForm("form", formTypeRegister, "Account Registration",
		"Choose a username and password to register with this server.",
		formField{Var: "username", Type: "text-single", Label: "Username", Required: true},
		formField{Var: "password", Type: "text-private", Label: "Password", Required: true}))
	return q
}

// registerFields reads username and password from a set: the data form
// when one is submitted (it takes precedence, §4), else the legacy fields.
func registerFields(q *xmlstream.Element) (username, password string, hasUsername bool, err *xmlstream.StanzaError) {
	if x := q.Child(nsDataForms, "x"); x != nil {
		f, ok := parseSubmittedForm(x)
		if !ok {
			return "", "", false, xmlstream.BadRequest("The data form must be of type 'submit'")
		}
		return f.value("username"), f.value("password"), f.has("username"), nil
	}
	u := q.Child(NSRegister, "username")
	return q.ChildText(NSRegister, "username"), q.ChildText(NSRegister, "password"), u != nil, nil
}

// register creates an account from a pre-authentication set.
func (r *Registrar) register(ctx context.Context, domain string, ip netip.Addr, q *xmlstream.Element) *xmlstream.StanzaError {
	if q.Child(NSRegister, "remove") != nil {
		// §3.2: nobody is registered on this stream yet.
		return &xmlstream.StanzaError{Type: xmlstream.ErrWait, Condition: "unexpected-request",
			Text: "Authenticate before cancelling a registration"}
	}
	username, password, _, ferr := registerFields(q)
	if ferr != nil {
		return ferr
	}
	if username == "" || password == "" {
		return notAcceptable("A username and a password are required")
	}
	bare, err := jid.New(username, domain, "")
	if err != nil {
		return notAcceptable("This username is not allowed")
	}
	if perr := checkNewPassword(password); perr != nil {
		return perr
	}
	if !r.throttle.reserve(ip) {
		r.s.log.Info("registration throttled", "ip", ip.String())
		return &xmlstream.StanzaError{Type: xmlstream.ErrWait, Condition: "not-acceptable",
			Text: "Too many registrations from your address; try again later"}
	}
	switch err := r.s.accounts.Create(ctx, bare, password); {
	case err == nil:
		r.s.log.Info("account registered in-band", "jid", bare.String(), "ip", ip.String())
		return nil
	case errors.Is(err, auth.ErrExists):
		r.throttle.release(ip)
		return &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "conflict",
			Text: "This username is taken"}
	case errors.Is(err, auth.ErrBadName):
		r.throttle.release(ip)
		return notAcceptable("This username is not allowed")
	case errors.Is(err, auth.ErrWeak):
		r.throttle.release(ip)
		return notAcceptable("This password is not allowed")
	default:
		r.throttle.release(ip)
		r.s.log.Error("registration failed", "jid", bare.String(), "err", err)
		return xmlstream.InternalServerError()
	}
}

// checkNewPassword applies MinPasswordLength to a password a user chose.
func checkNewPassword(p string) *xmlstream.StanzaError {
	if utf8.RuneCountInString(p) < MinPasswordLength {
		return notAcceptable("The password is too short")
	}
	return nil
}

// registerRegistration wires the post-authentication side of XEP-0077.
func registerRegistration(s *Server) {
	s.AddServerFeature(NSRegister)
	// Clients address these to the server (§3.3's example) or to nobody,
	// which reaches the account's bare JID.
	s.HandleServerIQ(NSRegister, "query", s.handleRegisterServer)
	s.HandleAccountIQ(NSRegister, "query", s.handleRegisterAccount)
	s.AddOutboundFilter(orderRegisterCancel, s.registerCancelFilter)
}

// handleRegisterServer answers jabber:iq:register sent to the domain: only
// the server's own accounts are registered here.
func (s *Server) handleRegisterServer(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	user, err := jid.Parse(iq.From())
	if err != nil || iq.From() == "" || user.Localpart() == "" || !s.router.IsLocal(user.Domainpart()) {
		// A remote entity or another server: no registration is offered to it.
		return nil, xmlstream.ServiceUnavailable()
	}
	return s.registerAuthenticated(ctx, user.Bare(), q, iq.Type())
}

// handleRegisterAccount answers jabber:iq:register sent to an account's
// bare JID (or without 'to' by its own sessions).
func (s *Server) handleRegisterAccount(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	user, err1 := jid.Parse(iq.From())
	owner, err2 := jid.Parse(iq.To())
	if err1 != nil || err2 != nil || iq.From() == "" || !user.Bare().Equal(owner.Bare()) {
		// Nobody registers with somebody else's account.
		return nil, xmlstream.ServiceUnavailable()
	}
	return s.registerAuthenticated(ctx, user.Bare(), q, iq.Type())
}

// registerAuthenticated handles get and set from the account user itself.
// A <remove/> from one of its sessions never gets here (registerCancelFilter
// answers it with the session in hand); one that does came from elsewhere
// on the account's behalf and is carried out the same way.
func (s *Server) registerAuthenticated(ctx context.Context, user jid.JID, q *xmlstream.Element, typ string) (*xmlstream.Element, error) {
	if s.isAnonymous(user) {
		if typ == "set" && q.Child(NSRegister, "remove") != nil {
			return nil, registrationRequired()
		}
		return nil, xmlstream.NotAllowed("Anonymous sessions have no registration")
	}
	if typ == "get" {
		res := xmlstream.NewElement(NSRegister, "query")
		res.Append(xmlstream.NewElement(NSRegister, "instructions").
			AppendText("You are registered. Send a new password to change it, or <remove/> to delete the account."))
		res.Append(xmlstream.NewElement(NSRegister, "registered"))
		res.Append(xmlstream.NewElement(NSRegister, "username").AppendText(user.Localpart()))
		return res, nil
	}
	if q.Child(NSRegister, "remove") != nil {
		if err := checkRemoveOnly(q); err != nil {
			return nil, err
		}
		return nil, s.cancelRegistration(ctx, user, nil)
	}
	return nil, s.changeOwnPassword(ctx, user, q)
}

// changeOwnPassword is §3.3: username must name the account itself.
func (s *Server) changeOwnPassword(ctx context.Context, user jid.JID, q *xmlstream.Element) error {
	var username, password, oldPassword string
	var hasUsername bool
	if x := q.Child(nsDataForms, "x"); x != nil {
		f, ok := parseSubmittedForm(x)
		if !ok {
			return xmlstream.BadRequest("The data form must be of type 'submit'")
		}
		username, password, oldPassword, hasUsername = f.value("username"), f.value("password"), f.value("old_password"), f.has("username")
		if f.has("old_password") && oldPassword == "" {
			return xmlstream.BadRequest("The old password is empty")
		}
	} else {
		username, password = q.ChildText(NSRegister, "username"), q.ChildText(NSRegister, "password")
		hasUsername = q.Child(NSRegister, "username") != nil
	}
	if !hasUsername || username == "" || password == "" {
		// §3.3: an empty password never replaces the existing one.
		return xmlstream.BadRequest("A password change needs the username and the new password")
	}
	if !namesAccount(username, user) {
		return xmlstream.Forbidden("Only the account's own password can be changed")
	}
	if err := checkNewPassword(password); err != nil {
		return err
	}
	if oldPassword != "" {
		if err := s.accounts.Verify(ctx, user, oldPassword); err != nil {
			if errors.Is(err, auth.ErrBadPassword) {
				return &xmlstream.StanzaError{Type: xmlstream.ErrModify, Condition: "not-authorized",
					Text: "The old password is wrong"}
			}
			return err
		}
	}
	switch err := s.accounts.SetPassword(ctx, user, password); {
	case err == nil:
		s.log.Info("password changed in-band", "jid", user.String())
		return nil
	case errors.Is(err, auth.ErrWeak):
		return notAcceptable("This password is not allowed")
	case errors.Is(err, auth.ErrNoAccount):
		return registrationRequired()
	default:
		return err
	}
}

// namesAccount reports whether username (a localpart, or a bare JID as in
// §3.3's form example) designates user.
func namesAccount(username string, user jid.JID) bool {
	if j, err := jid.Parse(username); err == nil && j.Localpart() != "" {
		return j.Bare().Equal(user.Bare())
	}
	j, err := jid.New(username, user.Domainpart(), "")
	return err == nil && j.Equal(user.Bare())
}

func registrationRequired() *xmlstream.StanzaError {
	return &xmlstream.StanzaError{Type: xmlstream.ErrAuth, Condition: "registration-required"}
}

// checkRemoveOnly is §3.2's bad-request: <remove/> must be the only child.
func checkRemoveOnly(q *xmlstream.Element) *xmlstream.StanzaError {
	if len(q.Elements()) != 1 {
		return xmlstream.BadRequest("<remove/> must be the only child of <query/>")
	}
	return nil
}

var nsRegisterBytes = []byte(NSRegister)

// registerCancelFilter catches <remove/> sent by a session of the account
// (to nobody, its bare JID or the domain). It needs the session: the result
// must be queued on it before its stream is closed, which a plain iq
// handler, whose reply is routed after it returns, cannot do.
func (s *Server) registerCancelFilter(ctx context.Context, sess router.Session, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	if st.Name.Local != xmlstream.KindIQ || st.Type() != "set" || !bytes.Contains(st.Raw, nsRegisterBytes) {
		return st, false
	}
	user := sess.JID().Bare()
	if to := st.To(); to != user.String() && to != s.opts.Domain && to != "" {
		return st, false
	}
	el, err := st.Element()
	if err != nil {
		return st, false
	}
	q := el.FirstElement()
	if q == nil || len(el.Elements()) != 1 || q.Name != (xmlstream.Name{Space: NSRegister, Local: "query"}) ||
		q.Child(NSRegister, "remove") == nil {
		return st, false
	}
	if s.isAnonymous(user) {
		sess.Send(xmlstream.ErrorReply(st, registrationRequired()))
		return nil, true
	}
	if e := checkRemoveOnly(q); e != nil {
		sess.Send(xmlstream.ErrorReply(st, e))
		return nil, true
	}
	err = s.cancelRegistration(ctx, user, func() { sess.Send(xmlstream.ResultReply(st, nil)) })
	if err != nil {
		se, ok := err.(*xmlstream.StanzaError)
		if !ok {
			s.log.Error("cancelling registration", "jid", user.String(), "err", err)
			se = xmlstream.InternalServerError()
		}
		sess.Send(xmlstream.ErrorReply(st, se))
	}
	return nil, true
}

// cancelRegistration deletes user's account (§3.2), then calls answered
// (may be nil) and closes every session of the account with a
// <not-authorized/> stream error.
func (s *Server) cancelRegistration(ctx context.Context, user jid.JID, answered func()) error {
	err := s.deleteAccount(ctx, user, "not-authorized", "The account was deleted", answered)
	if errors.Is(err, auth.ErrNoAccount) {
		return registrationRequired()
	}
	if err == nil {
		s.log.Info("account cancelled in-band", "jid", user.String())
	}
	return err
}

// deleteAccount removes bare and everything stored for it (the
// auth.OnDelete hooks), ends its presence subscriptions on the contacts'
// side (RFC 6121 §3.2.2, §3.3.2: unavailable and unsubscribed to those who
// see its presence, unsubscribe to those it sees; unsubscribed to pending
// requests), then calls answered (if not nil) and closes every session of
// the account with the stream error condition. auth.ErrNoAccount if there
// was no such account.
func (s *Server) deleteAccount(ctx context.Context, bare jid.JID, condition, text string, answered func()) error {
	bare = bare.Bare()
	// The roster is read first: the delete hooks remove it.
	roster, _, rerr := s.loadRoster(ctx, bare.String())
	if err := s.accounts.Delete(ctx, bare); err != nil {
		if errors.Is(err, auth.ErrNoAccount) {
			return err
		}
		// Delete reports the failures of cleanup hooks after the account
		// itself is gone; only a failure to delete it stops here.
		if exists, xerr := s.accounts.Exists(ctx, bare); xerr != nil || exists {
			return err
		}
		s.log.Error("account deleted, cleanup incomplete", "jid", bare.String(), "err", err)
	}
	if rerr == nil {
		s.endSubscriptions(ctx, bare, roster)
	}
	if answered != nil {
		answered()
	}
	for _, r := range s.router.Resources(bare.String()) {
		r.Session.Close(condition, text)
	}
	return nil
}

// endSubscriptions tells bare's contacts that its subscriptions are gone,
// from the roster as it was before deletion.
func (s *Server) endSubscriptions(ctx context.Context, bare jid.JID, roster *rosterDoc) {
	from := bare.String()
	presence := func(typ, from, to string) {
		s.send(ctx, xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence,
			"from", from, "to", to, "type", typ)))
	}
	available := s.router.Resources(from)
	for _, it := range roster.sortedItems() {
		if it.From {
			for _, r := range available {
				if r.Available {
					presence("unavailable", r.Full, it.JID)
				}
			}
			presence("unsubscribed", from, it.JID)
		}
		if it.To || it.Ask {
			presence("unsubscribe", from, it.JID)
		}
	}
	for contact := range roster.Pending {
		if it := roster.item(contact); it == nil || !it.From {
			presence("unsubscribed", from, contact)
		}
	}
}
