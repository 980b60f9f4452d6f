package caps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

func parse(t *testing.T, s string) *xmlstream.Element {
	t.Helper()
	el, err := xmlstream.ParseElement([]byte(s), "jabber:client", xmlstream.Limits{})
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return el
}

// XEP-0115 §5.2.
const simpleQuery = `<query xmlns='http://jabber.org/protocol/disco#info' node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='>
  <identity category='client' name='Exodus 0.9.1' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
</query>`

// XEP-0115 §5.3 (the features in another order, to exercise sorting).
const complexQuery = `<query xmlns='http://jabber.org/protocol/disco#info' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
  <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
  <identity xml:lang='el' category='client' name='&#936; 0.11' type='pc'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/muc'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <x xmlns='jabber:x:data' type='result'>
    <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var='ip_version' type='text-multi'><value>ipv6</value><value>ipv4</value></field>
    <field var='os'><value>Mac</value></field>
    <field var='software_version'><value>0.11</value></field>
    <field var='os_version'><value>10.5.1</value></field>
    <field var='software'><value>Psi</value></field>
  </x>
</query>`

func TestSimpleGenerationExample(t *testing.T) {
	info, err := ParseInfo(parse(t, simpleQuery))
	if err != nil {
		t.Fatal(err)
	}
	wantS := "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<" +
		"http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<"
	if s := VerificationString(info); s != wantS {
		t.Fatalf("S = %q\nwant %q", s, wantS)
	}
	if ver, err := Hash("sha-1", info); err != nil || ver != "QgayPKawpkPSDYmwT/WM94uAlu0=" {
		t.Fatalf("ver = %q, %v", ver, err)
	}
	if err := Verify(Caps{Hash: "sha-1", Node: "http://code.google.com/p/exodus", Ver: "QgayPKawpkPSDYmwT/WM94uAlu0="}, info); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestComplexGenerationExample(t *testing.T) {
	info, err := ParseInfo(parse(t, complexQuery))
	if err != nil {
		t.Fatal(err)
	}
	wantS := "client/pc/el/\u03a8 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<" +
		"http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<" +
		"ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<"
	if s := VerificationString(info); s != wantS {
		t.Fatalf("S = %q\nwant %q", s, wantS)
	}
	if ver, err := Hash("sha-1", info); err != nil || ver != "q07IKJEyjvHSyhy//CH0CxmKi8w=" {
		t.Fatalf("ver = %q, %v", ver, err)
	}
}

func TestOtherHashes(t *testing.T) {
	info, _ := ParseInfo(parse(t, simpleQuery))
	for _, algo := range []string{"sha-224", "sha-256", "sha-384", "sha-512"} {
		ver, err := Hash(algo, info)
		if err != nil || !plausible(algo, ver) {
			t.Fatalf("%s: %q %v", algo, ver, err)
		}
		if err := Verify(Caps{Hash: algo, Node: "n", Ver: ver}, info); err != nil {
			t.Fatalf("%s: %v", algo, err)
		}
	}
	if _, err := Hash("md5", info); !errors.Is(err, ErrUnsupportedHash) {
		t.Fatalf("md5: %v", err)
	}
	if err := Verify(Caps{Node: "n", Ver: "1.0"}, info); !errors.Is(err, ErrUnsupportedHash) {
		t.Fatalf("legacy: %v", err)
	}
	if err := Verify(Caps{Hash: "sha-1", Node: "n", Ver: "66/0NaeaBKkwk85efJTGmU47vXI="}, info); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong ver: %v", err)
	}
	if plausible("sha-1", "not base64!") || plausible("sha-1", "AAAA") || plausible("sha-256", "QgayPKawpkPSDYmwT/WM94uAlu0=") {
		t.Fatal("implausible vers accepted")
	}
}

