package capture

import (
	"encoding/binary"
	"math/bits"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
)

// Pipeline spreads a Tracker's work over worker goroutines. The caller's
// goroutine reads packets, decodes their link, IP and TCP/UDP headers and
// picks a worker by a symmetric hash of the flow's addresses and ports, so
// that both directions of a connection meet in the same worker; each
// worker runs its own Tracker over its share of the flows.
//
// Packets of capture files are passed on without a copy: the file buffer
// they point into is held until the worker is done with them (the file
// reader moves on to a fresh buffer meanwhile). Live packets are copied
// once into the batch that carries them.
//
// Records reach Config.Emit on the caller's goroutine, from inside Packet,
// Advance and Flush. With Ordered set, they come out in an order that does
// not depend on the number of workers or on their timing: by decision time
// (handshake.Handshake.EndTime), then by the flow's first packet; a record waits
// until every worker has gone past its time. Without it (live captures)
// each record comes out as soon as the caller's goroutine collects it.
// Config.Failed and Config.PacketOut run on the worker goroutines, several
// at once: they must be safe for concurrent use, also with whatever the
// caller's goroutine does with the same output.
//
// A Pipeline with any number of workers emits the same records as with
// one, with one exception: MaxFlows and MaxBufferedBytes are shared out
// equally, so floods beyond those caps evict per worker.
type Pipeline struct {
	cfg        Config
	ordered    bool
	inline     *worker // workers == 0: the caller's goroutine does it all
	inlineList [1]*worker
	workers    []*worker
	open       []*batch    // the batch being filled for each worker
	free       chan *batch // empty batches
	wg         sync.WaitGroup
	flushed    sync.WaitGroup

	now      int64 // latest packet time so far
	roundTS  int64 // packet time of the first packet of the round
	inRound  int   // packets in the round so far
	pending  []pendingRec
	dec      Decoded
	finished bool

	npackets, nbytes uint64        // counted by the reader, published each round
	packets, bytes   atomic.Uint64 // what Stats reads
	skipped          [32]atomic.Uint64
	faults           atomic.Uint64
}

// Rounds: every roundPackets packets (and, live, every roundTime of packet
// time) the reader hands each worker its batch, and collects what the
// workers decided. Small enough to keep live records prompt, large enough that the
// hand-over costs nothing next to the packets.
const (
	roundPackets = 1024
	roundTime    = int64(time.Millisecond)
	queueDepth   = 4       // rounds queued per worker before the reader waits
	maxArena     = 4 << 20 // live: bytes copied into one batch before the round ends
)

type worker struct {
	t   *Tracker
	in  chan *batch
	dec Decoded

	mu      sync.Mutex
	out     []*handshake.Handshake // records decided since the last collect
	doneNow int64                  // packet time of the last round finished
}

// item is one packet handed to a worker, with the packet time the tracker
// must see at it. The worker decodes the packet again rather than receive
// the reader's Decoded: that is cheaper than moving it between cores.
type item struct {
	p   Packet
	now int64
}

type batch struct {
	items   []item
	bufs    []*chunkBuf // file buffers the items point into, held
	lastBuf *chunkBuf
	arena   []byte // copies of live packets
	now     int64
	flush   bool
}

type pendingRec struct {
	h   *handshake.Handshake
	end int64
}

// NewPipeline starts workers goroutines running Trackers with cfg's
// settings; Close stops them. With 0 workers, one Tracker runs on the
// caller's goroutine, with the same records in the same order.
func NewPipeline(cfg Config, workers int, ordered bool) *Pipeline {
	def := NewTracker(cfg).cfg // the defaults filled in
	pl := &Pipeline{cfg: def, ordered: ordered}
	if workers <= 0 {
		w := &worker{}
		c := def
		c.Emit = func(h *handshake.Handshake) { w.out = append(w.out, h) }
		w.t = NewTracker(c)
		pl.inline = w
		pl.inlineList[0] = w
		return pl
	}
	wcfg := def
	wcfg.MaxFlows = max(def.MaxFlows/workers, 1)
	wcfg.MaxBufferedBytes = max(def.MaxBufferedBytes/int64(workers), int64(def.MaxFlowBytes))
	n := workers * (queueDepth + 2)
	pl.free = make(chan *batch, n)
	for range n {
		pl.free <- &batch{}
	}
	pl.open = make([]*batch, workers)
	for range workers {
		w := &worker{in: make(chan *batch, queueDepth)}
		c := wcfg
		c.Emit = func(h *handshake.Handshake) {
			w.mu.Lock()
			w.out = append(w.out, h)
			w.mu.Unlock()
		}
		w.t = NewTracker(c)
		pl.workers = append(pl.workers, w)
		pl.wg.Add(1)
		go pl.run(w)
	}
	return pl
}

