package pubsub

// What a node keeps in the Store (key rows in data/keys.go):
//
//	pubsub/node/<host>/<node>                  nodeDoc as JSON, revision CAS
//	pubsub/aff/<host>/<node>\0<bare>           the affiliation's name
//	pubsub/sub/<host>/<node>\0<jid>\0<subid>   subDoc as JSON
//	pubsub/jidaff/<host>/<bare>\0<node>        index: empty value
//	pubsub/jidsub/<host>/<bare>\0<node>\0<jid>\0<subid>  index: empty value
//	pubsub/item/..., pubsub/items/...          the item log (items.go)
//
// There are no multi-key transactions, so the write order keeps every
// crash state harmless: an index entry is written before its record and
// deleted after it, so a record always has its index entry and a stale
// index entry (checked against the record when read) is the only leftover.
// Deleting a node removes items first (§8.4: "before the node itself"),
// then subscriptions and affiliations, then the document.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

const docVersion = 1

// nodeDoc is the stored form of a node.
type nodeDoc struct {
	Version int       `json:"v"`
	Config  Config    `json:"config"`
	Creator string    `json:"creator,omitempty"`
	Created time.Time `json:"created"`
}

// subDoc is the stored form of a subscription.
type subDoc struct {
	Version int        `json:"v"`
	JID     string     `json:"jid"`
	SubID   string     `json:"subid"`
	State   string     `json:"state"`
	Options SubOptions `json:"options"`
}

// load reads the node, its affiliations and subscriptions (items stay in
// their log).
func (n *nodeState) load() error {
	st := n.svc.store
	val, rev, err := st.Get(n.ctx, data.PubSubNodeKey(n.host, n.name))
	if errors.Is(err, data.ErrNotFound) {
		n.exists = false
		return nil
	}
	if err != nil {
		return err
	}
	var doc nodeDoc
	if err := json.Unmarshal(val, &doc); err != nil {
		return fmt.Errorf("pubsub: corrupt node document: %w", err)
	}
	n.exists, n.rev = true, rev
	n.cfg, n.creator, n.created = doc.Config, doc.Creator, doc.Created
	affPrefix := data.PubSubAffPrefix(n.host, n.name)
	err = st.Scan(n.ctx, affPrefix, nil, 0, func(key, val []byte, _ uint64) bool {
		if a, ok := ParseAffiliation(string(val)); ok && a != AffNone {
			n.affs[string(key[len(affPrefix):])] = a
		}
		return true
	})
	if err != nil {
		return err
	}
	subPrefix := data.PubSubSubPrefix(n.host, n.name)
	return st.Scan(n.ctx, subPrefix, nil, 0, func(_, val []byte, _ uint64) bool {
		if sub, ok := n.decodeSub(val); ok {
			bare := sub.JID.Bare().String()
			n.subs[bare] = append(n.subs[bare], sub)
		}
		return true
	})
}

func (n *nodeState) decodeSub(val []byte) (*Subscription, bool) {
	var d subDoc
	if json.Unmarshal(val, &d) != nil {
		return nil, false
	}
	j, err := jid.Parse(d.JID)
	state, ok := ParseSubState(d.State)
	if err != nil || !ok || state == SubNone || d.SubID == "" {
		return nil, false
	}
	return &Subscription{Host: n.host, Node: n.name, JID: j, SubID: d.SubID, State: state, Options: d.Options}, true
}

// saveDoc writes the node document (CAS on the revision this actor read
// or wrote; a mismatch means another writer, which the actor model rules
// out, so it is reported rather than retried).
func (n *nodeState) saveDoc() error {
	val, err := json.Marshal(nodeDoc{Version: docVersion, Config: n.cfg, Creator: n.creator, Created: n.created})
	if err != nil {
		return err
	}
	rev, err := n.svc.store.CompareAndSet(n.ctx, data.PubSubNodeKey(n.host, n.name), val, n.rev)
	if err != nil {
		n.log.Error("pubsub: storing node failed", "err", err)
		return err
	}
	n.rev = rev
	return nil
}

// setAffiliation stores bare's affiliation (AffNone removes it) and keeps
// the in-memory table in step.
func (n *nodeState) setAffiliation(bare string, a Affiliation) error {
	st := n.svc.store
	rec := data.PubSubAffKey(n.host, n.name, bare)
	idx := data.PubSubJIDAffKey(n.host, bare, n.name)
	if a == AffNone {
		if err := st.Delete(n.ctx, rec); err != nil {
			return err
		}
		delete(n.affs, bare)
		return st.Delete(n.ctx, idx)
	}
	if _, err := st.Put(n.ctx, idx, nil); err != nil {
		return err
	}
	if _, err := st.Put(n.ctx, rec, []byte(a.String())); err != nil {
		return err
	}
	n.affs[bare] = a
	return nil
}

