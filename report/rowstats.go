package report

import (
	"math"
	"time"
)

// rateSecs is the number of one-second slots in a rateWindow.
const rateSecs = 10

// rateWindow counts records per second of capture time over the last
// rateSecs seconds: a ring of slots, slot s%rateSecs counting second s for
// the seconds in (sec-rateSecs, sec]. 48 bytes, whatever the rate.
type rateWindow struct {
	sec    int64 // the newest second counted
	counts [rateSecs]uint32
}

func slot(sec int64) int { return int(((sec % rateSecs) + rateSecs) % rateSecs) }

func (w *rateWindow) add(t time.Time) {
	s := t.Unix()
	switch {
	case w.sec == 0 && w.counts == [rateSecs]uint32{}:
		w.sec = s
	case s > w.sec:
		// Clear the slots of the seconds skipped over.
		for c := w.sec + 1; c <= s && c <= w.sec+rateSecs; c++ {
			w.counts[slot(c)] = 0
		}
		w.sec = s
	case s <= w.sec-rateSecs:
		return // older than the window (a late record)
	}
	if w.counts[slot(s)] < math.MaxUint32 {
		w.counts[slot(s)]++
	}
}

// count returns the records of the rateSecs seconds up to now's.
func (w *rateWindow) count(now time.Time) uint64 {
	n := now.Unix()
	var total uint64
	for c := n - rateSecs + 1; c <= n; c++ {
		if c <= w.sec && c > w.sec-rateSecs { // a slot still holding second c
			total += uint64(w.counts[slot(c)])
		}
	}
	return total
}

// Answer time buckets: bucket 0 holds answers under 1 µs, bucket i ≥ 1
// those in [2^((i-1)/4), 2^(i/4)) µs, four per doubling (a bucket is 19%
// wide, so its midpoint is within 10% of any value in it), the last one
// everything from about 2^26.75 µs (2 minutes) up.
const (
	answerPerDoubling = 4
	answerBuckets     = 109
)

// answerHist counts answer times in logarithmic buckets, so that a row's
// quantiles cost 880 bytes however many handshakes it has. The smallest and
// largest value seen are kept exactly and bound every quantile: a row with
// one answer, or all alike, gives it exactly.
type answerHist struct {
	n        uint64
	min, max time.Duration
	b        [answerBuckets]uint64
}

func answerBucket(d time.Duration) int {
	if d < time.Microsecond {
		return 0
	}
	i := 1 + int(math.Floor(answerPerDoubling*math.Log2(float64(d)/float64(time.Microsecond))))
	return min(i, answerBuckets-1)
}

// answerMid is the geometric midpoint of bucket i.
func answerMid(i int) time.Duration {
	if i == 0 {
		return time.Microsecond / 2
	}
	return time.Duration(float64(time.Microsecond) * math.Exp2((float64(i)-0.5)/answerPerDoubling))
}

func (h *answerHist) add(d time.Duration) {
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.b[answerBucket(d)]++
}

// quantile returns the q-quantile (nearest rank): the midpoint of the
// bucket holding the ceil(q*n)-th smallest answer, clamped to [min, max].
func (h *answerHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var cum uint64
	for i, c := range h.b {
		cum += c
		if cum >= rank {
			return min(max(answerMid(i), h.min), h.max)
		}
	}
	return h.max
}