func (pl *Pipeline) run(w *worker) {
	defer pl.wg.Done()
	// Packets of a mapped file that another program truncates fault when
	// touched: a panic that work recovers, not a crash (see readNext).
	debug.SetPanicOnFault(true)
	for b := range w.in {
		pl.work(w, b)
		w.mu.Lock()
		w.doneNow = b.now
		w.mu.Unlock()
		for _, cb := range b.bufs {
			cb.release()
		}
		clear(b.items) // drop references to packet data
		clear(b.bufs)
		b.items, b.bufs, b.lastBuf, b.arena = b.items[:0], b.bufs[:0], nil, b.arena[:0]
		flush := b.flush
		pl.free <- b
		if flush {
			pl.flushed.Done()
		}
	}
}

// work runs a batch through the worker's tracker. A memory fault on a
// packet's data (a mapped file truncated under the reader) drops the rest
// of the batch and is counted; the reader reports the file's error.
func (pl *Pipeline) work(w *worker, b *batch) {
	defer pl.countFault()
	for i := range b.items {
		it := &b.items[i]
		if r := DecodePacketWith(it.p.Link, it.p.Data, &w.dec, &pl.cfg.Tunnels); r != SkipNone {
			// With one worker the reader does not decode: skips are
			// counted here.
			w.t.advance(it.now)
			w.t.skipped[int(r)%len(w.t.skipped)].Add(1)
			continue
		}
		w.t.decoded(&it.p, &w.dec, it.now)
	}
	w.t.advance(b.now)
	if b.flush {
		w.t.Flush()
	}
}

// countFault, deferred, counts a memory fault on packet data (see work)
// and lets any other panic go on.
func (pl *Pipeline) countFault() {
	if r := recover(); r != nil {
		if !isFault(r) {
			panic(r)
		}
		pl.faults.Add(1)
	}
}

// inlinePacket runs a packet through the inline tracker, a fault on its
// data counted as in work.
func (pl *Pipeline) inlinePacket(w *worker, p *Packet) {
	if p.buf != nil && p.buf.m != nil {
		defer pl.countFault()
	}
	w.t.Packet(p)
}

// Faults returns how many batches a memory fault cut short (a mapped file
// truncated while it was read); safe from any goroutine.
func (pl *Pipeline) Faults() uint64 { return pl.faults.Load() }

// shard picks a worker for a decoded packet: the same for both directions.
func (pl *Pipeline) shard(d *Decoded) int {
	s, t := d.Src.As16(), d.Dst.As16()
	var h uint64
	for i := 0; i < 16; i += 8 {
		h += binary.LittleEndian.Uint64(s[i:]) ^ binary.LittleEndian.Uint64(t[i:])
	}
	h ^= uint64(d.SrcPort) ^ uint64(d.DstPort)
	h += uint64(d.Proto)
	h *= 0x9e3779b97f4a7c15
	hi, _ := bits.Mul64(h^(h>>29), uint64(len(pl.workers)))
	return int(hi)
}

// Packet hands one captured packet to its worker. For packets of capture
// files the file buffer is held, so p.Data stays valid until the worker is
// done; other packets are copied.
func (pl *Pipeline) Packet(p *Packet) {
	if w := pl.inline; w != nil {
		pl.inlinePacket(w, p)
		if len(w.out) > 0 {
			w.doneNow = w.t.now
			pl.collect(false)
		}
		return
	}
	pl.npackets++
	pl.nbytes += uint64(p.CapLen)
	if p.TS > pl.now {
		pl.now = p.TS
	}
	if pl.inRound == 0 {
		pl.roundTS = p.TS
	}
	pl.inRound++
	// The reader decodes a packet only to pick its worker: with one worker
	// that is left to the worker, which decodes it anyway.
	i, skip := 0, SkipNone
	if len(pl.workers) > 1 {
		d := &pl.dec
		if skip = DecodePacketWith(p.Link, p.Data, d, &pl.cfg.Tunnels); skip != SkipNone {
			pl.skipped[int(skip)%len(pl.skipped)].Add(1)
		} else {
			i = pl.shard(d)
		}
	}
	if skip == SkipNone {
		b := pl.open[i]
		if b == nil {
			b = <-pl.free
			pl.open[i] = b
		}
		b.items = append(b.items, item{p: *p, now: pl.now})
		it := &b.items[len(b.items)-1]
		if p.buf != nil {
			if p.buf != b.lastBuf {
				p.buf.hold()
				b.bufs = append(b.bufs, p.buf)
				b.lastBuf = p.buf
			}
		} else {
			off := len(b.arena)
			b.arena = append(b.arena, p.Data...)
			it.p.Data = b.arena[off:len(b.arena):len(b.arena)]
			if len(b.arena) >= maxArena {
				pl.inRound = roundPackets // bound the copies a batch holds
			}
		}
	}
	// Live records come out within a round's packet time; files only need
	// rounds large enough to make the hand-over cheap.
	if pl.inRound >= roundPackets || !pl.ordered && p.TS-pl.roundTS >= roundTime {
		pl.endRound(false)
	}
}

