package muc

// Affiliation changes (§5.2.2, §9.1-9.5, §10.3-10.8) and the affiliation
// lists. Who may do what:
//
//   - only admins and owners change affiliations (forbidden otherwise);
//   - only owners grant or revoke owner and admin status (forbidden, §10.3-10.8);
//     an admin trying to ban an admin or owner gets not-allowed (§9.1);
//   - nobody bans themselves (conflict, §9.1), and no change may leave the
//     room without an owner (conflict, §10.6 / §10.8: the last owner cannot
//     step down);
//   - service admins are owners of every room by configuration: their
//     affiliation cannot be changed in a room (not-allowed).
//
// A ban removes the user's occupants with 301 and its reserved nick (§9.1);
// losing membership of a members-only room removes them with 321 (§9.4);
// otherwise present occupants get presence with the new affiliation and the
// role it brings. A user not in the room is told by a message to its bare
// JID: a 101 status (§16.1 item 2), or an invitation when it was just made a
// member of a members-only room (§9.5).

import (
	"context"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// Status codes of affiliation changes (§15.6).
const (
	statusAffiliationNotice = "101"
	statusBannedCode        = "301"
	statusRemovedAffChange  = "321"
)

// checkAffiliationChange says whether actor may give it.bare the
// affiliation it.aff, and returns the entry to store.
func (r *room) checkAffiliationChange(actor adminActor, it adminItem) (affEntry, *xmlstream.StanzaError) {
	if actor.aff.rank() < AffAdmin.rank() {
		return affEntry{}, xmlstream.Forbidden("only admins and owners change affiliations")
	}
	if it.aff == AffOutcast && it.bare == actor.bare {
		return affEntry{}, mucCancel("conflict", "you cannot ban yourself")
	}
	if r.svc.isAdmin(it.bare) {
		return affEntry{}, xmlstream.NotAllowed("service administrators own every room")
	}
	current := r.affiliation(it.bare)
	if actor.aff != AffOwner {
		if it.aff == AffOwner || it.aff == AffAdmin {
			return affEntry{}, xmlstream.Forbidden("only owners grant owner and admin status")
		}
		if current.rank() >= AffAdmin.rank() {
			if it.aff == AffOutcast {
				return affEntry{}, xmlstream.NotAllowed("a user cannot be banned by an admin with a lower affiliation")
			}
			return affEntry{}, xmlstream.Forbidden("only owners revoke owner and admin status")
		}
	}
	e := r.affs[it.bare]
	e.Affiliation = it.aff
	e.Reason = ""
	switch {
	case it.aff == AffOutcast:
		// §9.1: the ban list keeps the reason; outcasts have no nick.
		e.Nick, e.Reason = "", it.reason
	case it.nickSet:
		e.Nick = it.nick
	case it.aff == AffNone:
		e.Nick = "" // no longer registered with the room
	}
	if e.Nick != "" {
		if owner := r.nickOwner(e.Nick); owner != "" && owner != it.bare {
			return affEntry{}, mucCancel("conflict", "the nick is reserved by another user")
		}
	}
	return e, nil
}

// checkAffiliationOutcome checks a whole set: no nick reserved twice, and
// an owner left if the set demotes one.
func (r *room) checkAffiliationOutcome(next map[string]affEntry) *xmlstream.StanzaError {
	if len(next) == 0 {
		return nil
	}
	nicks := map[string]bool{}
	owners, demoted := 0, false
	for bare, e := range next {
		if e.Nick != "" {
			if nicks[e.Nick] {
				return mucCancel("conflict", "the same nick is reserved twice")
			}
			nicks[e.Nick] = true
		}
		if e.Affiliation == AffOwner {
			owners++
		} else if r.affs[bare].Affiliation == AffOwner {
			demoted = true
		}
	}
	for bare, e := range r.affs {
		if _, changed := next[bare]; !changed && e.Affiliation == AffOwner {
			owners++
		}
	}
	if demoted && owners == 0 {
		return mucCancel("conflict", "the room must keep an owner")
	}
	return nil
}

// applyAffiliations stores the checked entries, all or none: a failed
// write restores what was written before it.
func (r *room) applyAffiliations(items []adminItem, next map[string]affEntry, ev *adminEvents) *xmlstream.StanzaError {
	type undo struct {
		bare string
		old  affEntry
		had  bool
	}
	var done []undo
	var olds []Affiliation
	for _, it := range items {
		if it.aff == "" {
			continue
		}
		old, had := r.affs[it.bare]
		oldAff := r.affiliation(it.bare)
		err := r.setAffiliation(it.bare, next[it.bare])
		done = append(done, undo{it.bare, old, had})
		if err != nil {
			r.log.Error("storing affiliation failed", "jid", it.bare, "err", err)
			for i := len(done) - 1; i >= 0; i-- {
				u := done[i]
				if !u.had {
					u.old = affEntry{Affiliation: AffNone}
				}
				if err := r.setAffiliation(u.bare, u.old); err != nil {
					r.log.Error("restoring affiliation failed", "jid", u.bare, "err", err)
				}
			}
			return xmlstream.InternalServerError()
		}
		olds = append(olds, oldAff)
	}
	i := 0
	for _, it := range items {
		if it.aff != "" {
			r.affiliationEffects(it, olds[i], ev)
			i++
		}
	}
	return nil
}

// affiliationEffects records what it.bare's new affiliation does to its
// occupants, or the notice it gets when it is not in the room.
func (r *room) affiliationEffects(it adminItem, old Affiliation, ev *adminEvents) {
	present := false
	for _, o := range slices.Clone(r.order) {
		if !r.covers(it.bare, o) {
			continue
		}
		if o.bare != it.bare {
			// A user of a domain whose ban was set: removed; lifted or
			// another affiliation of a domain: nothing to say.
			if it.aff == AffOutcast {
				r.removeByAdmin(o, AffOutcast, statusBannedCode, it.reason, ev)
			}
			continue
		}
		present = true
		switch {
		case it.aff == AffOutcast:
			r.removeByAdmin(o, AffOutcast, statusBannedCode, it.reason, ev)
		case r.cfg.MembersOnly && it.aff.rank() < AffMember.rank():
			// §9.4: only the removal, not a presence with the lost
			// affiliation before it.
			r.removeByAdmin(o, it.aff, statusRemovedAffChange, it.reason, ev)
		case it.aff != old:
			was := o.role
			o.role = r.roleAfterAffiliation(o.role, old, it.aff)
			ev.add(adminEvent{occ: o, oldRole: was, reason: it.reason})
		}
	}
	if present || it.aff == old {
		return
	}
	if j, err := jid.Parse(it.bare); err != nil || j.Localpart() == "" {
		return // a domain ban: nobody to tell
	}
	invite := r.cfg.MembersOnly && it.aff == AffMember && old.rank() < AffMember.rank()
	ev.add(adminEvent{absent: it.bare, absentAff: it.aff, invite: invite, reason: it.reason})
}

// notifyAbsent tells a user not in the room of its new affiliation: an
// invitation to a new member of a members-only room (§9.5), else a message
// with status 101 (§16.1).
func (r *room) notifyAbsent(ctx context.Context, e adminEvent, actor adminActor) {
	x := xmlstream.NewElement(NSMUCUser, "x")
	msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage, "from", r.addr, "to", e.absent, "id", newID())
	if e.invite {
		inv := xmlstream.NewElement(NSMUCUser, "invite", "from", actor.bare)
		if e.reason != "" {
			inv.Append(xmlstream.NewElement(NSMUCUser, "reason").AppendText(e.reason))
		}
		x.Append(inv)
		if r.cfg.PasswordProtected {
			x.Append(xmlstream.NewElement(NSMUCUser, "password").AppendText(r.cfg.Password))
		}
		r.send(ctx, xmlstream.NewStanza(msg.Append(x)))
		return
	}
	item := xmlstream.NewElement(NSMUCUser, "item", "affiliation", string(e.absentAff), "jid", e.absent)
	if e.reason != "" {
		item.Append(xmlstream.NewElement(NSMUCUser, "reason").AppendText(e.reason))
	}
	x.Append(item, xmlstream.NewElement(NSMUCUser, "status", "code", statusAffiliationNotice))
	body := xmlstream.NewElement(xmlstream.NSClient, "body").AppendText(affiliationNoticeText(r.addr, e.absentAff))
	r.send(ctx, xmlstream.NewStanza(msg.Append(body, x)))
}