func TestIllFormedAnswers(t *testing.T) {
	const q = "<query xmlns='http://jabber.org/protocol/disco#info'>%s</query>"
	form := func(inner string) string { return "<x xmlns='jabber:x:data' type='result'>" + inner + "</x>" }
	ft := func(v string) string { return "<field var='FORM_TYPE' type='hidden'><value>" + v + "</value></field>" }
	for name, body := range map[string]string{
		"duplicate identity":     "<identity category='client' type='pc' name='A'/><identity category='client' type='pc' name='A'/>",
		"duplicate feature":      "<feature var='urn:a'/><feature var='urn:a'/>",
		"duplicate form type":    form(ft("urn:f")) + form(ft("urn:f")),
		"form type two values":   form("<field var='FORM_TYPE' type='hidden'><value>urn:f</value><value>urn:g</value></field>"),
		"identity without type":  "<identity category='client'/>",
		"feature without var":    "<feature/>",
		"two form type fields":   form(ft("urn:f") + ft("urn:f")),
		"form type empty values": form("<field var='FORM_TYPE' type='hidden'/>"),
	} {
		if _, err := ParseInfo(parse(t, fmt.Sprintf(q, body))); !errors.Is(err, ErrIllFormed) {
			t.Errorf("%s: err = %v, want ErrIllFormed", name, err)
		}
	}
	// Same identity in two languages, same FORM_TYPE value repeated, and
	// forms to ignore (no FORM_TYPE, FORM_TYPE not hidden) are fine.
	ok := "<identity category='client' type='pc' xml:lang='en' name='A'/><identity category='client' type='pc' xml:lang='de' name='A'/>" +
		form("<field var='FORM_TYPE' type='hidden'><value>urn:f</value><value>urn:f</value></field><field var='a'><value>1</value></field>") +
		form("<field var='b'><value>2</value></field>") +
		form("<field var='FORM_TYPE'><value>urn:f</value></field>")
	info, err := ParseInfo(parse(t, fmt.Sprintf(q, ok)))
	if err != nil || len(info.Identities) != 2 || len(info.Forms) != 1 {
		t.Fatalf("info = %+v, %v", info, err)
	}
	if s := VerificationString(info); s != "client/pc/de/A<client/pc/en/A<urn:f<a<1<" {
		t.Fatalf("S = %q", s)
	}
	if _, err := ParseInfo(parse(t, "<query xmlns='urn:other'/>")); !errors.Is(err, ErrIllFormed) {
		t.Fatalf("wrong element: %v", err)
	}
	var many strings.Builder
	for i := 0; i <= MaxFeatures; i++ {
		fmt.Fprintf(&many, "<feature var='urn:f%d'/>", i)
	}
	if _, err := ParseInfo(parse(t, fmt.Sprintf(q, many.String()))); !errors.Is(err, ErrIllFormed) {
		t.Fatalf("too many features: %v", err)
	}
}

func TestParseCaps(t *testing.T) {
	p := parse(t, "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://x' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>")
	c, ok := FromPresence(p)
	if !ok || c.Hash != "sha-1" || c.Legacy() || c.DiscoNode() != "http://x#QgayPKawpkPSDYmwT/WM94uAlu0=" {
		t.Fatalf("caps = %+v %v", c, ok)
	}
	if c, ok := Parse(parse(t, "<c xmlns='http://jabber.org/protocol/caps' node='http://x' ver='1.0'/>")); !ok || !c.Legacy() {
		t.Fatalf("legacy = %+v %v", c, ok)
	}
	for _, bad := range []string{
		"<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' ver='x'/>",
		"<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n'/>",
		"<c xmlns='urn:other' hash='sha-1' node='n' ver='v'/>",
		"<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='" + strings.Repeat("a", MaxVerBytes+1) + "'/>",
	} {
		if _, ok := Parse(parse(t, bad)); ok {
			t.Errorf("accepted %s", bad)
		}
	}
	if _, ok := FromPresence(parse(t, "<presence/>")); ok {
		t.Error("caps in a presence without <c/>")
	}
}

// memKV is the part of data.KV the cache uses, in memory.
type memKV struct {
	data.KV
	mu sync.Mutex
	m  map[string][]byte
}

func (k *memKV) Get(_ context.Context, key []byte) ([]byte, uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[string(key)]
	if !ok {
		return nil, 0, data.ErrNotFound
	}
	return v, 1, nil
}

func (k *memKV) CompareAndSet(_ context.Context, key, val []byte, rev uint64) (uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[string(key)]; ok != (rev != 0) {
		return 0, data.ErrRevision
	}
	k.m[string(key)] = append([]byte(nil), val...)
	return 1, nil
}

func (k *memKV) Scan(_ context.Context, prefix, _ []byte, _ int, fn func(key, val []byte, rev uint64) bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, v := range k.m {
		if strings.HasPrefix(key, string(prefix)) && !fn([]byte(key), v, 1) {
			break
		}
	}
	return nil
}