// endRound hands every worker its batch of the round (empty ones too: they
// carry the packet time, which runs the workers' timers), then emits what
// has been decided.
func (pl *Pipeline) endRound(flush bool) {
	if w := pl.inline; w != nil {
		w.t.advance(pl.now)
		if flush {
			w.t.Flush()
		}
		w.doneNow = w.t.now
		pl.collect(flush)
		return
	}
	pl.packets.Store(pl.npackets)
	pl.bytes.Store(pl.nbytes)
	if flush {
		pl.flushed.Add(len(pl.workers))
	}
	for i, w := range pl.workers {
		b := pl.open[i]
		if b == nil {
			b = <-pl.free
		}
		pl.open[i] = nil
		b.now, b.flush = pl.now, flush
		w.in <- b
	}
	pl.inRound = 0
	if flush {
		pl.flushed.Wait()
	}
	pl.collect(flush)
}

// collect takes the workers' new records and emits those whose turn has
// come (all of them when final).
func (pl *Pipeline) collect(final bool) {
	water := int64(1<<63 - 1)
	workers := pl.workers
	if pl.inline != nil {
		workers = pl.inlineList[:]
	}
	for _, w := range workers {
		w.mu.Lock()
		for _, h := range w.out {
			pl.pending = append(pl.pending, pendingRec{h: h, end: h.EndTime.UnixNano()})
		}
		clear(w.out)
		w.out = w.out[:0]
		water = min(water, w.doneNow)
		w.mu.Unlock()
	}
	if len(pl.pending) == 0 {
		return
	}
	n := len(pl.pending)
	if pl.ordered {
		slices.SortFunc(pl.pending, func(a, b pendingRec) int {
			if a.end != b.end {
				if a.end < b.end {
					return -1
				}
				return 1
			}
			switch {
			case a.h.FirstPacket < b.h.FirstPacket:
				return -1
			case a.h.FirstPacket > b.h.FirstPacket:
				return 1
			}
			return 0
		})
		if !final {
			// Every worker has finished a round at packet time water or
			// later, and decides nothing earlier than its last round's time.
			n, _ = slices.BinarySearchFunc(pl.pending, water, func(r pendingRec, t int64) int {
				if r.end < t {
					return -1
				}
				return 1
			})
		}
	}
	for _, r := range pl.pending[:n] {
		if pl.cfg.Emit != nil {
			pl.cfg.Emit(r.h)
		}
	}
	m := copy(pl.pending, pl.pending[n:])
	clear(pl.pending[m:])
	pl.pending = pl.pending[:m]
}

// Advance moves packet time forward without a packet (live captures call it
// on read timeouts), so that timeouts fire, and emits what was decided.
func (pl *Pipeline) Advance(now time.Time) {
	if ns := now.UnixNano(); ns > pl.now {
		pl.now = ns
	}
	pl.endRound(false)
}

// Flush finishes every open flow (see Tracker.Flush) and emits every
// record. Call it once, at the end of the capture, before Close.
func (pl *Pipeline) Flush() {
	if pl.finished {
		return
	}
	pl.finished = true
	pl.endRound(true)
}

// Close stops the workers. The Pipeline must not be used afterwards.
func (pl *Pipeline) Close() {
	for _, w := range pl.workers {
		close(w.in)
	}
	pl.wg.Wait()
}

// Stats returns the counters of all workers together; safe from any
// goroutine.
func (pl *Pipeline) Stats() TrackerStats {
	if pl.inline != nil {
		return pl.inline.t.Stats()
	}
	s := TrackerStats{
		Packets: pl.packets.Load(),
		Bytes:   pl.bytes.Load(),
		Skipped: map[string]uint64{},
		Evicted: map[string]uint64{},
	}
	for _, r := range SkipReasons() {
		if n := pl.skipped[int(r)%len(pl.skipped)].Load(); n > 0 {
			s.Skipped[r.String()] = n
		}
	}
	for _, w := range pl.workers {
		ws := w.t.Stats()
		s.FlowsTracked += ws.FlowsTracked
		s.ActiveFlows += ws.ActiveFlows
		s.BufferedBytes += ws.BufferedBytes
		s.TLSFlows += ws.TLSFlows
		s.NonTLSFlows += ws.NonTLSFlows
		s.Handshakes += ws.Handshakes
		s.Ambiguous += ws.Ambiguous
		s.QUICUndecryptable += ws.QUICUndecryptable
		for k, v := range ws.Skipped {
			s.Skipped[k] += v
		}
		for k, v := range ws.Evicted {
			s.Evicted[k] += v
		}
	}
	return s
}
