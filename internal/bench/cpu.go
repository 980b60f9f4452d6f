package bench

import "time"

// cpuMeter measures the CPU the server (when its PID is known) and this
// tool use over a phase, as a percentage of one core: a server near 100%
// is saturated on its pinned core; a tool near 100% means the figures are
// client-bound.
type cpuMeter struct {
	pid            int
	t0             time.Time
	server0, self0 time.Duration
	serverOK       bool
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, t0: time.Now(), self0: SelfCPU()}
	if pid > 0 {
		if v, err := ProcCPU(pid); err == nil {
			m.server0, m.serverOK = v, true
		}
	}
	return m
}

// stop adds server_cpu_pct (when known) and client_cpu_pct to r.
func (m *cpuMeter) stop(r *Result, phase string) {
	wall := time.Since(m.t0)
	if wall <= 0 {
		return
	}
	pct := func(d time.Duration) float64 { return 100 * float64(d) / float64(wall) }
	if m.serverOK {
		if v, err := ProcCPU(m.pid); err == nil {
			r.Add("server_cpu_"+phase, pct(v-m.server0), "% of a core", "", false)
		}
	}
	r.Add("client_cpu_"+phase, pct(SelfCPU()-m.self0), "% of a core", "", false)
}
