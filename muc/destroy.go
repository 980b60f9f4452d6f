package muc

import (
	"context"

	"github.com/gavelhq/gavel/xmlstream"
)

// destroy ends the room (§10.9): each occupant session gets one unavailable
// presence with the <destroy/> (alternate venue, reason, password as the
// owner gave them), then everything stored about the room is deleted.
func (r *room) destroy(ctx context.Context, req *xmlstream.Element) error {
	d := xmlstream.NewElement(NSMUCUser, "destroy", "jid", req.Attr("jid"))
	if reason := req.Child(NSMUCOwner, "reason"); reason != nil {
		d.Append(xmlstream.NewElement(NSMUCUser, "reason").AppendText(reason.Text()))
	}
	if pw := req.Child(NSMUCOwner, "password"); pw != nil {
		d.Append(xmlstream.NewElement(NSMUCUser, "password").AppendText(pw.Text()))
	}
	for _, o := range append([]*occupant(nil), r.order...) {
		p := r.presenceElement(presenceSpec{occ: o, typ: "unavailable", role: RoleNone, aff: AffNone,
			payload: xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence), extra: d})
		newTemplate(p).fanout(ctx, r.svc.router, o.sessions)
		r.removeOccupant(o)
	}
	r.erase(ctx)
	return nil
}
