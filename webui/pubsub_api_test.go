package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/pubsub"
)

const testHost = "pubsub.example.org"

// fakePubSub is a pubsub core for the HTTP-level tests: nodes hold items
// newest first; only the listed bare JIDs may publish to a node.
type fakePubSub struct {
	mu         sync.Mutex
	items      map[string][]pubsub.Item
	publishers map[string][]string // node -> bare JIDs
	maxPayload int
	next       int
	hosts      []string // host of every call
	err        error    // returned by every call when set
}

func newFake() *fakePubSub {
	return &fakePubSub{items: map[string][]pubsub.Item{}, publishers: map[string][]string{}, maxPayload: 1000}
}

func (f *fakePubSub) addNode(node string, publishers ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[node] = nil
	f.publishers[node] = publishers
}

func (f *fakePubSub) Publish(_ context.Context, host string, actor jid.JID, node string, items []pubsub.Item, _ *pubsub.PublishOptions) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hosts = append(f.hosts, host)
	if f.err != nil {
		return nil, f.err
	}
	if _, ok := f.items[node]; !ok {
		return nil, &pubsub.Error{Cond: "item-not-found", Type: "cancel"}
	}
	if !slices.Contains(f.publishers[node], actor.Bare().String()) {
		return nil, &pubsub.Error{Cond: "forbidden", Type: "auth"}
	}
	var ids []string
	for _, it := range items {
		if len(it.Payload) > f.maxPayload {
			return nil, &pubsub.Error{Cond: "not-acceptable", Type: "modify", App: "payload-too-big"}
		}
		if it.ID == "" {
			f.next++
			it.ID = fmt.Sprintf("gen%d", f.next)
		}
		it.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		f.items[node] = append([]pubsub.Item{it}, f.items[node]...)
		ids = append(ids, it.ID)
	}
	return ids, nil
}

func (f *fakePubSub) Items(_ context.Context, host string, _ jid.JID, node string, q pubsub.ItemQuery) (pubsub.ItemPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hosts = append(f.hosts, host)
	if f.err != nil {
		return pubsub.ItemPage{}, f.err
	}
	all, ok := f.items[node]
	if !ok {
		return pubsub.ItemPage{}, &pubsub.Error{Cond: "item-not-found", Type: "cancel"}
	}
	if q.IDs != nil {
		var out []pubsub.Item
		for _, it := range all {
			if slices.Contains(q.IDs, it.ID) {
				out = append(out, it)
			}
		}
		return pubsub.ItemPage{Items: out}, nil
	}
	start := 0
	if q.Page.After != "" {
		start = slices.IndexFunc(all, func(it pubsub.Item) bool { return it.ID == q.Page.After })
		if start < 0 {
			return pubsub.ItemPage{}, &pubsub.Error{Cond: "item-not-found", Type: "cancel"}
		}
		start++
	}
	end := min(start+q.Page.Max, len(all))
	p := pubsub.ItemPage{Items: all[start:end], FirstIndex: start, Count: len(all)}
	if end > start {
		p.First, p.Last = all[start].ID, all[end-1].ID
	}
	return p, nil
}

// apiFixture is an API over a fake core with one token for alice.
type apiFixture struct {
	t      *testing.T
	fake   *fakePubSub
	tokens *Tokens
	h      http.Handler
	alice  string // token acting as alice@example.org
	clock  *time.Time
}

func newAPIFixture(t *testing.T, o PubSubAPIOptions) *apiFixture {
	t.Helper()
	db, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &apiFixture{t: t, fake: newFake(), tokens: NewTokens(db)}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.clock = &now
	if f.alice, _, err = f.tokens.Create(context.Background(), "alice@example.org", "test"); err != nil {
		t.Fatal(err)
	}
	if o.Service == nil {
		o.Service = f.fake
	}
	o.Host, o.Tokens = testHost, f.tokens
	o.Now = func() time.Time { return *f.clock }
	f.h = New(Options{PubSubAPI: NewPubSubAPI(o)})
	return f
}

type apiReply struct {
	code int
	hdr  http.Header
	body map[string]any
	raw  string
}

