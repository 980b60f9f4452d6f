package router

import (
	"fmt"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

func TestJIDCacheMatchesParse(t *testing.T) {
	c := newJIDCache()
	inputs := []string{
		"Alice@Example.ORG/Phone", "alice@example.org", "example.org", "ÉLODIE@exämple.org/ß",
		"room@conference.example.org/Nick With Space", "bad@@example.org", "", "a@b/" + strings.Repeat("r", 300),
	}
	for round := 0; round < 2; round++ { // the second round is served from the memo
		for _, s := range inputs {
			want, werr := jid.Parse(s)
			got, gerr := c.parse(s)
			if (werr == nil) != (gerr == nil) || (werr == nil && !got.Equal(want)) || got.String() != want.String() {
				t.Fatalf("round %d %q: got %v/%v, want %v/%v", round, s, got, gerr, want, werr)
			}
		}
	}
}

func TestJIDCacheBounded(t *testing.T) {
	c := newJIDCache()
	for i := 0; i < 4*jidCacheShards*jidCachePerShard; i++ {
		if _, err := c.parse(fmt.Sprintf("u%d@example.org/r", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range c.shards {
		if n := len(c.shards[i].m); n > jidCachePerShard {
			t.Fatalf("shard %d holds %d addresses, limit %d", i, n, jidCachePerShard)
		}
	}
}
