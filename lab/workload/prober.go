package workload

// Prober is kubelet's readiness state machine for one container, without
// clocks or sockets: feed it each probe's outcome in order. Like kubelet's
// worker it counts runs of equal outcomes and only switches state once a
// run reaches the threshold for that outcome; a readiness probe starts
// unready.
type Prober struct {
	successThreshold, failureThreshold int
	ready                              bool
	last                               outcome
	run                                int
}

type outcome int8

const (
	unknown outcome = iota
	success
	failure
)

// NewProber makes a Prober; thresholds below 1 mean Kubernetes' defaults
// (1 success, 3 failures).
func NewProber(successThreshold, failureThreshold int) *Prober {
	if successThreshold < 1 {
		successThreshold = 1
	}
	if failureThreshold < 1 {
		failureThreshold = 3
	}
	return &Prober{successThreshold: successThreshold, failureThreshold: failureThreshold}
}

// Observe records one probe outcome and reports the readiness after it,
// and whether it changed.
func (p *Prober) Observe(ok bool) (ready, changed bool) {
	o := failure
	if ok {
		o = success
	}
	if o == p.last {
		p.run++
	} else {
		p.last, p.run = o, 1
	}
	want, threshold := ok, p.failureThreshold
	if ok {
		threshold = p.successThreshold
	}
	if p.run >= threshold && p.ready != want {
		p.ready = want
		return p.ready, true
	}
	return p.ready, false
}

// Ready reports the current state.
func (p *Prober) Ready() bool { return p.ready }