func (f *apiFixture) do(method, path, token, ctype, body string) apiReply {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	rep := apiReply{code: w.Code, hdr: w.Header(), raw: w.Body.String()}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("%s %s: Content-Type %q (body %q)", method, path, ct, rep.raw)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &rep.body); err != nil {
		f.t.Errorf("%s %s: body is not JSON: %q", method, path, rep.raw)
	}
	return rep
}

func (r apiReply) str(k string) string { s, _ := r.body[k].(string); return s }

const nodePath = PubSubAPIPath + "/" + testHost + "/news"

func TestPubSubAPIAuth(t *testing.T) {
	f := newAPIFixture(t, PubSubAPIOptions{})
	f.fake.addNode("news", "alice@example.org")
	r := f.do("POST", nodePath, "", "application/xml", "<x xmlns='urn:t'/>")
	if r.code != 401 || r.hdr.Get("WWW-Authenticate") != `Bearer realm="gavel"` || r.str("condition") != "not-authorized" {
		t.Errorf("no token: %d %v %s", r.code, r.hdr, r.raw)
	}
	for _, bad := range []string{"gvl_nope", "garbage", strings.Repeat("x", 5000)} {
		r = f.do("GET", nodePath, bad, "", "")
		if r.code != 401 || !strings.Contains(r.hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("token %.10q: %d %v", bad, r.code, r.hdr)
		}
	}
	req := httptest.NewRequest("GET", nodePath, nil)
	req.Header.Set("Authorization", "Basic "+f.alice)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	if w.Code != 401 {
		t.Errorf("Basic scheme: %d", w.Code)
	}
	// Revoked tokens stop working at once.
	if _, err := f.tokens.Revoke(context.Background(), HashToken(f.alice)[:8]); err != nil {
		t.Fatal(err)
	}
	if r = f.do("GET", nodePath, f.alice, "", ""); r.code != 401 {
		t.Errorf("revoked token: %d", r.code)
	}
	if len(f.fake.hosts) != 0 {
		t.Errorf("the core was called for unauthenticated requests: %v", f.fake.hosts)
	}
}

func TestPubSubAPIPublish(t *testing.T) {
	f := newAPIFixture(t, PubSubAPIOptions{})
	f.fake.addNode("news", "alice@example.org")
	f.fake.addNode("a/b", "alice@example.org")
	cases := []struct {
		name, path, ctype, body string
		wantID, wantPayload     string
	}{
		{"xml with id", nodePath + "?id=first", "application/xml", "<entry xmlns='http://www.w3.org/2005/Atom'><title>Hi &amp; bye</title></entry>",
			"first", "<entry xmlns='http://www.w3.org/2005/Atom'><title>Hi &amp; bye</title></entry>"},
		{"xml declaration, prefixes normalized", nodePath, "text/xml; charset=utf-8", "<?xml version='1.0'?>\n<p:x xmlns:p='urn:t' a='1'/>\n",
			"gen1", "<x xmlns='urn:t' a='1'/>"},
		{"json", nodePath + "?id=j", "application/json", `{"temp": 21.5, "note": "<hot>"}`,
			"j", `<json xmlns='urn:xmpp:json:0'>{"temp": 21.5, "note": "&lt;hot&gt;"}</json>`},
		{"curl -d default content type, xml sniffed", nodePath, "application/x-www-form-urlencoded", "<x xmlns='urn:t'/>", "gen2", "<x xmlns='urn:t'/>"},
		{"no content type, json sniffed", nodePath, "", `[1,2]`, "gen3", `<json xmlns='urn:xmpp:json:0'>[1,2]</json>`},
		{"node with a slash", PubSubAPIPath + "/" + testHost + "/a%2Fb?id=s", "application/xml", "<x xmlns='urn:t'/>", "s", "<x xmlns='urn:t'/>"},
	}
	for _, c := range cases {
		r := f.do("POST", c.path, f.alice, c.ctype, c.body)
		if r.code != 201 || r.str("id") != c.wantID || r.str("service") != testHost {
			t.Errorf("%s: %d %s", c.name, r.code, r.raw)
			continue
		}
		node := r.str("node")
		got := f.fake.items[node][0]
		if string(got.Payload) != c.wantPayload {
			t.Errorf("%s: payload %s, want %s", c.name, got.Payload, c.wantPayload)
		}
		if got.Publisher.String() != "alice@example.org" {
			t.Errorf("%s: publisher %v", c.name, got.Publisher)
		}
		if loc := r.hdr.Get("Location"); !strings.HasPrefix(loc, PubSubAPIPath+"/"+testHost+"/") || !strings.HasSuffix(loc, "id="+c.wantID) {
			t.Errorf("%s: Location %q", c.name, loc)
		}
	}
	if node := f.fake.items["a/b"]; len(node) != 1 {
		t.Errorf("node a/b has %d items", len(node))
	}
	// The JSON payload reads back decoded.
	r := f.do("GET", nodePath+"?id=j", f.alice, "", "")
	items, _ := r.body["items"].([]any)
	if r.code != 200 || len(items) != 1 {
		t.Fatalf("GET ?id=j: %d %s", r.code, r.raw)
	}
	it := items[0].(map[string]any)
	if js, _ := it["json"].(map[string]any); js["note"] != "<hot>" || js["temp"] != 21.5 {
		t.Errorf("json item: %s", r.raw)
	}
}