func affiliationNoticeText(room string, a Affiliation) string {
	switch a {
	case AffOutcast:
		return "You have been banned from " + room + "."
	case AffNone:
		return "You are no longer affiliated with " + room + "."
	}
	return "You are now " + articled(a) + " of " + room + "."
}

func articled(a Affiliation) string {
	if a == AffAdmin || a == AffOwner {
		return "an " + string(a)
	}
	return "a " + string(a)
}

// affiliationList answers an affiliation list request (§9.2 ban list,
// §9.5 member list, §10.5 owner list, §10.8 admin list) with the fields
// of §17.4 rule 6: affiliation, bare JID, the reserved (or, failing that,
// current) nick except for outcasts, and a ban's reason; never a role.
func (r *room) affiliationList(a Affiliation, actor adminActor) ([]*xmlstream.Element, *xmlstream.StanzaError) {
	if !r.mayListAffiliation(a, actor) {
		switch a {
		case AffOwner, AffAdmin, AffMember, AffOutcast:
			return nil, xmlstream.Forbidden("you may not see this list")
		}
		return nil, xmlstream.BadRequest("no list for affiliation " + string(a))
	}
	var bares []string
	for bare, e := range r.affs {
		if e.Affiliation == a {
			bares = append(bares, bare)
		}
	}
	slices.Sort(bares)
	out := make([]*xmlstream.Element, 0, len(bares))
	for _, bare := range bares {
		e := r.affs[bare]
		item := xmlstream.NewElement(NSMUCAdmin, "item", "affiliation", string(a), "jid", bare)
		if a == AffOutcast {
			if e.Reason != "" {
				item.Append(xmlstream.NewElement(NSMUCAdmin, "reason").AppendText(e.Reason))
			}
		} else if nick := r.listedNick(bare, e); nick != "" {
			item.SetAttr("nick", nick)
		}
		out = append(out, item)
	}
	return out, nil
}

