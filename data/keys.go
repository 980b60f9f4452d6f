package data

// Key layout: the one place that says what every key in the database means.
//
// The database has two levels of naming. Packages see LOGICAL names: KV keys
// and log stream names, listed in the first two tables and built with the
// helpers below. The Badger implementation stores them under PHYSICAL keys
// that start with a one-letter namespace (third table), so KV keys, log
// entries and log metadata can never collide or show up in each other's
// scans, whatever bytes a logical name holds.
//
// Logical KV keys (KV interface; every value is stored with its revision):
//
//	key                     owner    value
//	----------------------  -------  ---------------------------------------------
//	acct/<bare JID>         auth     account credentials (SCRAM salts, keys, flags)
//	roster/<bare JID>       im       the user's roster document
//	                                 (pending subscriptions and pre-approvals
//	                                 live inside it, written together)
//	block/<bare JID>        im       blocklist (XEP-0191)
//	vcard/<bare JID>        im       vcard-temp (XEP-0054)
//	private/<bare JID>/<ns> im       private XML storage (XEP-0049), per namespace
//	last/<bare JID>         im       last logout time and status (XEP-0012)
//	mamprefs/<bare JID>     im       MAM preferences (XEP-0313)
//	cert/<name>             server   TLS material (certificates, keys) by name
//	meta/schema             data     storage schema version, decimal ASCII
//	                                 (written by data itself, see SchemaVersion)
//	meta/admin-created      server   marker: the first-start admin was created
//	meta/demo-created       server   marker: the --dev demo users were created
//	muc/room/<room JID>     muc      a room: configuration, subject, occupant-id
//	                                 secret (persistent rooms only)
//	muc/aff/<room JID>/<bare JID>
//	                        muc      one affiliation of a room (and its reserved nick)
//	muc/public/<room JID>   muc      index: the room is persistent and public
//	                                 (disco#items of the service pages over it)
//	muc/creator/<bare JID>/<room JID>
//	                        muc      index: rooms a user created (max rooms per user)
//	pubsub/node/<host>/<node>
//	                        pubsub   a node: configuration, creator, creation time
//	pubsub/aff/<host>/<node> 0x00 <bare JID>
//	                        pubsub   one affiliation with a node
//	pubsub/sub/<host>/<node> 0x00 <JID> 0x00 <subid>
//	                        pubsub   one subscription (state and options)
//	pubsub/jidsub/<host>/<bare JID> 0x00 <node> 0x00 <JID> 0x00 <subid>
//	                        pubsub   index: a user's subscriptions on a host
//	                                 (checked against pubsub/sub/ when read)
//	pubsub/jidaff/<host>/<bare JID> 0x00 <node>
//	                        pubsub   index: a user's affiliations on a host
//	pubsub/item/<host>/<node> 0x00 <item id>
//	                        pubsub   index: a live item's sequence in the
//	                                 node's item log (8-byte big-endian)
//	pubsub/token/<SHA-256 of token, hex>
//	                        webui    an HTTP publish API token: who it acts as
//	caps/<hash>/<ver>       caps     a verified XEP-0115 verification string:
//	                                 the features it stands for (JSON)
//	--- reserved for packages that come later (add a row and a helper here) ---
//	auction/...             auction  lot configurations, state snapshots
//
// Bare JIDs are in their canonical string form (jid.Bare().String()). A bare
// JID contains no '/', so "roster/a@b" is never a prefix of another user's key
// except "roster/a@bc": scans over one user must match the whole key, not a
// prefix.
//
// Logical log streams (Logs interface):
//
//	stream                  owner    entries
//	----------------------  -------  ---------------------------------------------
//	offline/<bare JID>      im       offline message queue (one stanza per entry)
//	mam/<bare JID>          im       one-to-one message archive (XEP-0313)
//	muc/history/<room JID>  muc      room history: one groupchat message per entry
//	pubsub/items/<host>/<node>
//	                        pubsub   a node's items, one publish per entry
//	                                 (live iff pubsub/item/ points at it)
//	--- reserved for packages that come later ---
//	auction/...             auction  bid ledgers
//
// Physical Badger keys (only the Badger implementation uses these):
//
//	key                                   value
//	------------------------------------  ------------------------------------
//	k/<logical KV key>                    8-byte big-endian revision ‖ value
//	l/<stream> 0x00 <8-byte BE seq>       8-byte big-endian unix nanos ‖ data
//	s/<stream>                            8-byte BE first ‖ 8-byte BE last
//	x/rev                                 8-byte BE revision lease (see revs)
//
// Stream names may not contain 0x00: the 0x00 terminator is what keeps stream
// "a" from seeing the entries of "a/b" ("l/a\x00" is not a prefix of
// "l/a/b\x00"), and big-endian sequences make key order equal sequence order.
// Badger reserves keys starting with "!badger!"; ours never do.