func TestPubSubAPIRefusals(t *testing.T) {
	f := newAPIFixture(t, PubSubAPIOptions{MaxPayload: 2000})
	f.fake.addNode("news", "alice@example.org")
	f.fake.addNode("closed", "bob@example.org")
	big := "<x xmlns='urn:t'>" + strings.Repeat("a", 1500) + "</x>"
	cases := []struct {
		name, method, path, ctype, body string
		code                            int
		cond, app                       string
	}{
		{"unknown node", "POST", PubSubAPIPath + "/" + testHost + "/nope", "application/xml", "<x xmlns='urn:t'/>", 404, "item-not-found", ""},
		{"not a publisher", "POST", PubSubAPIPath + "/" + testHost + "/closed", "application/xml", "<x xmlns='urn:t'/>", 403, "forbidden", ""},
		{"other service", "POST", PubSubAPIPath + "/pubsub.elsewhere.org/news", "application/xml", "<x xmlns='urn:t'/>", 404, "item-not-found", ""},
		{"body over the API limit", "POST", nodePath, "application/xml", strings.Repeat(" ", 2001), 413, "not-acceptable", "payload-too-big"},
		{"payload over the node's limit", "POST", nodePath, "application/xml", big, 413, "not-acceptable", "payload-too-big"},
		{"two elements", "POST", nodePath, "application/xml", "<x xmlns='urn:t'/><y xmlns='urn:t'/>", 400, "bad-request", ""},
		{"not well-formed", "POST", nodePath, "application/xml", "<x xmlns='urn:t'>", 400, "bad-request", ""},
		{"no namespace", "POST", nodePath, "application/xml", "<x/>", 400, "bad-request", ""},
		{"empty", "POST", nodePath, "application/xml", "  ", 400, "bad-request", ""},
		{"bad json", "POST", nodePath, "application/json", "{nope", 400, "bad-request", ""},
		{"json with a character XML forbids", "POST", nodePath, "application/json", "\"\uFFFE\"", 400, "bad-request", ""},
		{"unsupported type", "POST", nodePath, "text/plain", "hello", 415, "not-acceptable", ""},
		{"control character in id", "POST", nodePath + "?id=a%01", "application/xml", "<x xmlns='urn:t'/>", 400, "bad-request", ""},
		{"max out of range", "GET", nodePath + "?max=1000", "", "", 400, "bad-request", ""},
		{"max not a number", "GET", nodePath + "?max=x", "", "", 400, "bad-request", ""},
		{"unknown after", "GET", nodePath + "?after=zzz", "", "", 404, "item-not-found", ""},
		{"bad method", "DELETE", nodePath, "", "", 405, "not-allowed", ""},
		{"no node", "GET", PubSubAPIPath + "/" + testHost, "", "", 404, "item-not-found", ""},
	}
	for _, c := range cases {
		r := f.do(c.method, c.path, f.alice, c.ctype, c.body)
		if r.code != c.code || r.str("condition") != c.cond || r.str("pubsub_error") != c.app || r.str("error") == "" {
			t.Errorf("%s: %d %s, want %d %s %s", c.name, r.code, r.raw, c.code, c.cond, c.app)
		}
	}
	if n := len(f.fake.items["news"]); n != 0 {
		t.Errorf("refused publishes stored %d items", n)
	}
	// Errors that are not the core's refusals are a 500 that says nothing more.
	f.fake.err = errors.New("disk on fire")
	r := f.do("POST", nodePath, f.alice, "application/xml", "<x xmlns='urn:t'/>")
	if r.code != 500 || r.str("condition") != "internal-server-error" || strings.Contains(r.raw, "fire") {
		t.Errorf("internal error: %d %s", r.code, r.raw)
	}
	f.fake.err = &pubsub.Error{Cond: "resource-constraint", Type: "wait"}
	r = f.do("GET", nodePath, f.alice, "", "")
	if r.code != 503 || r.hdr.Get("Retry-After") == "" || r.str("type") != "wait" {
		t.Errorf("busy node: %d %v %s", r.code, r.hdr, r.raw)
	}
}

