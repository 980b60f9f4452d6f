package muc

// What a room keeps in the Store (key rows in data/keys.go):
//
//	muc/room/<room>            roomDoc as JSON, written with revision CAS
//	muc/aff/<room>/<bare>      affEntry as JSON
//	muc/public/<room>          present while the room is persistent and public
//	muc/creator/<bare>/<room>  present while a room the user created exists
//	muc/history/<room>         the history log (history.go)
//
// Only persistent rooms have a document and affiliation rows; a temporary
// room lives in its actor and leaves at most its history log and creator
// row behind after a crash, which a later creation of the same room clears.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gavelhq/gavel/data"
)

const roomDocVersion = 1

// roomDoc is the stored form of a persistent room.
type roomDoc struct {
	Version int          `json:"v"`
	Config  RoomConfig   `json:"config"`
	Subject subjectState `json:"subject"`
	Secret  string       `json:"secret"` // occupant-id key, base64
	Creator string       `json:"creator,omitempty"`
	Created time.Time    `json:"created"`
}

// load reads the room from the Store when its actor starts.
func (r *room) load(ctx context.Context) {
	defer r.publishInfo()
	r.affs = map[string]affEntry{}
	val, rev, err := r.svc.store.Get(ctx, data.MUCRoomKey(r.addr))
	if errors.Is(err, data.ErrNotFound) {
		return // no such persistent room
	}
	if err != nil {
		r.loadErr = err
		r.log.Error("loading room failed", "err", err)
		return
	}
	var doc roomDoc
	if err := json.Unmarshal(val, &doc); err != nil {
		r.loadErr = fmt.Errorf("muc: corrupt room document: %w", err)
		r.log.Error("loading room failed", "err", r.loadErr)
		return
	}
	secret, err := base64.StdEncoding.DecodeString(doc.Secret)
	if err != nil || len(secret) == 0 {
		secret = newOccupantSecret()
	}
	doc.Config.normalize()
	r.exists, r.locked, r.rev = true, false, rev
	r.cfg, r.subject, r.secret = doc.Config, doc.Subject, secret
	r.creator, r.created = doc.Creator, doc.Created
	prefix := data.MUCAffiliationPrefix(r.addr)
	err = r.svc.store.Scan(ctx, prefix, nil, 0, func(key, val []byte, _ uint64) bool {
		var e affEntry
		if json.Unmarshal(val, &e) == nil && e.Affiliation.valid() {
			r.affs[strings.TrimPrefix(string(key), string(prefix))] = e
		}
		return true
	})
	if err == nil {
		r.histLast, _, err = r.svc.store.Last(ctx, data.MUCHistoryStream(r.addr))
	}
	if err != nil {
		r.loadErr = err
		r.log.Error("loading room failed", "err", err)
	}
}

// saveRoom writes the room document if the room is persistent and
// configured (CAS on the revision this actor last wrote).
func (r *room) saveRoom(ctx context.Context) error {
	if !r.exists || r.locked || !r.cfg.Persistent {
		return nil
	}
	doc := roomDoc{Version: roomDocVersion, Config: r.cfg, Subject: r.subject,
		Secret: base64.StdEncoding.EncodeToString(r.secret), Creator: r.creator, Created: r.created}
	val, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	rev, err := r.svc.store.CompareAndSet(ctx, data.MUCRoomKey(r.addr), val, r.rev)
	if err != nil {
		return fmt.Errorf("muc: storing room %s: %w", r.addr, err)
	}
	r.rev = rev
	return r.savePublicIndex(ctx)
}

// savePublicIndex keeps muc/public/<room> in step with the configuration.
func (r *room) savePublicIndex(ctx context.Context) error {
	key := data.MUCPublicKey(r.addr)
	if r.cfg.Persistent && r.cfg.Public && r.exists && !r.locked {
		_, err := r.svc.store.Put(ctx, key, []byte(r.cfg.Name))
		return err
	}
	return r.svc.store.Delete(ctx, key)
}

// persistAll writes everything of a room that just became persistent (or
// was just configured as such): document and affiliations.
func (r *room) persistAll(ctx context.Context) error {
	if err := r.saveRoom(ctx); err != nil {
		return err
	}
	for bare, e := range r.affs {
		if err := r.storeAffiliation(bare, e); err != nil {
			return err
		}
	}
	return nil
}

// unpersist removes the stored room when it turns temporary; its state
// lives on in the actor until the last occupant leaves.
func (r *room) unpersist(ctx context.Context) error {
	if err := r.svc.store.DeletePrefix(ctx, data.MUCAffiliationPrefix(r.addr)); err != nil {
		return err
	}
	if err := r.svc.store.Delete(ctx, data.MUCPublicKey(r.addr)); err != nil {
		return err
	}
	r.rev = 0
	return r.svc.store.Delete(ctx, data.MUCRoomKey(r.addr))
}

func (r *room) storeAffiliation(bare string, e affEntry) error {
	ctx := r.svc.baseCtx
	key := data.MUCAffiliationKey(r.addr, bare)
	if e.Affiliation == AffNone && e.Nick == "" {
		return r.svc.store.Delete(ctx, key)
	}
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = r.svc.store.Put(ctx, key, val)
	return err
}

// erase removes every trace of the room (destroyed, or temporary and
// empty) and resets the actor's state to "no such room".
func (r *room) erase(ctx context.Context) {
	errs := []error{
		r.svc.store.DeletePrefix(ctx, data.MUCAffiliationPrefix(r.addr)),
		r.svc.store.Delete(ctx, data.MUCPublicKey(r.addr)),
		r.svc.store.DeleteStream(ctx, data.MUCHistoryStream(r.addr)),
		r.svc.store.Delete(ctx, data.MUCRoomKey(r.addr)),
	}
	if r.creator != "" {
		errs = append(errs, r.svc.store.Delete(ctx, data.MUCCreatorKey(r.creator, r.addr)))
	}
	if err := errors.Join(errs...); err != nil {
		r.log.Error("erasing room failed", "err", err)
	}
	r.exists, r.locked, r.rev = false, false, 0
	r.cfg, r.subject, r.secret = RoomConfig{}, subjectState{}, nil
	r.affs = map[string]affEntry{}
	r.creator, r.histLast = "", 0
}