func sha1Ver(t *testing.T, features ...string) (string, Features) {
	t.Helper()
	ver, err := Hash("sha-1", Info{Identities: []Identity{{Category: "client", Type: "pc"}}, Features: features})
	if err != nil {
		t.Fatal(err)
	}
	return ver, NewFeatures(features)
}

func TestCacheBoundsAndPersistence(t *testing.T) {
	ctx := context.Background()
	kv := &memKV{m: map[string][]byte{}}
	c, err := OpenCache(ctx, CacheOptions{Store: kv, MaxEntries: 2, MaxStored: 3})
	if err != nil {
		t.Fatal(err)
	}
	vers := make([]string, 5)
	for i := range vers {
		var f Features
		vers[i], f = sha1Ver(t, fmt.Sprintf("urn:f%d", i))
		c.Put(ctx, "sha-1", vers[i], f)
	}
	if c.Len() != 2 || c.Stored() != 3 || len(kv.m) != 3 {
		t.Fatalf("len %d stored %d kv %d, want 2 3 3", c.Len(), c.Stored(), len(kv.m))
	}
	// vers[0] left memory but is in the Store; vers[4] is in memory only.
	if f, ok := c.Get(ctx, "sha-1", vers[0]); !ok || !f.Has("urn:f0") {
		t.Fatalf("stored entry: %v %v", f, ok)
	}
	if c.Len() != 2 {
		t.Fatalf("memory grew past its bound: %d", c.Len())
	}
	// A restart finds the stored ones and keeps counting them.
	c2, err := OpenCache(ctx, CacheOptions{Store: kv, MaxEntries: 2, MaxStored: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Stored() != 3 {
		t.Fatalf("stored after reopen = %d", c2.Stored())
	}
	if f, ok := c2.Get(ctx, "sha-1", vers[2]); !ok || !f.Has("urn:f2") {
		t.Fatalf("after reopen: %v %v", f, ok)
	}
	if _, ok := c2.Get(ctx, "sha-1", vers[4]); ok {
		t.Fatal("an entry past MaxStored was persisted")
	}
	if _, ok := c2.Get(ctx, "sha-1", "not a hash"); ok {
		t.Fatal("implausible ver found")
	}
}

// fakeQuerier answers disco#info queries from a table, asynchronously.
type fakeQuerier struct {
	mu      sync.Mutex
	answers map[string]string // entity -> <query/> XML ("" = error reply)
	asked   []string
	gate    chan struct{} // answers wait for it to close (nil: no wait)
}

func (q *fakeQuerier) query(t *testing.T) Querier {
	return func(_ context.Context, from, to jid.JID, node string, done func(*xmlstream.Element, error)) error {
		q.mu.Lock()
		q.asked = append(q.asked, to.String()+" "+node)
		ans := q.answers[to.String()]
		gate := q.gate
		q.mu.Unlock()
		go func() {
			if gate != nil {
				<-gate
			}
			if ans == "" {
				done(nil, errors.New("service-unavailable"))
				return
			}
			done(parse(t, ans), nil)
		}()
		return nil
	}
}

func (q *fakeQuerier) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.asked)
}

func awaitFeatures(t *testing.T, ch <-chan Features) Features {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("resolver never answered")
		return nil
	}
}

func TestResolverVerifiesSharesAndRetries(t *testing.T) {
	ctx := context.Background()
	cache, _ := OpenCache(ctx, CacheOptions{})
	const ver = "QgayPKawpkPSDYmwT/WM94uAlu0="
	liar := "<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc'/><feature var='urn:evil+notify'/></query>"
	fq := &fakeQuerier{answers: map[string]string{"a@x/liar": liar, "b@x/honest": simpleQuery}}
	r := NewResolver(ResolverOptions{Cache: cache, Query: fq.query(t)})
	c := Caps{Hash: "sha-1", Node: "http://code.google.com/p/exodus", Ver: ver}
	owner := jid.MustParse("owner@x")

	// The liar is asked first; the honest entity waits on the same ver,
	// then is asked in turn when the liar's answer does not verify.
	liarCh, honestCh := make(chan Features, 1), make(chan Features, 1)
	block := make(chan struct{})
	fq.gate = block // hold the answers until both are waiting
	_, ok1 := r.Resolve(ctx, owner, jid.MustParse("a@x/liar"), c, func(f Features) { liarCh <- f })
	_, ok2 := r.Resolve(ctx, owner, jid.MustParse("b@x/honest"), c, func(f Features) { honestCh <- f })
	close(block)
	if ok1 || ok2 {
		t.Fatal("resolved without asking")
	}
	if f := awaitFeatures(t, liarCh); f != nil {
		t.Fatalf("a mismatching answer was trusted: %v", f)
	}
	if f := awaitFeatures(t, honestCh); !f.Has("http://jabber.org/protocol/muc") {
		t.Fatalf("honest features: %v", f)
	}
	// Now cached: a third entity is not asked.
	if f, ok := r.Resolve(ctx, owner, jid.MustParse("c@x/r"), c, nil); !ok || !f.Has("http://jabber.org/protocol/muc") {
		t.Fatalf("cache miss after verification: %v %v", f, ok)
	}
	if n := fq.count(); n != 2 {
		t.Fatalf("asked %d times, want 2", n)
	}
	if _, ok := cache.Get(ctx, "sha-1", ver); !ok {
		t.Fatal("verified ver not cached")
	}
}