func TestPubSubAPIErrorMapping(t *testing.T) {
	for cond, want := range map[string]int{
		"item-not-found": 404, "forbidden": 403, "not-authorized": 403, "not-allowed": 403,
		"bad-request": 400, "not-acceptable": 400, "feature-not-implemented": 400, "conflict": 409,
		"resource-constraint": 503, "policy-violation": 429, "internal-server-error": 500, "whatever": 500,
	} {
		if got := statusOf(&pubsub.Error{Cond: cond}); got != want {
			t.Errorf("%s -> %d, want %d", cond, got, want)
		}
	}
	if got := statusOf(&pubsub.Error{Cond: "not-acceptable", App: "payload-too-big"}); got != 413 {
		t.Errorf("payload-too-big -> %d", got)
	}
}

func TestPubSubAPIPaging(t *testing.T) {
	f := newAPIFixture(t, PubSubAPIOptions{Burst: 1000})
	f.fake.addNode("news", "alice@example.org")
	for i := range 5 {
		if r := f.do("POST", fmt.Sprintf("%s?id=i%d", nodePath, i), f.alice, "application/xml", "<x xmlns='urn:t'/>"); r.code != 201 {
			t.Fatalf("publish %d: %d %s", i, r.code, r.raw)
		}
	}
	var got []string
	after := ""
	for page := 0; page < 10; page++ {
		path := nodePath + "?max=2"
		if after != "" {
			path += "&after=" + after
		}
		r := f.do("GET", path, f.alice, "", "")
		if r.code != 200 || r.body["count"] != 5.0 {
			t.Fatalf("page %d: %d %s", page, r.code, r.raw)
		}
		for _, it := range r.body["items"].([]any) {
			m := it.(map[string]any)
			got = append(got, m["id"].(string))
			if m["publisher"] != "alice@example.org" || m["published"] != "2026-01-02T03:04:05Z" || m["payload"] != "<x xmlns='urn:t'/>" {
				t.Errorf("item %v", m)
			}
		}
		if r.body["more"] != true {
			break
		}
		after = r.str("last")
	}
	if want := []string{"i4", "i3", "i2", "i1", "i0"}; !slices.Equal(got, want) {
		t.Errorf("paged ids %v, want %v", got, want)
	}
	r := f.do("GET", nodePath, f.alice, "", "")
	if items := r.body["items"].([]any); len(items) != 5 || r.body["more"] != false {
		t.Errorf("default page: %s", r.raw)
	}
	r = f.do("GET", nodePath+"?id=i1&id=i3", f.alice, "", "")
	if items := r.body["items"].([]any); len(items) != 2 {
		t.Errorf("?id=i1&id=i3: %s", r.raw)
	}
	for _, h := range f.fake.hosts {
		if h != testHost {
			t.Errorf("core called with host %q", h)
		}
	}
}