import (
	"encoding/binary"
	"fmt"
)

// MaxKeyLen bounds logical KV keys and stream names. A bare JID is at most
// 3071 bytes (RFC 7622: 1023-byte localpart and domainpart), so every key
// above fits with room to spare; Badger's own limit is 65000.
const MaxKeyLen = 4096

// SchemaVersion is the storage layout version recorded under SchemaKey.
// Bump it (and write a migration) when the layout above changes.
const SchemaVersion = 1

// Logical key helpers. They take canonical bare JIDs as strings so this
// package does not depend on any JID library.

// AccountKey is the KV key of an account's credentials.
func AccountKey(bareJID string) []byte { return []byte("acct/" + bareJID) }

// AccountPrefix is the KV prefix of all accounts (scan to list users).
func AccountPrefix() []byte { return []byte("acct/") }

// RosterKey is the KV key of a user's roster document.
func RosterKey(bareJID string) []byte { return []byte("roster/" + bareJID) }

// BlocklistKey is the KV key of a user's blocklist.
func BlocklistKey(bareJID string) []byte { return []byte("block/" + bareJID) }

// VCardKey is the KV key of a user's vcard-temp.
func VCardKey(bareJID string) []byte { return []byte("vcard/" + bareJID) }

// PrivateKey is the KV key of one namespace of a user's private XML storage.
func PrivateKey(bareJID, namespace string) []byte {
	return []byte("private/" + bareJID + "/" + namespace)
}

// PrivatePrefix is the prefix of all of a user's private XML (the trailing
// '/' keeps "a@b" from matching "a@bc").
func PrivatePrefix(bareJID string) []byte { return []byte("private/" + bareJID + "/") }

// LastActivityKey is the KV key of a user's last logout time and status.
func LastActivityKey(bareJID string) []byte { return []byte("last/" + bareJID) }

// MAMPrefsKey is the KV key of a user's archiving preferences.
func MAMPrefsKey(bareJID string) []byte { return []byte("mamprefs/" + bareJID) }

// MAMStream is the log stream of a user's one-to-one message archive.
func MAMStream(bareJID string) string { return "mam/" + bareJID }

// AdminCreatedKey marks that the first-start admin account exists.
func AdminCreatedKey() []byte { return []byte("meta/admin-created") }

// DemoCreatedKey marks that the --dev demo accounts exist.
func DemoCreatedKey() []byte { return []byte("meta/demo-created") }

// CertKey is the KV key of the TLS material stored under name.
func CertKey(name string) []byte { return []byte("cert/" + name) }

// SchemaKey is the KV key holding SchemaVersion.
func SchemaKey() []byte { return []byte("meta/schema") }

// OfflineStream is the log stream of a user's offline message queue.
func OfflineStream(bareJID string) string { return "offline/" + bareJID }

// MUCRoomKey is the KV key of a persistent room's document.
func MUCRoomKey(roomJID string) []byte { return []byte("muc/room/" + roomJID) }

// MUCAffiliationKey is the KV key of one affiliation of a room.
func MUCAffiliationKey(roomJID, bareJID string) []byte {
	return []byte("muc/aff/" + roomJID + "/" + bareJID)
}

// MUCAffiliationPrefix is the prefix of all affiliations of a room (a room
// JID has no '/', so the trailing '/' keeps "a@muc" from matching "a@mucx").
func MUCAffiliationPrefix(roomJID string) []byte { return []byte("muc/aff/" + roomJID + "/") }

// MUCPublicKey is the index entry of a persistent public room.
func MUCPublicKey(roomJID string) []byte { return []byte("muc/public/" + roomJID) }

