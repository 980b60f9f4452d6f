package webui

// The HTTP publish API (docs/pubsub-api.md): apps without an XMPP client
// publish to and read a pubsub node with a bearer token.
//
//	POST /api/pubsub/{service}/{node}[?id=ITEM]   publish one item -> 201
//	GET  /api/pubsub/{service}/{node}[?max=N&after=ID | ?id=ITEM...]
//
// {service} is the pubsub service's domain (e.g. pubsub.example.org). The
// body is the payload: one namespaced XML element (Content-Type
// application/xml), or any JSON value (application/json), published inside
// an XEP-0335 <json xmlns='urn:xmpp:json:0'/> container. The token acts as
// its JID: the core checks that JID's affiliation and the node's access and
// publish models exactly as for an XMPP client. Refusals come back as JSON
// naming the XMPP condition.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/pubsub"
	"github.com/gavelhq/gavel/xmlstream"
)

// PubSubAPIPath is where the API is mounted.
const PubSubAPIPath = "/api/pubsub"

// NSJSON is XEP-0335's JSON container namespace.
const NSJSON = "urn:xmpp:json:0"

// PubSubService is what the API needs of the pubsub core; *pubsub.Service
// implements it.
type PubSubService interface {
	Publish(ctx context.Context, host string, actor jid.JID, node string, items []pubsub.Item, opts *pubsub.PublishOptions) ([]string, error)
	Items(ctx context.Context, host string, actor jid.JID, node string, q pubsub.ItemQuery) (pubsub.ItemPage, error)
}

var _ PubSubService = (*pubsub.Service)(nil)

// PubSubAPIOptions configure the API.
type PubSubAPIOptions struct {
	Service PubSubService
	// Host is the service domain; {service} in the path must be it.
	Host   string
	Tokens *Tokens
	// MaxPayload bounds a request body in bytes (default 256 KiB, the
	// stanza limit); the node's pubsub#max_payload_size is the core's check.
	MaxPayload int
	// Rate and Burst are each token's request budget: Rate per second, up
	// to Burst at once (defaults 20 and 40).
	Rate  float64
	Burst int
	// MaxLimited bounds the rate limiter's table (default 10000 tokens).
	MaxLimited int
	Logger     *slog.Logger
	Now        func() time.Time
}

// Paging bounds of GET.
const (
	defaultPageMax = 20
	maxPageMax     = 100
	maxIDLen       = 1024 // an item id or a node name, in bytes
	maxQueryIDs    = 100
)

type pubsubAPI struct {
	o       PubSubAPIOptions
	limiter *rateLimiter
}