func TestPubSubAPIRateLimit(t *testing.T) {
	f := newAPIFixture(t, PubSubAPIOptions{Rate: 2, Burst: 3})
	f.fake.addNode("news", "alice@example.org")
	for i := range 3 {
		if r := f.do("GET", nodePath, f.alice, "", ""); r.code != 200 {
			t.Fatalf("request %d: %d", i, r.code)
		}
	}
	r := f.do("GET", nodePath, f.alice, "", "")
	if r.code != 429 || r.hdr.Get("Retry-After") != "1" || r.str("condition") != "policy-violation" {
		t.Errorf("over the burst: %d %v %s", r.code, r.hdr, r.raw)
	}
	// Another token has its own budget.
	bob, _, err := f.tokens.Create(context.Background(), "bob@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	if r := f.do("GET", nodePath, bob, "", ""); r.code != 200 {
		t.Errorf("bob: %d", r.code)
	}
	*f.clock = f.clock.Add(500 * time.Millisecond) // one request refilled
	if r := f.do("GET", nodePath, f.alice, "", ""); r.code != 200 {
		t.Errorf("after refill: %d", r.code)
	}
	if r := f.do("GET", nodePath, f.alice, "", ""); r.code != 429 {
		t.Errorf("refill gave more than one: %d", r.code)
	}
}

func TestRateLimiterBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := newRateLimiter(1, 2, 10, func() time.Time { return now })
	for i := range 100 {
		l.allow(fmt.Sprint(i))
		l.allow(fmt.Sprint(i)) // empty the bucket: eviction must still make room
		if len(l.buckets) > 10 {
			t.Fatalf("%d buckets after %d keys", len(l.buckets), i+1)
		}
	}
	if ok, wait := l.allow("99"); ok || wait != time.Second {
		t.Errorf("empty bucket: %v %v", ok, wait)
	}
}

func TestPubSubAPIUnderTimeout(t *testing.T) {
	var deadline bool
	h := New(Options{PubSubAPI: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, deadline = r.Context().Deadline()
		w.WriteHeader(204)
	})})
	if w := serve(h, "GET", PubSubAPIPath+"/x/y"); w.Code != 204 || !deadline {
		t.Errorf("mounted API: %d, deadline %v", w.Code, deadline)
	}
	if w := serve(New(Options{}), "GET", PubSubAPIPath+"/x/y"); w.Code != 404 {
		t.Errorf("without the API: %d", w.Code)
	}
}

func TestTokens(t *testing.T) {
	db, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	ts := NewTokens(db)
	tok, info, err := ts.Create(ctx, "Alice@Example.org", "push service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, tokenPrefix) || len(tok) != len(tokenPrefix)+43 || info.Hash != HashToken(tok) || info.JID != "alice@example.org" {
		t.Errorf("created %q %+v", tok, info)
	}
	if raw, _, err := db.Get(ctx, data.PubSubTokenKey(info.Hash)); err != nil || strings.Contains(string(raw), tok) {
		t.Errorf("stored record %q %v: must exist without the token", raw, err)
	}
	got, ok, err := ts.Lookup(ctx, tok)
	if err != nil || !ok || got.JID != "alice@example.org" || got.Label != "push service" {
		t.Errorf("lookup: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := ts.Lookup(ctx, tok+"x"); ok {
		t.Error("a different token looked up")
	}
	tok2, info2, err := ts.Create(ctx, "bob@example.org", "")
	if err != nil || tok2 == tok {
		t.Fatal(err)
	}
	list, err := ts.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	for _, bad := range []struct{ j, label string }{{"", ""}, {"a@b@c", ""}, {"a@example.org", "two\nlines"}, {"a@example.org", strings.Repeat("l", 300)}} {
		if _, _, err := ts.Create(ctx, bad.j, bad.label); err == nil {
			t.Errorf("Create(%q, %.10q) accepted", bad.j, bad.label)
		}
	}
	for _, bad := range []string{"", "abc", "zzzzzzzz", strings.Repeat("a", 65)} {
		if _, err := ts.Revoke(ctx, bad); err == nil || errors.Is(err, ErrTokenNotFound) {
			t.Errorf("Revoke(%q): %v", bad, err)
		}
	}
	// A prefix both hashes share is ambiguous (the common prefix may be empty: then use a
	// prefix neither has, which is not found).
	common := 0
	for common < 64 && info.Hash[common] == info2.Hash[common] {
		common++
	}
	if common >= MinRevokePrefix {
		if _, err := ts.Revoke(ctx, info.Hash[:common]); !errors.Is(err, ErrTokenAmbiguous) {
			t.Errorf("ambiguous prefix: %v", err)
		}
	}
	if _, err := ts.Revoke(ctx, strings.Repeat("0", 64)); !errors.Is(err, ErrTokenNotFound) && info.Hash != strings.Repeat("0", 64) {
		t.Errorf("unknown prefix: %v", err)
	}
	if r, err := ts.Revoke(ctx, strings.ToUpper(info.Hash[:10])); err != nil || r.JID != "alice@example.org" {
		t.Errorf("revoke: %+v %v", r, err)
	}
	if _, ok, _ := ts.Lookup(ctx, tok); ok {
		t.Error("revoked token still valid")
	}
	if _, ok, _ := ts.Lookup(ctx, tok2); !ok {
		t.Error("the other token was revoked too")
	}
}

// nopNotifier drops events.
type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, *pubsub.Event, []pubsub.Recipient)         {}
func (nopNotifier) RequestAuthorization(context.Context, pubsub.AuthorizationRequest) {}