func TestResolverPerEntityForUnverifiable(t *testing.T) {
	ctx := context.Background()
	cache, _ := OpenCache(ctx, CacheOptions{})
	answer := "<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc'/><feature var='urn:tune+notify'/></query>"
	fq := &fakeQuerier{answers: map[string]string{"a@x/r": answer, "b@x/r": answer}}
	r := NewResolver(ResolverOptions{Cache: cache, Query: fq.query(t)})
	owner := jid.MustParse("owner@x")
	for _, c := range []Caps{{Node: "http://old", Ver: "1.0"}, {Hash: "md5", Node: "http://x", Ver: "abc"}} {
		for _, e := range []string{"a@x/r", "b@x/r"} {
			ch := make(chan Features, 1)
			if _, ok := r.Resolve(ctx, owner, jid.MustParse(e), c, func(f Features) { ch <- f }); ok {
				t.Fatalf("%+v resolved without asking %s", c, e)
			}
			if f := awaitFeatures(t, ch); !f.Has("urn:tune+notify") {
				t.Fatalf("%+v for %s: %v", c, e, f)
			}
		}
		if _, ok := cache.Get(ctx, c.Hash, c.Ver); ok {
			t.Fatalf("%+v cached globally", c)
		}
	}
	if n := fq.count(); n != 4 {
		t.Fatalf("asked %d times, want 4 (every entity, every time)", n)
	}
	// An implausible sha-1 ver is refused without asking.
	if f, ok := r.Resolve(ctx, owner, jid.MustParse("a@x/r"), Caps{Hash: "sha-1", Node: "n", Ver: "xyz"}, nil); !ok || f != nil {
		t.Fatalf("implausible ver: %v %v", f, ok)
	}
	// A failed query gives no features.
	ch := make(chan Features, 1)
	r.Resolve(ctx, owner, jid.MustParse("gone@x/r"), Caps{Hash: "sha-1", Node: "n", Ver: "66/0NaeaBKkwk85efJTGmU47vXI="}, func(f Features) { ch <- f })
	if f := awaitFeatures(t, ch); f != nil {
		t.Fatalf("failed query: %v", f)
	}
}

func TestResolverBounds(t *testing.T) {
	ctx := context.Background()
	cache, _ := OpenCache(ctx, CacheOptions{})
	never := func(context.Context, jid.JID, jid.JID, string, func(*xmlstream.Element, error)) error { return nil }
	r := NewResolver(ResolverOptions{Cache: cache, Query: never, MaxPending: 1, MaxWaiters: 1})
	owner := jid.MustParse("owner@x")
	v1, _ := sha1Ver(t, "urn:1")
	v2, _ := sha1Ver(t, "urn:2")
	if _, ok := r.Resolve(ctx, owner, jid.MustParse("a@x/r"), Caps{Hash: "sha-1", Node: "n", Ver: v1}, func(Features) {}); ok {
		t.Fatal("first query not pending")
	}
	if f, ok := r.Resolve(ctx, owner, jid.MustParse("b@x/r"), Caps{Hash: "sha-1", Node: "n", Ver: v1}, func(Features) {}); !ok || f != nil {
		t.Fatal("waiters beyond MaxWaiters were queued")
	}
	if f, ok := r.Resolve(ctx, owner, jid.MustParse("c@x/r"), Caps{Hash: "sha-1", Node: "n", Ver: v2}, func(Features) {}); !ok || f != nil {
		t.Fatal("queries beyond MaxPending were queued")
	}
}