// NewPubSubAPI returns the API's handler, to mount at PubSubAPIPath.
func NewPubSubAPI(o PubSubAPIOptions) http.Handler {
	if o.MaxPayload <= 0 {
		o.MaxPayload = xmlstream.DefaultMaxStanzaBytes
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.Burst <= 0 {
		o.Burst = 40
	}
	if o.MaxLimited <= 0 {
		o.MaxLimited = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &pubsubAPI{o: o, limiter: newRateLimiter(o.Rate, o.Burst, o.MaxLimited, o.Now)}
	r := chi.NewRouter()
	r.Post("/{service}/{node}", a.publish)
	r.Get("/{service}/{node}", a.items)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, apiError{Condition: "item-not-found", Type: "cancel",
			Text: "use " + PubSubAPIPath + "/{service}/{node}"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, POST")
		writeAPIError(w, http.StatusMethodNotAllowed, apiError{Condition: "not-allowed", Type: "cancel", Text: "use GET or POST"})
	})
	return r
}

// apiError is the JSON body of every refusal: Error is for people, the
// rest are the XMPP stanza error the refusal corresponds to.
type apiError struct {
	Error     string `json:"error"`
	Condition string `json:"condition"`
	Type      string `json:"type,omitempty"`
	PubSub    string `json:"pubsub_error,omitempty"` // the pubsub#errors element
	Feature   string `json:"feature,omitempty"`
	Text      string `json:"text,omitempty"`
}

func writeAPIError(w http.ResponseWriter, code int, e apiError) {
	e.Error = http.StatusText(code)
	if e.Text != "" {
		e.Error += ": " + e.Text
	} else if e.PubSub != "" {
		e.Error += ": " + e.PubSub
	} else {
		e.Error += ": " + e.Condition
	}
	writeJSON(w, code, e)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // payloads are XML: keep them readable
	_ = enc.Encode(v)
}

// badRequest is a 400 bad-request with text.
func badRequest(w http.ResponseWriter, text string) {
	writeAPIError(w, http.StatusBadRequest, apiError{Condition: "bad-request", Type: "modify", Text: text})
}

// statusOf maps a core refusal to an HTTP status.
func statusOf(e *pubsub.Error) int {
	switch e.Cond {
	case "item-not-found", "remote-server-not-found":
		return http.StatusNotFound
	case "forbidden", "not-authorized", "not-allowed", "registration-required", "subscription-required":
		return http.StatusForbidden
	case "not-acceptable", "bad-request", "jid-malformed", "feature-not-implemented":
		if e.App == "payload-too-big" {
			return http.StatusRequestEntityTooLarge
		}
		return http.StatusBadRequest
	case "conflict":
		return http.StatusConflict
	case "policy-violation":
		return http.StatusTooManyRequests
	case "resource-constraint", "service-unavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail answers err: a core refusal with its mapped status, anything else
// as a logged 500.
func (a *pubsubAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pubsub.Error
	if errors.As(err, &pe) {
		code := statusOf(pe)
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		if code != http.StatusInternalServerError {
			writeAPIError(w, code, apiError{Condition: pe.Cond, Type: pe.Type, PubSub: pe.App, Feature: pe.Feature, Text: pe.Text})
			return
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		w.Header().Set("Retry-After", "1")
		writeAPIError(w, http.StatusServiceUnavailable, apiError{Condition: "resource-constraint", Type: "wait", Text: "the node did not answer in time"})
		return
	}
	a.o.Logger.Warn("pubsub HTTP API", "method", r.Method, "path", r.URL.Path, "err", err)
	writeAPIError(w, http.StatusInternalServerError, apiError{Condition: "internal-server-error", Type: "wait"})
}

// target is a request's authenticated actor and node.
type target struct {
	actor jid.JID
	node  string
}

// authorize checks the token, the rate budget and the path; on failure it
// has answered and ok is false.
func (a *pubsubAPI) authorize(w http.ResponseWriter, r *http.Request) (t target, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(h, " ")
	if h == "" || !found || !strings.EqualFold(scheme, "Bearer") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gavel"`)
		writeAPIError(w, http.StatusUnauthorized, apiError{Condition: "not-authorized", Type: "auth",
			Text: "send Authorization: Bearer <token> (make one with gavel token add)"})
		return t, false
	}
	info, known, err := a.o.Tokens.Lookup(r.Context(), strings.TrimSpace(token))
	if err != nil {
		a.fail(w, r, err)
		return t, false
	}
	if !known {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gavel", error="invalid_token"`)
		writeAPIError(w, http.StatusUnauthorized, apiError{Condition: "not-authorized", Type: "auth", Text: "unknown or revoked token"})
		return t, false
	}
	if ok, wait := a.limiter.allow(info.Hash); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		writeAPIError(w, http.StatusTooManyRequests, apiError{Condition: "policy-violation", Type: "wait", Text: "rate limit exceeded"})
		return t, false
	}
	if t.actor, err = jid.Parse(info.JID); err != nil {
		a.fail(w, r, err)
		return t, false
	}
	service, err1 := pathParam(r, "service")
	node, err2 := pathParam(r, "node")
	if err := errors.Join(err1, err2); err != nil {
		badRequest(w, err.Error())
		return t, false
	}
	if !strings.EqualFold(service, a.o.Host) {
		writeAPIError(w, http.StatusNotFound, apiError{Condition: "item-not-found", Type: "cancel",
			Text: "no pubsub service " + strconv.Quote(service) + " here (want " + a.o.Host + ")"})
		return t, false
	}
	t.node = node
	return t, true
}

// pathParam is a path segment, unescaped (node names may hold '/' as %2F).
func pathParam(r *http.Request, name string) (string, error) {
	v, err := url.PathUnescape(chi.URLParam(r, name))
	if err != nil || v == "" || len(v) > maxIDLen || !utf8.ValidString(v) {
		return "", errors.New("bad " + name + " in the path")
	}
	return v, nil
}

// validID reports whether s may be an item id: printable UTF-8, bounded.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen || !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// publishResult is the 201 body.
type publishResult struct {
	Service string `json:"service"`
	Node    string `json:"node"`
	ID      string `json:"id"`
}

func (a *pubsubAPI) publish(w http.ResponseWriter, r *http.Request) {
	t, ok := a.authorize(w, r)
	if !ok {
		return
	}
	id := r.URL.Query().Get("id")
	if r.URL.Query().Has("id") && !validID(id) {
		badRequest(w, "bad item id")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(a.o.MaxPayload)))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeAPIError(w, http.StatusRequestEntityTooLarge, apiError{Condition: "not-acceptable", Type: "modify",
			PubSub: "payload-too-big", Text: "the body exceeds " + strconv.Itoa(a.o.MaxPayload) + " bytes"})
		return
	case err != nil:
		badRequest(w, "reading the body: "+err.Error())
		return
	}
	payload, status, msg := a.payload(r.Header.Get("Content-Type"), body)
	if status != 0 {
		cond := "bad-request"
		if status == http.StatusUnsupportedMediaType {
			cond = "not-acceptable"
		}
		writeAPIError(w, status, apiError{Condition: cond, Type: "modify", Text: msg})
		return
	}
	ids, err := a.o.Service.Publish(r.Context(), a.o.Host, t.actor, t.node,
		[]pubsub.Item{{ID: id, Publisher: t.actor, Payload: payload}}, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if len(ids) > 0 {
		id = ids[0]
	}
	w.Header().Set("Location", PubSubAPIPath+"/"+url.PathEscape(a.o.Host)+"/"+url.PathEscape(t.node)+"?id="+url.QueryEscape(id))
	writeJSON(w, http.StatusCreated, publishResult{Service: a.o.Host, Node: t.node, ID: id})
}

// payload turns a request body into a standalone payload element; status
// is non-zero (with a message) when the body is not acceptable.
func (a *pubsubAPI) payload(contentType string, body []byte) (payload []byte, status int, msg string) {
	kind := "sniff"
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		switch {
		case err != nil:
			return nil, http.StatusUnsupportedMediaType, "bad Content-Type"
		case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
			kind = "xml"
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			kind = "json"
		case mt == "application/x-www-form-urlencoded":
			// curl -d's default: look at the body instead.
		default:
			return nil, http.StatusUnsupportedMediaType, "Content-Type " + mt + ": want application/xml or application/json"
		}
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, http.StatusBadRequest, "empty body: send the item's payload"
	}
	if kind == "sniff" {
		kind = "json"
		if trimmed[0] == '<' {
			kind = "xml"
		}
	}
	if kind == "json" {
		if !utf8.Valid(trimmed) || !json.Valid(trimmed) {
			return nil, http.StatusBadRequest, "the body is not valid JSON"
		}
		// Only the three characters XML text needs are escaped: quotes,
		// JSON's commonest character, stay one byte.
		payload = append([]byte("<json xmlns='"+NSJSON+"'>"), jsonTextEscaper.Replace(string(trimmed))...)
		payload = append(payload, "</json>"...)
		if _, err := xmlstream.ParseElement(payload, "", xmlstream.Limits{MaxStanzaBytes: len(payload) + 1}); err != nil {
			return nil, http.StatusBadRequest, "the JSON holds characters XML cannot carry"
		}
		return payload, 0, ""
	}
	trimmed = skipXMLDecl(trimmed)
	el, err := xmlstream.ParseElement(trimmed, "", xmlstream.Limits{MaxStanzaBytes: a.o.MaxPayload})
	if err != nil {
		return nil, http.StatusBadRequest, "the body is not one XML element: " + err.Error()
	}
	if el.Name.Space == "" {
		return nil, http.StatusBadRequest, "the payload element needs a namespace (xmlns='...')"
	}
	return el.AppendXML(nil, ""), 0, ""
}

var jsonTextEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// skipXMLDecl drops a leading <?xml ...?> declaration (files often start
// with one; the element parser takes elements only).
func skipXMLDecl(b []byte) []byte {
	if !bytes.HasPrefix(b, []byte("<?xml")) {
		return b
	}
	if i := bytes.Index(b, []byte("?>")); i >= 0 {
		return bytes.TrimSpace(b[i+2:])
	}
	return b
}

// apiItem is one item of a GET answer.
type apiItem struct {
	ID        string    `json:"id"`
	Publisher string    `json:"publisher,omitempty"`
	Published time.Time `json:"published,omitzero"`
	Payload   string    `json:"payload,omitempty"` // the XML payload element
	// JSON is the content of an XEP-0335 payload, decoded.
	JSON json.RawMessage `json:"json,omitempty"`
}

// itemsResult is the GET body. Items are newest first; with more set, the
// next page is ?after=<last>.
type itemsResult struct {
	Service string    `json:"service"`
	Node    string    `json:"node"`
	Items   []apiItem `json:"items"`
	Count   int       `json:"count"`
	First   string    `json:"first,omitempty"`
	Last    string    `json:"last,omitempty"`
	More    bool      `json:"more"`
}

func (a *pubsubAPI) items(w http.ResponseWriter, r *http.Request) {
	t, ok := a.authorize(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var query pubsub.ItemQuery
	if ids := q["id"]; len(ids) > 0 {
		if len(ids) > maxQueryIDs {
			badRequest(w, "at most "+strconv.Itoa(maxQueryIDs)+" ids")
			return
		}
		for _, id := range ids {
			if !validID(id) {
				badRequest(w, "bad item id")
				return
			}
		}
		query.IDs = ids
	} else {
		n := defaultPageMax
		if s := q.Get("max"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 || v > maxPageMax {
				badRequest(w, "max: want 1.."+strconv.Itoa(maxPageMax))
				return
			}
			n = v
		}
		after := q.Get("after")
		if q.Has("after") && !validID(after) {
			badRequest(w, "bad after")
			return
		}
		query.Page = &pubsub.PageRequest{Max: n, After: after, Index: -1}
	}
	page, err := a.o.Service.Items(r.Context(), a.o.Host, t.actor, t.node, query)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res := itemsResult{Service: a.o.Host, Node: t.node, Items: make([]apiItem, 0, len(page.Items)),
		Count: page.Count, First: page.First, Last: page.Last}
	if query.Page != nil {
		res.More = page.FirstIndex+len(page.Items) < page.Count && len(page.Items) > 0
	} else {
		res.Count = len(page.Items)
	}
	for _, it := range page.Items {
		ai := apiItem{ID: it.ID, Published: it.Time.UTC(), Payload: string(it.Payload), JSON: jsonContent(it.Payload)}
		if it.Publisher.String() != "" {
			ai.Publisher = it.Publisher.Bare().String()
		}
		res.Items = append(res.Items, ai)
	}
	writeJSON(w, http.StatusOK, res)
}

// jsonContent is the JSON inside an XEP-0335 payload, or nil.
func jsonContent(payload []byte) json.RawMessage {
	if !bytes.HasPrefix(payload, []byte("<json")) {
		return nil
	}
	el, err := xmlstream.ParseElement(payload, "", xmlstream.Limits{MaxStanzaBytes: len(payload) + 1})
	if err != nil || el.Name.Space != NSJSON || el.Name.Local != "json" {
		return nil
	}
	text := bytes.TrimSpace([]byte(el.Text()))
	if !json.Valid(text) {
		return nil
	}
	return text
}

// rateLimiter is a token bucket per key, in a bounded table.
type rateLimiter struct {
	mu      sync.Mutex
	rate    float64 // per second
	burst   float64
	max     int
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst, maxKeys int, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), max: maxKeys, now: now, buckets: map[string]*bucket{}}
}

// allow takes one request from key's budget; when it is empty, it says how
// long until the next request would pass.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// evict makes room: buckets that have refilled carry no state and go
// first; if none has, an arbitrary half goes (the table only holds valid
// tokens, so this needs more tokens in use than the bound).
func (l *rateLimiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max/2+1 {
			break
		}
		delete(l.buckets, k)
	}
}