// putSub stores a subscription (new or changed).
func (n *nodeState) putSub(sub *Subscription) error {
	st := n.svc.store
	addr, bare := sub.JID.String(), sub.JID.Bare().String()
	val, err := json.Marshal(subDoc{Version: docVersion, JID: addr, SubID: sub.SubID, State: sub.State.String(), Options: sub.Options})
	if err != nil {
		return err
	}
	if _, err := st.Put(n.ctx, data.PubSubJIDSubKey(n.host, bare, n.name, addr, sub.SubID), nil); err != nil {
		return err
	}
	_, err = st.Put(n.ctx, data.PubSubSubKey(n.host, n.name, addr, sub.SubID), val)
	return err
}

// deleteSub removes a stored subscription.
func (n *nodeState) deleteSub(sub *Subscription) error {
	st := n.svc.store
	addr, bare := sub.JID.String(), sub.JID.Bare().String()
	if err := st.Delete(n.ctx, data.PubSubSubKey(n.host, n.name, addr, sub.SubID)); err != nil {
		return err
	}
	return st.Delete(n.ctx, data.PubSubJIDSubKey(n.host, bare, n.name, addr, sub.SubID))
}

// eraseStored removes everything the node has in the Store. It scans
// rather than trusting memory, so leftovers of an interrupted deletion go
// too.
func (n *nodeState) eraseStored() error {
	st := n.svc.store
	l, err := n.itemLog()
	if err != nil {
		return err
	}
	if err := l.Purge(n.ctx); err != nil {
		return err
	}
	if err := st.DeleteStream(n.ctx, data.PubSubItemsStream(n.host, n.name)); err != nil {
		return err
	}
	n.items = nil
	subPrefix := data.PubSubSubPrefix(n.host, n.name)
	var subKeys [][]byte
	err = st.Scan(n.ctx, subPrefix, nil, 0, func(key, _ []byte, _ uint64) bool {
		subKeys = append(subKeys, bytes.Clone(key))
		return true
	})
	if err != nil {
		return err
	}
	for _, k := range subKeys {
		rest := string(k[len(subPrefix):])
		addr, subid, _ := strings.Cut(rest, "\x00")
		if err := st.Delete(n.ctx, k); err != nil {
			return err
		}
		if j, err := jid.Parse(addr); err == nil {
			if err := st.Delete(n.ctx, data.PubSubJIDSubKey(n.host, j.Bare().String(), n.name, addr, subid)); err != nil {
				return err
			}
		}
	}
	affPrefix := data.PubSubAffPrefix(n.host, n.name)
	var bares []string
	err = st.Scan(n.ctx, affPrefix, nil, 0, func(key, _ []byte, _ uint64) bool {
		bares = append(bares, string(key[len(affPrefix):]))
		return true
	})
	if err != nil {
		return err
	}
	for _, b := range bares {
		if err := st.Delete(n.ctx, data.PubSubAffKey(n.host, n.name, b)); err != nil {
			return err
		}
		if err := st.Delete(n.ctx, data.PubSubJIDAffKey(n.host, b, n.name)); err != nil {
			return err
		}
	}
	return st.Delete(n.ctx, data.PubSubNodeKey(n.host, n.name))
}

// Service-wide reads: KV scans of the node documents and the per-user
// indexes, each entry checked against its record.

// scanNodeIDs lists up to limit node ids of host after 'after'.
func (s *Service) scanNodeIDs(ctx context.Context, host, after string, limit int) ([]string, error) {
	prefix := data.PubSubNodePrefix(host)
	var from []byte
	if after != "" {
		from = data.PubSubNodeKey(host, after)
	}
	var out []string
	err := s.store.Scan(ctx, prefix, from, limit, func(key, _ []byte, _ uint64) bool {
		out = append(out, string(key[len(prefix):]))
		return true
	})
	return out, err
}

// countNodes counts host's nodes, stopping at stopAt (> 0).
func (s *Service) countNodes(ctx context.Context, host string, stopAt int) (int, error) {
	count := 0
	limit := maxListed * 10
	if stopAt > 0 {
		limit = stopAt
	}
	err := s.store.Scan(ctx, data.PubSubNodePrefix(host), nil, limit, func(_, _ []byte, _ uint64) bool {
		count++
		return true
	})
	return count, err
}

// storedNode is a node document read outside the node's actor.
type storedNode struct {
	id  string
	doc nodeDoc
}

// scanNodes reads up to limit node documents of host after 'after'.
func (s *Service) scanNodes(ctx context.Context, host, after string, limit int) ([]storedNode, error) {
	prefix := data.PubSubNodePrefix(host)
	var from []byte
	if after != "" {
		from = data.PubSubNodeKey(host, after)
	}
	var out []storedNode
	err := s.store.Scan(ctx, prefix, from, limit, func(key, val []byte, _ uint64) bool {
		sn := storedNode{id: string(key[len(prefix):])}
		if json.Unmarshal(val, &sn.doc) != nil {
			sn.doc.Config.AccessModel = AccessWhitelist // unreadable: show it to owners only
		}
		out = append(out, sn)
		return true
	})
	return out, err
}

