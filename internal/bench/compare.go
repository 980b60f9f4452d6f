package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// ReadResults reads JSON result lines (other lines, such as the human
// tables, are skipped).
func ReadResults(r io.Reader) ([]*Result, error) {
	var out []*Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var res Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, fmt.Errorf("bad result line: %w", err)
		}
		out = append(out, &res)
	}
	return out, sc.Err()
}

// WriteComparison prints, per scenario, the headline metrics of subject
// (gavel) beside every other server, and the ratio of subject to the best
// of the others: above 1 means better for higher-is-better metrics; for
// lower-is-better ones the ratio is best-peer / subject, so above 1 always
// means subject wins. markdown selects a Markdown table.
func WriteComparison(w io.Writer, results []*Result, subject string, markdown bool) {
	byScenario := map[string][]*Result{}
	var order []string
	for _, r := range results {
		if _, ok := byScenario[r.Scenario]; !ok {
			order = append(order, r.Scenario)
		}
		byScenario[r.Scenario] = append(byScenario[r.Scenario], r)
	}
	for _, sc := range order {
		rs := byScenario[sc]
		var subj *Result
		var peers []*Result
		for _, r := range rs {
			if r.Server == subject && subj == nil {
				subj = r
			} else {
				peers = append(peers, r)
			}
		}
		cols := []string{"metric"}
		all := append([]*Result{}, rs...)
		if subj != nil {
			all = append([]*Result{subj}, peers...)
		}
		for _, r := range all {
			cols = append(cols, r.Server)
		}
		cols = append(cols, subject+" vs best peer")
		rows := [][]string{}
		mechRow := []string{"SASL mechanism"}
		for _, r := range all {
			mechRow = append(mechRow, orDash(r.Mechanism))
		}
		rows = append(rows, append(mechRow, ""))
		headlines := headlineNames(all)
		isHeadline := map[string]bool{}
		for _, n := range headlines {
			isHeadline[n] = true
		}
		for _, name := range append(headlines, contextNames(all)...) {
			row := []string{name}
			var unit, better string
			for _, r := range all {
				m, ok := r.Metric(name)
				if !ok {
					row = append(row, "-")
					continue
				}
				unit, better = m.Unit, m.Better
				row = append(row, formatValue(m.Value))
			}
			if unit != "" {
				row[0] += " (" + unit + ")"
			}
			if !isHeadline[name] {
				better = "" // context, not a score
			}
			row = append(row, ratioCell(subj, peers, name, better))
			rows = append(rows, row)
		}
		title := sc
		if len(rs) > 0 {
			title += " " + rs[0].Title
		}
		writeTable(w, title, cols, rows, markdown)
	}
}

// headlineNames lists the headline metrics in first-seen order.
func headlineNames(rs []*Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		for _, m := range r.Metrics {
			if m.Headline && !seen[m.Name] {
				seen[m.Name] = true
				out = append(out, m.Name)
			}
		}
	}
	return out
}

// contextNames lists the non-headline metrics the comparison also shows
// because they qualify the headlines: CPU use of the server, the tool and
// everything else on the host (a busy host inflates latency), and losses.
func contextNames(rs []*Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		for _, m := range r.Metrics {
			ctx := strings.HasPrefix(m.Name, "server_cpu_") || strings.HasPrefix(m.Name, "client_cpu_") ||
				strings.HasPrefix(m.Name, "other_cpu_") || m.Name == "lost_pct" || m.Name == "error_replies" ||
				m.Name == "logins_failed" || m.Name == "slab_per_connection" || m.Name == "sessions"
			if ctx && !m.Headline && !seen[m.Name] {
				seen[m.Name] = true
				out = append(out, m.Name)
			}
		}
	}
	return out
}

// ratioCell is subject against the best peer ("higher": subject/best;
// "lower": best/subject), or "-" when either is missing.
func ratioCell(subj *Result, peers []*Result, name, better string) string {
	if subj == nil || better == "" {
		return "-"
	}
	sm, ok := subj.Metric(name)
	if !ok {
		return "-"
	}
	best, found := 0.0, false
	for _, p := range peers {
		m, ok := p.Metric(name)
		if !ok {
			continue
		}
		if !found || (better == "higher" && m.Value > best) || (better == "lower" && m.Value < best) {
			best, found = m.Value, true
		}
	}
	if !found {
		return "-"
	}
	var ratio float64
	if better == "higher" {
		ratio = sm.Value / best
	} else {
		ratio = best / sm.Value
	}
	if math.IsInf(ratio, 0) || math.IsNaN(ratio) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", ratio)
}

func writeTable(w io.Writer, title string, cols []string, rows [][]string, markdown bool) {
	if markdown {
		fmt.Fprintf(w, "\n**%s**\n\n| %s |\n|%s\n", title, strings.Join(cols, " | "), strings.Repeat(" --- |", len(cols)))
		for _, r := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
		return
	}
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = len(c)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	fmt.Fprintf(w, "\n%s\n", title)
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i == 0 {
				fmt.Fprintf(&b, "  %-*s", widths[i], c)
			} else {
				fmt.Fprintf(&b, "  %*s", widths[i], c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(cols)
	for _, r := range rows {
		line(r)
	}
}
