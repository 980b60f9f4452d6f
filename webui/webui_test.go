package webui

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestHealthz(t *testing.T) {
	healthy := true
	h := New(Options{Health: func(context.Context) error {
		if healthy {
			return nil
		}
		return errors.New("storage: closed")
	}})
	w := serve(h, "GET", "/healthz")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"ok"`) || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("healthy: %d %q", w.Code, w.Body)
	}
	healthy = false
	w = serve(h, "GET", "/healthz")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "storage: closed") {
		t.Errorf("unhealthy: %d %q", w.Code, w.Body)
	}
	if w := serve(h, "POST", "/healthz"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d", w.Code)
	}
}

func TestRoutes(t *testing.T) {
	var wsDeadline bool
	h := New(Options{
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("m")) }),
		WebSocket: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, wsDeadline = r.Context().Deadline()
			w.WriteHeader(http.StatusTeapot)
		}),
	})
	if w := serve(h, "GET", "/metrics"); w.Code != 200 || w.Body.String() != "m" {
		t.Errorf("/metrics = %d %q", w.Code, w.Body)
	}
	if w := serve(h, "GET", WebSocketPath); w.Code != http.StatusTeapot {
		t.Errorf("%s = %d", WebSocketPath, w.Code)
	}
	if wsDeadline {
		t.Error("the WebSocket route runs under a timeout")
	}
	if w := serve(h, "GET", "/nope"); w.Code != 404 {
		t.Errorf("/nope = %d", w.Code)
	}
	// Without handlers the routes are absent.
	bare := New(Options{})
	for _, p := range []string{"/metrics", WebSocketPath} {
		if w := serve(bare, "GET", p); w.Code != 404 {
			t.Errorf("%s without handler = %d", p, w.Code)
		}
	}
}