// MUCPublicPrefix is the prefix of the public room index.
func MUCPublicPrefix() []byte { return []byte("muc/public/") }

// MUCCreatorKey is the index entry of a room created by a user.
func MUCCreatorKey(bareJID, roomJID string) []byte {
	return []byte("muc/creator/" + bareJID + "/" + roomJID)
}

// MUCCreatorPrefix is the prefix of the rooms a user created.
func MUCCreatorPrefix(bareJID string) []byte { return []byte("muc/creator/" + bareJID + "/") }

// MUCHistoryStream is the log stream of a room's groupchat history.
func MUCHistoryStream(roomJID string) string { return "muc/history/" + roomJID }

// A pubsub host is the service's domain or, for PEP, an account's bare JID:
// neither contains '/', so "<host>/" prefixes never overlap. Node ids may
// contain anything but NUL (XML cannot carry it), so 0x00 ends a node id
// inside a key.

// PubSubNodeKey is the KV key of a node's document.
func PubSubNodeKey(host, node string) []byte { return []byte("pubsub/node/" + host + "/" + node) }

// PubSubNodePrefix is the prefix of every node document of host.
func PubSubNodePrefix(host string) []byte { return []byte("pubsub/node/" + host + "/") }

// PubSubAffKey is the KV key of bare's affiliation with a node.
func PubSubAffKey(host, node, bare string) []byte {
	return []byte("pubsub/aff/" + host + "/" + node + "\x00" + bare)
}

// PubSubAffPrefix is the prefix of a node's affiliations.
func PubSubAffPrefix(host, node string) []byte {
	return []byte("pubsub/aff/" + host + "/" + node + "\x00")
}

// PubSubSubKey is the KV key of one subscription of addr (a bare or full JID).
func PubSubSubKey(host, node, addr, subid string) []byte {
	return []byte("pubsub/sub/" + host + "/" + node + "\x00" + addr + "\x00" + subid)
}

// PubSubSubPrefix is the prefix of a node's subscriptions.
func PubSubSubPrefix(host, node string) []byte {
	return []byte("pubsub/sub/" + host + "/" + node + "\x00")
}

// PubSubJIDSubKey is the index entry of one of bare's subscriptions on host.
func PubSubJIDSubKey(host, bare, node, addr, subid string) []byte {
	return []byte("pubsub/jidsub/" + host + "/" + bare + "\x00" + node + "\x00" + addr + "\x00" + subid)
}

// PubSubJIDSubPrefix is the prefix of bare's subscription index on host.
func PubSubJIDSubPrefix(host, bare string) []byte {
	return []byte("pubsub/jidsub/" + host + "/" + bare + "\x00")
}

// PubSubJIDAffKey is the index entry of bare's affiliation with a node of host.
func PubSubJIDAffKey(host, bare, node string) []byte {
	return []byte("pubsub/jidaff/" + host + "/" + bare + "\x00" + node)
}

// PubSubJIDAffPrefix is the prefix of bare's affiliation index on host.
func PubSubJIDAffPrefix(host, bare string) []byte {
	return []byte("pubsub/jidaff/" + host + "/" + bare + "\x00")
}

// PubSubItemKey is the index entry of a live item.
func PubSubItemKey(host, node, id string) []byte {
	return []byte("pubsub/item/" + host + "/" + node + "\x00" + id)
}

// PubSubItemPrefix is the prefix of a node's live item index.
func PubSubItemPrefix(host, node string) []byte {
	return []byte("pubsub/item/" + host + "/" + node + "\x00")
}

// PubSubItemsStream is the log stream of a node's items.
func PubSubItemsStream(host, node string) string { return "pubsub/items/" + host + "/" + node }

// PubSubTokenKey is the KV key of an HTTP API token, by the hex SHA-256 of
// the token (the token itself is never stored).
func PubSubTokenKey(tokenHash string) []byte { return []byte("pubsub/token/" + tokenHash) }

// PubSubTokenPrefix is the prefix of every HTTP API token.
func PubSubTokenPrefix() []byte { return []byte("pubsub/token/") }

