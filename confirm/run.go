package confirm

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RunOptions say where and how to probe.
type RunOptions struct {
	// Target is the server's host:port; every connection goes there.
	Target string
	// Timeout bounds each connection's setup and the wait for its answer.
	Timeout time.Duration
	// Pause is the wait between two connections (default 500 ms).
	Pause time.Duration
	// SplitPause is the wait between the two parts of a split hello
	// (default 200 ms).
	SplitPause time.Duration
}

// VariantResult is one variant and the server's answer to it.
type VariantResult struct {
	Variant
	Answer Answer
	// Accepted: the server took this hello: a ServerHello or a
	// HelloRetryRequest, with a certificate that covers the variant's name
	// when the variant checks it and the certificate is visible.
	Accepted bool
	// NameMismatch: a visible certificate that does not cover Name, for a
	// variant that checks it.
	NameMismatch bool
}

// Run sends each variant on a connection of its own, in order, with
// o.Pause between them. The first (the hello as captured) must connect:
// when it cannot, Run returns the error and sends nothing else.
func Run(ctx context.Context, variants []Variant, o RunOptions) ([]VariantResult, error) {
	if o.Pause <= 0 {
		o.Pause = 500 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	var out []VariantResult
	for i, v := range variants {
		if i > 0 {
			select {
			case <-ctx.Done():
				return out, ctx.Err()
			case <-time.After(o.Pause):
			}
		}
		a := Send(ctx, Probe{Addr: o.Target, Records: v.Records, Split: v.Split, Timeout: o.Timeout, SplitPause: o.SplitPause})
		if a.Kind == AnswerNone && i == 0 {
			return nil, fmt.Errorf("confirm: connect to %s: %s", o.Target, a.Err)
		}
		r := VariantResult{Variant: v, Answer: a, Accepted: a.Kind.Accepted()}
		if r.Accepted && v.CheckCertName && v.Name != "" && a.Cert != nil && !CertCovers(a.Cert, v.Name) {
			r.Accepted, r.NameMismatch = false, true
		}
		out = append(out, r)
	}
	return out, nil
}

// Verdict is what the answers say.
type Verdict uint8

// Verdicts. The String words are stable (JSON).
const (
	// VerdictFixWorks: the hello as captured is refused and a variant
	// that applies a fix is accepted.
	VerdictFixWorks Verdict = iota + 1
	// VerdictNoFix: the hello as captured is refused and so is every
	// variant: the cause is elsewhere.
	VerdictNoFix
	// VerdictNotReproduced: the server accepts the hello as captured now.
	VerdictNotReproduced
)

// String returns "fix_works", "no_fix" or "not_reproduced".
func (v Verdict) String() string {
	switch v {
	case VerdictFixWorks:
		return "fix_works"
	case VerdictNoFix:
		return "no_fix"
	case VerdictNotReproduced:
		return "not_reproduced"
	}
	return "unknown"
}

// ErrNoResults reports a Judge call without the baseline's result.
var ErrNoResults = errors.New("confirm: no answers to judge")

// Judge reads the verdict from Run's results (the first is the hello as
// captured) and returns the first variant with a fix that was accepted
// (nil unless VerdictFixWorks).
func Judge(rs []VariantResult) (Verdict, *VariantResult, error) {
	if len(rs) == 0 || rs[0].ID != VariantAsCaptured {
		return 0, nil, ErrNoResults
	}
	if rs[0].Accepted {
		return VerdictNotReproduced, nil, nil
	}
	for i := range rs[1:] {
		r := &rs[1+i]
		if r.Fix != "" && r.Accepted {
			return VerdictFixWorks, r, nil
		}
	}
	return VerdictNoFix, nil, nil
}

// sameAnswer reports whether two answers are the same refusal: kind, and
// the alert for alerts.
func sameAnswer(a, b Answer) bool {
	return a.Kind == b.Kind && (a.Kind != AnswerAlert || a.Alert == b.Alert)
}
