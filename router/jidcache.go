package router

// A memo of parsed JIDs. Parsing applies PRECIS and IDNA (RFC 7622), about
// 0.3 µs per address, and a stanza's 'to' is parsed by the router and again
// by its handler: for a groupchat message fanned out to 1,000 occupants
// that was 60% of the per-recipient cost. The same few thousand addresses
// come back all the time, and parsing is a pure function of the string, so
// a bounded memo is exact. Only successful parses are kept, so garbage
// input cannot fill it with errors; a full shard is simply emptied.

import (
	"hash/maphash"
	"sync"

	"mellium.im/xmpp/jid"
)

const (
	jidCacheShards   = 32
	jidCachePerShard = 4096 // ~130k addresses in all
	// maxCachedJID keeps pathological (long) addresses out of the memo.
	maxCachedJID = 256
)

type jidCache struct {
	seed   maphash.Seed
	shards [jidCacheShards]jidShard
}

type jidShard struct {
	mu sync.RWMutex
	m  map[string]jid.JID
}

func newJIDCache() *jidCache {
	c := &jidCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]jid.JID)
	}
	return c
}

func (c *jidCache) parse(s string) (jid.JID, error) {
	if len(s) > maxCachedJID {
		return jid.Parse(s)
	}
	sh := &c.shards[maphash.String(c.seed, s)%jidCacheShards]
	sh.mu.RLock()
	j, ok := sh.m[s]
	sh.mu.RUnlock()
	if ok {
		return j, nil
	}
	j, err := jid.Parse(s)
	if err != nil {
		return j, err
	}
	sh.mu.Lock()
	if len(sh.m) >= jidCachePerShard {
		clear(sh.m)
	}
	sh.m[s] = j
	sh.mu.Unlock()
	return j, nil
}

// ParseJID is jid.Parse, memoized: use it on the per-stanza path.
func (r *Router) ParseJID(s string) (jid.JID, error) { return r.jids.parse(s) }
