package bench

import "time"

// cpuMeter measures the CPU the server (when its PID is known) and this
// tool use over a phase, as a percentage of one core: a server near 100%
// is saturated on its pinned core; a tool near 100% means the figures are
// client-bound.
//
// The machine may be shared: other_cpu is the CPU everything else on the
// host used meanwhile (all cores, as % of one core); a high figure means
// the run competed for CPU and its latencies are inflated.
type cpuMeter struct {
	pid            int
	t0             time.Time
	server0, self0 time.Duration
	host0          time.Duration
	serverOK       bool
	hostOK         bool
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, t0: time.Now(), self0: SelfCPU()}
	if v, err := HostBusy(); err == nil {
		m.host0, m.hostOK = v, true
	}
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
	var server time.Duration
	if m.serverOK {
		if v, err := ProcCPU(m.pid); err == nil {
			server = v - m.server0
			r.Add("server_cpu_"+phase, pct(server), "% of a core", "", false)
		}
	}
	self := SelfCPU() - m.self0
	r.Add("client_cpu_"+phase, pct(self), "% of a core", "", false)
	if m.hostOK {
		if v, err := HostBusy(); err == nil {
			r.Add("other_cpu_"+phase, max(pct(v-m.host0-server-self), 0), "% of a core", "", false)
		}
	}
}
