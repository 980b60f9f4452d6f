package muc

import (
	"context"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// subjectState is the room's subject and who set it when.
type subjectState struct {
	Text string    `json:"text,omitempty"`
	Nick string    `json:"nick,omitempty"`
	Time time.Time `json:"time,omitzero"`
	// Set is true once anyone set (or cleared) a subject.
	Set bool `json:"set,omitempty"`
}

// mayChangeSubject: moderators, and participants if the room allows (§8.1).
func (r *room) mayChangeSubject(role Role) bool {
	return role == RoleModerator || (r.cfg.ChangeSubject && role == RoleParticipant)
}

// changeSubject sets the subject from a groupchat message with <subject/>
// and no body (§8.1) and tells everyone.
func (r *room) changeSubject(ctx context.Context, st *xmlstream.Stanza, s *session, subj *xmlstream.Element) {
	if !r.mayChangeSubject(s.occ.role) {
		r.fail(ctx, st, xmlstream.ErrAuth, "forbidden")
		return
	}
	old := r.subject
	r.subject = subjectState{Text: subj.Text(), Nick: s.occ.nick, Time: r.svc.now().UTC(), Set: true}
	if err := r.saveRoom(ctx); err != nil {
		r.subject = old
		r.log.Error("storing the subject failed", "err", err)
		r.svc.bounce(ctx, st, xmlstream.InternalServerError())
		return
	}
	id := st.ID()
	if id == "" {
		id = newID()
	}
	out := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage,
		"from", r.occupantJID(s.occ.nick), "id", id, "type", "groupchat")
	out.Append(xmlstream.NewElement(xmlstream.NSClient, "subject").AppendText(r.subject.Text))
	out.Append(xmlstream.NewElement(NSOccupantID, "occupant-id", "id", s.occ.id))
	newTemplate(out).fanout(ctx, r.svc.router, r.allSessions())
}

// sendSubject sends the current subject to a joining session (§7.2.15):
// from the occupant JID of who set it, with a delay stamp, or an empty
// <subject/> from the room if none was ever set.
func (r *room) sendSubject(ctx context.Context, s *session) {
	from := r.addr
	if r.subject.Set && r.subject.Nick != "" {
		from = r.occupantJID(r.subject.Nick)
	}
	out := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage, "from", from, "id", newID(), "type", "groupchat")
	out.Append(xmlstream.NewElement(xmlstream.NSClient, "subject").AppendText(r.subject.Text))
	if r.subject.Set {
		out.Append(delayElement(r.addr, r.subject.Time))
	}
	r.sendTo(ctx, out, s)
}

// delayElement is an XEP-0203 stamp from the room.
func delayElement(from string, t time.Time) *xmlstream.Element {
	return xmlstream.NewElement(NSDelay, "delay", "from", from, "stamp", t.UTC().Format("2006-01-02T15:04:05.000Z"))
}