// CapsKey is the KV key of a verified XEP-0115 ver computed with hash (an
// IANA hash name such as "sha-1"; a ver is base64, so it contains no NUL).
func CapsKey(hash, ver string) []byte { return []byte("caps/" + hash + "/" + ver) }

// CapsPrefix is the prefix of every verified caps entry.
func CapsPrefix() []byte { return []byte("caps/") }

// Physical namespaces.
const (
	nsKV        = 'k'
	nsLogEntry  = 'l'
	nsLogMeta   = 's'
	nsInternal  = 'x'
	nsSeparator = '/'
)

// revLeaseKey holds the upper bound of revisions handed out so far.
var revLeaseKey = []byte{nsInternal, nsSeparator, 'r', 'e', 'v'}

func checkKey(key []byte) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length %d not in 1..%d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	return nil
}

func checkStream(stream string) error {
	if len(stream) == 0 || len(stream) > MaxKeyLen {
		return fmt.Errorf("%w: stream name length %d not in 1..%d", ErrInvalidKey, len(stream), MaxKeyLen)
	}
	for i := 0; i < len(stream); i++ {
		if stream[i] == 0 {
			return fmt.Errorf("%w: stream name contains NUL", ErrInvalidKey)
		}
	}
	return nil
}

func withNamespace(ns byte, name []byte) []byte {
	k := make([]byte, 0, 2+len(name))
	k = append(k, ns, nsSeparator)
	return append(k, name...)
}

// kvKey is the physical key of a logical KV key (or the prefix of a logical prefix).
func kvKey(key []byte) []byte { return withNamespace(nsKV, key) }

// kvUnkey strips the namespace from a physical KV key.
func kvUnkey(pk []byte) []byte { return pk[2:] }

// logPrefix is the prefix shared by all entries of stream and nothing else.
func logPrefix(stream string) []byte {
	k := make([]byte, 0, 3+len(stream)+8)
	k = append(k, nsLogEntry, nsSeparator)
	k = append(k, stream...)
	return append(k, 0)
}

// logKey is the physical key of entry seq of stream.
func logKey(stream string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(logPrefix(stream), seq)
}

// logKeySeq decodes the sequence from a physical entry key.
func logKeySeq(pk []byte) uint64 { return binary.BigEndian.Uint64(pk[len(pk)-8:]) }

// logMetaKey is the physical key of stream's metadata.
func logMetaKey(stream string) []byte { return withNamespace(nsLogMeta, []byte(stream)) }

// revValue prefixes val with its revision.
func revValue(rev uint64, val []byte) []byte {
	v := make([]byte, 8, 8+len(val))
	binary.BigEndian.PutUint64(v, rev)
	return append(v, val...)
}

// splitRevValue is the inverse of revValue.
func splitRevValue(v []byte) (rev uint64, val []byte, err error) {
	if len(v) < 8 {
		return 0, nil, fmt.Errorf("data: corrupt KV value (%d bytes)", len(v))
	}
	return binary.BigEndian.Uint64(v), v[8:], nil
}

// streamMeta is the per-stream metadata. An empty stream has first == last+1.
type streamMeta struct{ first, last uint64 }

func (m streamMeta) encode() []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, m.first)
	binary.BigEndian.PutUint64(v[8:], m.last)
	return v
}

func decodeStreamMeta(v []byte) (streamMeta, error) {
	if len(v) != 16 {
		return streamMeta{}, fmt.Errorf("data: corrupt stream metadata (%d bytes)", len(v))
	}
	return streamMeta{first: binary.BigEndian.Uint64(v), last: binary.BigEndian.Uint64(v[8:])}, nil
}

// entryValue prefixes data with the append time.
func entryValue(unixNano int64, d []byte) []byte {
	v := make([]byte, 8, 8+len(d))
	binary.BigEndian.PutUint64(v, uint64(unixNano))
	return append(v, d...)
}

func decodeEntry(seq uint64, v []byte) (Entry, error) {
	if len(v) < 8 {
		return Entry{}, fmt.Errorf("data: corrupt log entry %d (%d bytes)", seq, len(v))
	}
	d := make([]byte, len(v)-8)
	copy(d, v[8:])
	return Entry{Seq: seq, Time: int64(binary.BigEndian.Uint64(v)), Data: d}, nil
}

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func beAppend(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
