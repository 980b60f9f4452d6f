package muc

// affEntry is one stored affiliation: a bare JID's relation to the room and
// the nick it reserved (§7.10), if any.
type affEntry struct {
	Affiliation Affiliation `json:"aff"`
	Nick        string      `json:"nick,omitempty"`
	Reason      string      `json:"reason,omitempty"`
}

// affiliation is bare's effective affiliation: service admins are owners
// of every room.
func (r *room) affiliation(bare string) Affiliation {
	if r.svc.isAdmin(bare) {
		return AffOwner
	}
	if e, ok := r.affs[bare]; ok {
		return e.Affiliation
	}
	if bannedDomain(r.affs, bare) {
		return AffOutcast // §9.2: a ban of a domain covers its users
	}
	return AffNone
}

// reservedNick is the nick bare reserved, or "".
func (r *room) reservedNick(bare string) string { return r.affs[bare].Nick }

// nickOwner is the bare JID that reserved nick, or "".
func (r *room) nickOwner(nick string) string {
	for bare, e := range r.affs {
		if e.Nick == nick && e.Affiliation != AffOutcast {
			return bare
		}
	}
	return ""
}

// setAffiliation changes bare's affiliation (AffNone with no nick removes the
// entry) and stores it if the room is persistent. Role changes of present
// occupants and the presence they cause belong to the admin use cases.
func (r *room) setAffiliation(bare string, e affEntry) error {
	if e.Affiliation == AffNone && e.Nick == "" {
		delete(r.affs, bare)
	} else {
		r.affs[bare] = e
	}
	if !r.cfg.Persistent || r.locked {
		return nil
	}
	return r.storeAffiliation(bare, e)
}
