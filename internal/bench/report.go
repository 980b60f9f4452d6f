package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Result is one run's outcome: printed as a table for people and as one
// JSON line for scripts (bench/compare.sh collects the lines).
type Result struct {
	Scenario  string           `json:"scenario"`
	Title     string           `json:"title"`
	Server    string           `json:"server"`
	Transport string           `json:"transport"`
	TLS       string           `json:"tls"`
	Mechanism string           `json:"mechanism,omitempty"`
	Started   time.Time        `json:"started"`
	Params    map[string]any   `json:"params"`
	Metrics   []Metric         `json:"metrics"`
	Latencies []LatencySummary `json:"latencies,omitempty"`
	Errors    []string         `json:"errors,omitempty"` // first distinct errors
	Notes     []string         `json:"notes,omitempty"`

	mu        sync.Mutex
	errSeen   map[string]int
	mechsSeen map[string]bool
}

// Metric is one figure. Better says which direction wins ("higher",
// "lower" or "" when it is context, not a score); Headline marks the
// figures the comparison table shows.
type Metric struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit,omitempty"`
	Better   string  `json:"better,omitempty"`
	Headline bool    `json:"headline,omitempty"`
}

func newResult(c *Config, title string) *Result {
	return &Result{
		Scenario: c.Scenario, Title: title, Server: c.Server, Transport: c.Transport, TLS: c.TLS,
		Started: time.Now().UTC().Truncate(time.Second), Params: map[string]any{},
		errSeen: map[string]int{}, mechsSeen: map[string]bool{},
	}
}

// maxErrors bounds the distinct error messages a result keeps.
const maxErrors = 5

// AddError records an error message (distinct ones up to maxErrors).
func (r *Result) AddError(err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.errSeen[msg]; !ok && len(r.errSeen) < maxErrors {
		r.Errors = append(r.Errors, msg)
	}
	r.errSeen[msg]++
}

// noteMechanism records the SASL mechanism a session used.
func (r *Result) noteMechanism(m string) {
	if m == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mechsSeen[m] {
		r.mechsSeen[m] = true
		ms := make([]string, 0, len(r.mechsSeen))
		for k := range r.mechsSeen {
			ms = append(ms, k)
		}
		sort.Strings(ms)
		r.Mechanism = strings.Join(ms, "+")
	}
}

// Add appends a metric.
func (r *Result) Add(name string, v float64, unit, better string, headline bool) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Unit: unit, Better: better, Headline: headline})
}

// Metric returns the named metric and whether it exists.
func (r *Result) Metric(name string) (Metric, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// Latency returns the named latency summary and whether it exists.
func (r *Result) Latency(name string) (LatencySummary, bool) {
	for _, l := range r.Latencies {
		if l.Name == name {
			return l, true
		}
	}
	return LatencySummary{}, false
}

// WriteTable prints the result for people.
func (r *Result) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\n%s %s against %s (%s, tls=%s, sasl=%s)\n", r.Scenario, r.Title, r.Server, r.Transport, r.TLS, orDash(r.Mechanism))
	keys := make([]string, 0, len(r.Params))
	for k := range r.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ps []string
	for _, k := range keys {
		ps = append(ps, fmt.Sprintf("%s=%v", k, r.Params[k]))
	}
	fmt.Fprintf(w, "  params: %s\n", strings.Join(ps, " "))
	width := 0
	for _, m := range r.Metrics {
		width = max(width, len(m.Name)+1)
	}
	for _, m := range r.Metrics {
		mark := " "
		if m.Headline { // the figures the comparison shows
			mark = "*"
		}
		fmt.Fprintf(w, "  %s%-*s %12s %s\n", mark, width, m.Name, formatValue(m.Value), m.Unit)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(r.Latencies) > 0 {
		fmt.Fprintf(tw, "  latency (ms)\tcount\tp50\tp90\tp99\tp99.9\tmax\t\n")
		for _, l := range r.Latencies {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", l.Name, l.Count,
				formatValue(l.P50), formatValue(l.P90), formatValue(l.P99), formatValue(l.P999), formatValue(l.Max))
		}
		tw.Flush()
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error (x%d): %s\n", r.errSeen[e], e)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// JSONLine is the result as one line of JSON (no trailing newline).
func (r *Result) JSONLine() ([]byte, error) { return json.Marshal(r) }

// AppendJSON appends the JSON line to file.
func (r *Result) AppendJSON(file string) error {
	b, err := r.JSONLine()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	return errors.Join(werr, f.Close())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatValue prints with precision that suits the magnitude.
func formatValue(v float64) string {
	switch a := abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
