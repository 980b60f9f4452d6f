package server

import (
	"net/http"
	"net/http/pprof"
)

// pprofHandler serves Go's runtime profiles. It is registered on its own
// mux (never http.DefaultServeMux) and only on metrics.pprof_addr, so the
// profiles are reachable only where the operator put them.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