// storedAffiliation reads bare's stored affiliation with a node.
func (s *Service) storedAffiliation(ctx context.Context, host, node, bare string) (Affiliation, error) {
	val, _, err := s.store.Get(ctx, data.PubSubAffKey(host, node, bare))
	if errors.Is(err, data.ErrNotFound) {
		return AffNone, nil
	}
	if err != nil {
		return AffNone, err
	}
	a, _ := ParseAffiliation(string(val))
	return a, nil
}

// storedOwners reads a node's owners (for the presence and roster models
// outside the actor).
func (s *Service) storedOwners(ctx context.Context, host, node string) []jid.JID {
	if s.opts.PEP {
		j, _ := jid.Parse(host)
		return []jid.JID{j}
	}
	prefix := data.PubSubAffPrefix(host, node)
	var out []jid.JID
	_ = s.store.Scan(ctx, prefix, nil, maxListed, func(key, val []byte, _ uint64) bool {
		if string(val) == AffOwner.String() {
			if j, err := jid.Parse(string(key[len(prefix):])); err == nil {
				out = append(out, j)
			}
		}
		return true
	})
	return out
}

// userSubscriptions lists bare's subscriptions on host (§5.6) from the
// jidsub index, each checked against its record.
func (s *Service) userSubscriptions(ctx context.Context, host, bare string) ([]Subscription, error) {
	type ref struct{ node, addr, subid string }
	prefix := data.PubSubJIDSubPrefix(host, bare)
	var refs []ref
	err := s.store.Scan(ctx, prefix, nil, maxListed, func(key, _ []byte, _ uint64) bool {
		parts := strings.SplitN(string(key[len(prefix):]), "\x00", 3)
		if len(parts) == 3 {
			refs = append(refs, ref{parts[0], parts[1], parts[2]})
		}
		return true
	})
	if err != nil {
		return nil, errInternal("reading subscriptions failed")
	}
	out := []Subscription{}
	for _, r := range refs {
		val, _, err := s.store.Get(ctx, data.PubSubSubKey(host, r.node, r.addr, r.subid))
		if errors.Is(err, data.ErrNotFound) {
			continue // stale index entry
		}
		if err != nil {
			return nil, errInternal("reading subscriptions failed")
		}
		tmp := nodeState{host: host, name: r.node}
		if sub, ok := tmp.decodeSub(val); ok {
			out = append(out, *sub)
		}
	}
	return out, nil
}

// userAffiliations lists bare's affiliations on host (§5.7): the PEP
// account owns all its nodes; otherwise the jidaff index, checked against
// the records.
func (s *Service) userAffiliations(ctx context.Context, host string, bare jid.JID) ([]Affiliate, error) {
	b := bare.String()
	out := []Affiliate{}
	if s.opts.PEP && b == host {
		ids, err := s.scanNodeIDs(ctx, host, "", maxListed)
		if err != nil {
			return nil, errInternal("reading nodes failed")
		}
		for _, id := range ids {
			out = append(out, Affiliate{Host: host, Node: id, JID: bare, Affiliation: AffOwner})
		}
		return out, nil
	}
	prefix := data.PubSubJIDAffPrefix(host, b)
	var nodes []string
	err := s.store.Scan(ctx, prefix, nil, maxListed, func(key, _ []byte, _ uint64) bool {
		nodes = append(nodes, string(key[len(prefix):]))
		return true
	})
	if err != nil {
		return nil, errInternal("reading affiliations failed")
	}
	for _, node := range nodes {
		a, err := s.storedAffiliation(ctx, host, node, b)
		if err != nil {
			return nil, errInternal("reading affiliations failed")
		}
		if a != AffNone {
			out = append(out, Affiliate{Host: host, Node: node, JID: bare, Affiliation: a})
		}
	}
	return out, nil
}

// listNodes pages over host's node documents, keeping those actor may see.
func (s *Service) listNodes(ctx context.Context, host string, actor jid.JID, after string, max int) ([]string, error) {
	if max <= 0 || max > maxListed {
		max = maxListed
	}
	bare := actor.Bare().String()
	all := s.admins[bare] || (s.opts.PEP && bare == host)
	out := []string{}
	for len(out) < max {
		batch, err := s.scanNodes(ctx, host, after, 256)
		if err != nil {
			return nil, errInternal("reading nodes failed")
		}
		for _, sn := range batch {
			if all || s.visibleStored(ctx, host, sn, actor) {
				out = append(out, sn.id)
				if len(out) == max {
					break
				}
			}
		}
		if len(batch) < 256 {
			break
		}
		after = batch[len(batch)-1].id
	}
	return out, nil
}

// visibleStored applies visibility (access.go) to a stored node.
func (s *Service) visibleStored(ctx context.Context, host string, sn storedNode, actor jid.JID) bool {
	bare := actor.Bare().String()
	aff, err := s.storedAffiliation(ctx, host, sn.id, bare)
	if err != nil {
		return false
	}
	q := accessQuery{cfg: &sn.doc.Config, aff: aff, bare: actor.Bare(),
		owners: func() []jid.JID { return s.storedOwners(ctx, host, sn.id) }}
	return s.checkAccess(ctx, q, purposeSee) == nil
}