// TestPubSubAPIWithCore runs the API over the real core: a node alice owns
// takes her publishes through the API; bob's token is refused by the
// node's publish model; both read.
func TestPubSubAPIWithCore(t *testing.T) {
	db, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := pubsub.New(pubsub.Options{Host: testHost, Store: db, Notifier: nopNotifier{}, LocalDomains: []string{"example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(context.Background())
	ctx := context.Background()
	alice := jid.MustParse("alice@example.org")
	cfg := svc.DefaultConfig()
	cfg.AccessModel, cfg.PublishModel, cfg.MaxItems = pubsub.AccessOpen, pubsub.PublishPublishers, 3
	if _, err := svc.Create(ctx, testHost, alice, "news", &cfg); err != nil {
		if strings.Contains(err.Error(), "not implemented") {
			t.Skip("the pubsub core is not implemented yet:", err)
		}
		t.Fatal(err)
	}
	f := newAPIFixture(t, PubSubAPIOptions{Service: svc})
	bob, _, err := f.tokens.Create(ctx, "bob@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		r := f.do("POST", fmt.Sprintf("%s?id=n%d", nodePath, i), f.alice, "application/json", fmt.Sprintf(`{"n":%d}`, i))
		if r.code != 201 || r.str("id") != fmt.Sprintf("n%d", i) {
			t.Fatalf("publish %d: %d %s", i, r.code, r.raw)
		}
	}
	if r := f.do("POST", nodePath, f.alice, "application/xml", "<x xmlns='urn:t'/>"); r.code != 201 || r.str("id") == "" {
		t.Errorf("publish without id: %d %s", r.code, r.raw)
	}
	if r := f.do("POST", nodePath, bob, "application/xml", "<x xmlns='urn:t'/>"); r.code != 403 || r.str("condition") != "forbidden" {
		t.Errorf("bob publishes: %d %s", r.code, r.raw)
	}
	// Publishing to a missing node creates it when the JID may create
	// nodes (a local user: XEP-0060 §7.1.4 auto-create), else fails.
	if r := f.do("POST", PubSubAPIPath+"/"+testHost+"/bobs", bob, "application/xml", "<x xmlns='urn:t'/>"); r.code != 201 {
		t.Errorf("bob publishes to a missing node: %d %s", r.code, r.raw)
	}
	remote, _, err := f.tokens.Create(ctx, "mallory@elsewhere.example", "")
	if err != nil {
		t.Fatal(err)
	}
	if r := f.do("POST", PubSubAPIPath+"/"+testHost+"/missing", remote, "application/xml", "<x xmlns='urn:t'/>"); r.code != 404 && r.code != 403 {
		t.Errorf("a remote JID publishes to a missing node: %d %s", r.code, r.raw)
	}
	r := f.do("GET", nodePath+"?max=2", bob, "", "")
	if r.code != 200 || r.body["count"] != 3.0 || r.body["more"] != true {
		t.Fatalf("bob reads: %d %s", r.code, r.raw)
	}
	items := r.body["items"].([]any)
	if len(items) != 2 || items[1].(map[string]any)["id"] != "n3" {
		t.Errorf("newest first, max_items 3: %s", r.raw)
	}
	r = f.do("GET", nodePath+"?max=2&after="+r.str("last"), bob, "", "")
	if items := r.body["items"].([]any); r.code != 200 || len(items) != 1 || items[0].(map[string]any)["json"].(map[string]any)["n"] != 2.0 {
		t.Errorf("second page: %d %s", r.code, r.raw)
	}
}