// mayListAffiliation: admins see the ban and member lists, owners every
// list. The member list is also open to the roles muc#roomconfig_getmemberlist
// names, and to members, in non-anonymous rooms only (§5.2.1 note ***,
// §9.5); the owner and admin lists to members and occupants of
// non-anonymous rooms (§10.5, §10.8 "MAY process").
func (r *room) mayListAffiliation(a Affiliation, actor adminActor) bool {
	switch a {
	case AffOutcast:
		return actor.aff.rank() >= AffAdmin.rank()
	case AffMember:
		if actor.aff.rank() >= AffAdmin.rank() {
			return true
		}
		if !r.cfg.nonAnonymous() {
			return false
		}
		return actor.aff == AffMember || (actor.occ != nil && slices.Contains(r.cfg.GetMemberList, actor.occ.role))
	case AffAdmin, AffOwner:
		if actor.aff == AffOwner {
			return true
		}
		return r.cfg.nonAnonymous() && (actor.aff.rank() >= AffMember.rank() || actor.occ != nil)
	}
	return false
}

// listedNick is the nick shown for bare in a list: its reserved nick, or
// the nick it is in the room with.
func (r *room) listedNick(bare string, e affEntry) string {
	if e.Nick != "" {
		return e.Nick
	}
	for _, o := range r.order {
		if o.bare == bare {
			return o.nick
		}
	}
	return ""
}

// bannedDomain reports whether the domain of the user bare is banned
// (§9.2: "<user@domain>", then "<domain>"); a user's own entry, checked
// first by affiliation, wins.
func bannedDomain(affs map[string]affEntry, bare string) bool {
	at := strings.LastIndexByte(bare, '@')
	if at < 0 {
		return false
	}
	e, ok := affs[bare[at+1:]]
	return ok && e.Affiliation == AffOutcast
}

// covers reports whether an affiliation change of target concerns
// occupant o: its own bare JID, or its domain when o has no entry of its own.
func (r *room) covers(target string, o *occupant) bool {
	if o.bare == target {
		return true
	}
	at := strings.LastIndexByte(o.bare, '@')
	_, own := r.affs[o.bare]
	return at >= 0 && o.bare[at+1:] == target && !own && !r.svc.isAdmin(o.bare)
}
