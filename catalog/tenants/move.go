package tenants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
	"github.com/microfi/tenantgate/catalog/shards"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/move"
	"github.com/microfi/tenantgate/shard/storage"
)

// Move steps, in order; a move's row records the last one completed, and a
// rerun resumes after it.
const (
	StepPlanned     = "planned"
	StepProvisioned = "provisioned" // the target database exists, migrated and stamped
	StepCopied      = "copied"      // first full copy applied
	StepCaughtUp    = "caught_up"   // deltas applied until small; full verify passed
	StepFencing     = "fencing"     // about to fence the source (it may be fenced)
	StepFenced      = "fenced"      // the source refuses writes
	StepVerified    = "verified"    // final delta applied and verified
	StepFlipped     = "flipped"     // the catalog points at the target
	StepDone        = "done"
	StepAborted     = "aborted"
)

// ErrMoveRefused: the move cannot be done as asked (the message says why).
var ErrMoveRefused = errors.New("move refused")

// MoveOptions shape a move.
type MoveOptions struct {
	To     string // target shard; "" = the placement policy's choice
	DryRun bool
	// Progress, when set, is told each step as it completes.
	Progress func(step, detail string)
	// AwaitProxies waits until every live proxy serves from the new
	// location; nil asks the proxy registry (registry.AwaitLatest), or
	// waits ProxyGrace when no proxy is registered.
	AwaitProxies func(ctx context.Context) (string, error)
	// MaxRounds bounds the catch-up rounds before the fence (default 5);
	// catch-up stops early once a delta is at most CatchUpRows rows
	// (default 200), so the fenced final delta is small.
	MaxRounds   int
	CatchUpRows int
	// Hook, when set, is called after each recorded step (kill tests).
	Hook func(step string)
}

// ProxyGrace is how long a move waits, without a proxy registry, for
// proxies to see the flip: four of the catalog's change-poll intervals.
const ProxyGrace = 4 * catalog.DefaultPollInterval

// MoveResult is what a move did.
type MoveResult struct {
	TenantID int64  `json:"tenant_id"`
	Host     string `json:"host"`
	From     string `json:"from"`
	To       string `json:"to"`
	DryRun   bool   `json:"dry_run,omitempty"`
	Resumed  bool   `json:"resumed,omitempty"`
	Bytes    int64  `json:"bytes"`
	Rows     int64  `json:"rows"`
	Rounds   int    `json:"rounds"`
	// Fenced is how long the source refused writes before the catalog
	// pointed at the target (proxies then see it within their poll).
	Fenced  time.Duration `json:"fenced_ns"`
	Proxies string        `json:"proxies"`
}

// Move moves a tenant's database to another shard online; see the steps
// above and README "Shards and moves". It is resumable: a move killed at
// any step is finished by calling Move again (its state is in the
// catalog). The old copy stays, fenced, as a backup until CleanupMove.
func (s *Service) Move(ctx context.Context, id int64, opt MoveOptions) (MoveResult, error) {
	if opt.MaxRounds <= 0 {
		opt.MaxRounds = 5
	}
	if opt.CatchUpRows <= 0 {
		opt.CatchUpRows = 200
	}
	if opt.Progress == nil {
		opt.Progress = func(string, string) {}
	}
	if opt.Hook == nil {
		opt.Hook = func(string) {}
	}
	t, err := s.cat.Get(ctx, id)
	if err != nil {
		return MoveResult{}, err
	}
	res := MoveResult{TenantID: t.ID, Host: t.Host, From: t.Shard, To: opt.To, DryRun: opt.DryRun}
	mv, err := s.cat.OpenMove(ctx, id)
	switch {
	case err == nil:
		if opt.To != "" && opt.To != mv.ToShard {
			return res, fmt.Errorf("%w: tenant %s has an unfinished move to %s; rerun it with --to %s, or abort it", ErrMoveRefused, t.Host, mv.ToShard, mv.ToShard)
		}
		res.From, res.To, res.Resumed = mv.FromShard, mv.ToShard, true
		if opt.DryRun {
			opt.Progress("plan", fmt.Sprintf("would resume the move of %s from %s to %s after step %s", t.Host, mv.FromShard, mv.ToShard, mv.Step))
			return res, nil
		}
	case errors.Is(err, catalog.ErrMoveNotFound):
		to, err := s.moveTarget(ctx, t, opt.To)
		if err != nil {
			return res, err
		}
		res.To = to.Name
		size, _ := s.shards.Size(ctx, t.ID, t.DBURL)
		res.Bytes = size
		if opt.DryRun {
			opt.Progress("plan", fmt.Sprintf("would move %s (%d bytes) from %s to %s; the target answers", t.Host, size, t.Shard, to.Name))
			return res, nil
		}
		mv, err = s.cat.StartMove(ctx, catalog.Move{TenantID: t.ID, FromShard: t.Shard, ToShard: to.Name, FromURL: t.DBURL, Step: StepPlanned})
		if err != nil {
			return res, err
		}
		opt.Progress(StepPlanned, fmt.Sprintf("%s: %s → %s (%d bytes)", t.Host, t.Shard, to.Name, size))
	default:
		return res, err
	}
	return s.runMove(ctx, t, mv, opt, res)
}

// moveTarget checks that shard name (or the placement's choice) can take t.
func (s *Service) moveTarget(ctx context.Context, t catalog.Tenant, name string) (catalog.Shard, error) {
	if t.Shard == "" {
		return catalog.Shard{}, fmt.Errorf("%w: tenant %s has a database URL set by hand, outside any shard", ErrMoveRefused, t.Host)
	}
	if name == "" {
		loads, err := s.cat.ShardLoads(ctx)
		if err != nil {
			return catalog.Shard{}, err
		}
		others := loads[:0:0]
		for _, l := range loads {
			if l.Name != t.Shard {
				others = append(others, l)
			}
		}
		best, ok := shards.Choose(others)
		if !ok {
			return catalog.Shard{}, fmt.Errorf("%w: %w", ErrMoveRefused, shards.ErrNoShard)
		}
		name = best.Name
	}
	if name == t.Shard {
		return catalog.Shard{}, fmt.Errorf("%w: tenant %s is on shard %s already", ErrMoveRefused, t.Host, name)
	}
	sh, err := s.reg.Place(ctx, name) // exists, active, below capacity
	if err != nil {
		return catalog.Shard{}, fmt.Errorf("%w: the target cannot take it: %w", ErrMoveRefused, err)
	}
	if h := s.reg.Probe(ctx, sh); !h.OK {
		return catalog.Shard{}, fmt.Errorf("%w: shard %s does not answer: %s", ErrMoveRefused, sh.Name, h.Error)
	}
	return sh, nil
}

// runMove does the steps after mv.Step.
func (s *Service) runMove(ctx context.Context, t catalog.Tenant, mv catalog.Move, opt MoveOptions, res MoveResult) (MoveResult, error) {
	after := func(step string) bool { return stepIndex(mv.Step) >= stepIndex(step) }
	record := func(step, detail string) error {
		if err := s.cat.SetMoveStep(ctx, mv.ID, step, mv.ToURL, "{}"); err != nil {
			return err
		}
		mv.Step = step
		opt.Progress(step, detail)
		opt.Hook(step)
		return nil
	}
	cur, err := s.cat.Get(ctx, t.ID)
	if err != nil {
		return res, err
	}
	if after(StepFlipped) || (cur.DBURL == mv.ToURL && mv.ToURL != mv.FromURL && cur.Shard == mv.ToShard) {
		return s.finishMove(ctx, mv, opt, res)
	}
	if cur.DBURL != mv.FromURL {
		return res, fmt.Errorf("%w: tenant %s's database changed during the move (restored or moved elsewhere); abort this move", ErrMoveRefused, t.Host)
	}
	to, err := s.cat.GetShard(ctx, mv.ToShard)
	if err != nil {
		return res, err
	}
	work := filepath.Join(s.dataDir, "moves", strconv.FormatInt(t.ID, 10))
	if err := os.MkdirAll(work, 0o750); err != nil {
		return res, err
	}
	mv.ToURL = shards.URLFor(to, t.ID, t.Host)
	fromURL, toURL := s.shards.URL(t.ID, mv.FromURL), s.shards.URL(t.ID, mv.ToURL)
	if !after(StepProvisioned) {
		if err := s.provisionTarget(ctx, t, to, toURL, work); err != nil {
			return res, err
		}
		if err := record(StepProvisioned, "target database ready on "+to.Name); err != nil {
			return res, err
		}
	}
	src, err := storage.Open(ctx, fromURL)
	if err != nil {
		return res, fmt.Errorf("open source: %w", err)
	}
	defer src.Close()
	dst, err := storage.Open(ctx, toURL)
	if err != nil {
		return res, fmt.Errorf("open target: %w", err)
	}
	defer dst.Close()
	// The base is what the target holds now, read from the target itself,
	// so a rerun after a kill at any point diffs against the truth.
	base, next := filepath.Join(work, "base.db"), filepath.Join(work, "next.db")
	defer storage.RemoveFiles(next)
	fromSnap := s.snapshotter(ctx, mv.FromShard, t.ID, fromURL)
	if err := s.snapshotter(ctx, mv.ToShard, t.ID, toURL)(base); err != nil {
		return res, fmt.Errorf("read target: %w", err)
	}
	if !after(StepFencing) {
		for round := 1; ; round++ {
			d, err := s.moveRound(ctx, fromSnap, dst, base, next)
			if err != nil {
				return res, err
			}
			res.Rounds++
			step := StepCopied
			if round > 1 {
				step = "catch_up"
			}
			opt.Progress(step, fmt.Sprintf("round %d: %d rows", round, d.Rows()))
			if round == 1 {
				if err := record(StepCopied, fmt.Sprintf("%d rows copied", d.Rows())); err != nil {
					return res, err
				}
			}
			if round > 1 && (d.Rows() <= opt.CatchUpRows || round >= opt.MaxRounds) {
				break
			}
		}
		rep, err := move.Verify(ctx, base, dst, t.ID)
		if err != nil {
			return res, err
		}
		res.Rows = rep.Rows
		if err := record(StepCaughtUp, fmt.Sprintf("verified %d tables, %d rows (counts and SHA-256)", rep.Tables, rep.Rows)); err != nil {
			return res, err
		}
		if err := record(StepFencing, "fencing writes on "+mv.FromShard); err != nil {
			return res, err
		}
	}
	// A tenantgate shard source sends only the ranges that differ from the
	// base (what the target holds), summed here before the fence.
	var sums *move.Sums
	fromShard, partialOK := s.partialSource(ctx, mv.FromShard)
	if partialOK {
		if sm, err := move.SumFile(ctx, base); err == nil {
			sums = &sm
		}
	}
	// From here the source refuses writes, from every process that uses
	// it: the fence is in the database itself.
	if err := move.Fence(ctx, src); err != nil {
		return res, fmt.Errorf("fence source: %w", err)
	}
	// Timed from the fence's commit: installing it first waits for the
	// source's write lock while writes still go through.
	fenceAt := time.Now()
	if !after(StepFenced) {
		if err := record(StepFenced, "writes to "+t.Host+" now wait (503 Tenant unavailable, Retry-After: 1); reads go on"); err != nil {
			return res, err
		}
	}
	// final is what the target must now hold.
	var d move.Delta
	final := base
	t0 := time.Now()
	partial := ""                  // a partial snapshot of the source, when used
	var srcCounts map[string]int64 // the source's row counts, from it
	if sums != nil {
		p := filepath.Join(work, "partial.db")
		defer storage.RemoveFiles(p)
		// Any failure (an older shard, a schema change since the base)
		// falls back to the whole snapshot below.
		if err := s.reg.FetchPartial(ctx, fromShard, t.ID, *sums, p); err == nil {
			if d, srcCounts, err = move.DiffPartial(ctx, p, base); err == nil {
				partial = p
			}
		}
	}
	if partial != "" {
		if err := move.Apply(ctx, dst, d); err != nil {
			return res, err
		}
	} else if srcPath, ok := localFile(fromURL); ok {
		// A fenced local source no longer changes: diff against the file
		// in place instead of copying it first (VACUUM INTO), which was
		// the largest part of the write pause.
		if d, err = move.Diff(ctx, srcPath, base); err != nil {
			return res, err
		}
		if err := move.Apply(ctx, dst, d); err != nil {
			return res, err
		}
		final = srcPath
	} else if d, err = s.moveRound(ctx, fromSnap, dst, base, next); err != nil {
		return res, err
	}
	t1 := time.Now()
	checked, err := move.VerifyDelta(ctx, dst, d)
	if err != nil {
		return res, err
	}
	var rep move.Report
	if partial != "" {
		rep, err = move.VerifyPartial(ctx, partial, srcCounts, dst, t.ID)
	} else {
		rep, err = move.VerifyCounts(ctx, final, dst, t.ID)
	}
	if err != nil {
		return res, err
	}
	t2 := time.Now()
	if !storage.IsRemote(toURL) {
		// The target's last transactions into its main file, synced.
		if _, err := dst.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return res, err
		}
	}
	res.Rows = rep.Rows
	how := "whole snapshot"
	if partial != "" {
		how = "partial snapshot: changed ranges only"
	} else if _, ok := localFile(fromURL); ok {
		how = "source diffed in place"
	}
	if err := record(StepVerified, fmt.Sprintf("final delta %d rows (%s), read back %d; %d tables, %d rows counted; stamp %d (delta read and applied in %v, verified in %v)",
		d.Rows(), how, checked, rep.Tables, rep.Rows, t.ID, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond))); err != nil {
		return res, err
	}
	var size int64
	if fi, err := os.Stat(final); err == nil {
		size = fi.Size() // the verified copy's size, without asking the target
	}
	res.Bytes = size
	if _, err := s.cat.FlipTenant(ctx, t.ID, mv.FromURL, mv.ToURL, mv.ToShard, size); err != nil {
		return res, err
	}
	res.Fenced = time.Since(fenceAt)
	s.shards.Evict(t.ID)
	if err := record(StepFlipped, fmt.Sprintf("catalog points at %s (writes were fenced %v)", mv.ToShard, res.Fenced.Round(time.Millisecond))); err != nil {
		return res, err
	}
	return s.finishMove(ctx, mv, opt, res)
}

// moveRound snapshots the source, applies what changed since base to the
// target, and makes that snapshot the new base.
func (s *Service) moveRound(ctx context.Context, snap func(string) error, dst *sql.DB, base, next string) (move.Delta, error) {
	if err := snap(next); err != nil {
		return move.Delta{}, fmt.Errorf("snapshot source: %w", err)
	}
	d, err := move.Diff(ctx, next, base)
	if err != nil {
		return d, err
	}
	if err := move.Apply(ctx, dst, d); err != nil {
		return d, err
	}
	if err := storage.RemoveFiles(base); err != nil {
		return d, err
	}
	if err := os.Rename(next, base); err != nil {
		return d, err
	}
	return d, nil
}

// snapshotter returns how to snapshot a database on a shard: downloaded
// from a tenantgate shard's admin API (VACUUM INTO there), else
// move.Snapshot (VACUUM INTO here, or one read transaction over libSQL).
func (s *Service) snapshotter(ctx context.Context, shardName string, id int64, url string) func(dst string) error {
	if sh, err := s.cat.GetShard(ctx, shardName); err == nil && sh.Kind == shards.KindTenantgate {
		return func(dst string) error { return s.reg.FetchSnapshot(ctx, sh, id, dst) }
	}
	return func(dst string) error { return move.Snapshot(ctx, url, dst) }
}

// partialSource reports whether the shard a move reads from can send
// partial snapshots (a tenantgate shard), and the shard.
func (s *Service) partialSource(ctx context.Context, name string) (catalog.Shard, bool) {
	sh, err := s.cat.GetShard(ctx, name)
	return sh, err == nil && sh.Kind == shards.KindTenantgate
}

// provisionTarget makes the tenant's empty database on the target shard,
// unfenced and on the source's schema version.
func (s *Service) provisionTarget(ctx context.Context, t catalog.Tenant, to catalog.Shard, toURL, work string) error {
	if to.Name == catalog.LocalShard {
		path := s.shards.Path(t.ID)
		if _, err := os.Stat(path); err == nil {
			// The fenced copy an earlier move left here: keep it in the
			// move's folder, out of the way.
			stale := filepath.Join(work, fmt.Sprintf("stale-%d.db", time.Now().UnixNano()))
			s.shards.Evict(t.ID)
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Rename(path+suffix, stale+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
		}
	} else if err := s.reg.CreateDatabase(ctx, to, t); err != nil {
		return err
	}
	if err := shard.ProvisionWith(ctx, toURL, t.ID, nil); err != nil && !errors.Is(err, shard.ErrExists) {
		return fmt.Errorf("provision target: %w", err)
	}
	db, err := storage.Open(ctx, toURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := move.Unfence(ctx, db); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	src, err := storage.Open(ctx, s.shards.URL(t.ID, t.DBURL))
	if err != nil {
		return err
	}
	defer src.Close()
	a, aerr := migrations.Status(ctx, src)
	b, berr := migrations.Status(ctx, db)
	if aerr != nil || berr != nil {
		return errors.Join(aerr, berr)
	}
	if va, vb := latest(a), latest(b); va != vb {
		return fmt.Errorf("%w: source is at tenant schema version %d, target at %d: migrate both to the same version first", ErrMoveRefused, va, vb)
	}
	return nil
}

// finishMove waits for the proxies to serve from the new place and closes
// the move.
func (s *Service) finishMove(ctx context.Context, mv catalog.Move, opt MoveOptions, res MoveResult) (MoveResult, error) {
	switch {
	case opt.AwaitProxies != nil:
		who, err := opt.AwaitProxies(ctx)
		if err != nil {
			return res, fmt.Errorf("the catalog points at %s, but not every proxy has seen it: %w", mv.ToShard, err)
		}
		res.Proxies = who
	default:
		// Every live proxy in the registry (issue 20) must have applied
		// the flip; a laggard is named and the move stays unfinished, so
		// a rerun waits again.
		ack, err := registry.AwaitLatest(ctx, s.cat, 0)
		if err != nil {
			return res, fmt.Errorf("the catalog points at %s, but not every live proxy has applied it (rerun to wait again): %w", mv.ToShard, err)
		}
		if len(ack.Proxies) > 0 {
			names := make([]string, len(ack.Proxies))
			for i, p := range ack.Proxies {
				names[i] = p.ID
			}
			res.Proxies = fmt.Sprintf("acknowledged by every live proxy (%s) in %v", strings.Join(names, ", "), ack.Elapsed.Round(time.Millisecond))
			break
		}
		// No proxy registered (older proxies, or none running): give
		// pollers their change-log interval a few times over.
		select {
		case <-time.After(ProxyGrace):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		res.Proxies = fmt.Sprintf("no live proxy in the registry: waited %v for proxies polling the change log", ProxyGrace)
	}
	if err := s.cat.FinishMove(ctx, mv.ID, StepDone); err != nil {
		return res, err
	}
	opt.Progress(StepDone, res.Proxies+"; the old copy stays, fenced, until --cleanup")
	opt.Hook(StepDone)
	return res, nil
}

// AbortMove ends an unfinished move before its flip: the source's fence is
// lifted and the tenant stays where it was (the target's copy is left).
func (s *Service) AbortMove(ctx context.Context, id int64) (catalog.Move, error) {
	mv, err := s.cat.OpenMove(ctx, id)
	if err != nil {
		return mv, err
	}
	t, err := s.cat.Get(ctx, id)
	if err != nil {
		return mv, err
	}
	if stepIndex(mv.Step) >= stepIndex(StepFlipped) || (t.DBURL == mv.ToURL && mv.ToURL != mv.FromURL) {
		return mv, fmt.Errorf("%w: the catalog already points at %s; rerun the move to finish it", ErrMoveRefused, mv.ToShard)
	}
	src, err := storage.Open(ctx, s.shards.URL(id, mv.FromURL))
	if err != nil {
		return mv, err
	}
	defer src.Close()
	if err := move.Unfence(ctx, src); err != nil {
		return mv, err
	}
	if err := s.cat.FinishMove(ctx, mv.ID, StepAborted); err != nil {
		return mv, err
	}
	mv.Step = StepAborted
	return mv, nil
}

// CleanupMove removes the old copy the tenant's last finished move kept.
func (s *Service) CleanupMove(ctx context.Context, id int64) (catalog.Move, error) {
	mv, err := s.cat.LastMove(ctx, id)
	if err != nil {
		return mv, err
	}
	t, err := s.cat.Get(ctx, id)
	if err != nil {
		return mv, err
	}
	switch {
	case mv.Step != StepDone:
		return mv, fmt.Errorf("%w: the last move of %s is %s, not done", ErrMoveRefused, t.Host, mv.Step)
	case !mv.CleanedAt.IsZero():
		return mv, fmt.Errorf("%w: the old copy of %s's last move was removed already", ErrMoveRefused, t.Host)
	case t.DBURL == mv.FromURL && t.Shard == mv.FromShard:
		return mv, fmt.Errorf("%w: %s is served from the old copy", ErrMoveRefused, t.Host)
	}
	if mv.FromShard == catalog.LocalShard {
		if err := storage.RemoveFiles(s.shards.Path(id)); err != nil {
			return mv, err
		}
	} else if sh, err := s.cat.GetShard(ctx, mv.FromShard); err == nil {
		if err := s.reg.RemoveDatabase(ctx, sh, t); err != nil {
			return mv, err
		}
	}
	os.RemoveAll(filepath.Join(s.dataDir, "moves", strconv.FormatInt(id, 10)))
	return mv, s.cat.MarkMoveCleaned(ctx, mv.ID)
}

var moveSteps = []string{StepPlanned, StepProvisioned, StepCopied, StepCaughtUp, StepFencing, StepFenced, StepVerified, StepFlipped, StepDone}

func stepIndex(step string) int {
	for i, s := range moveSteps {
		if s == step {
			return i
		}
	}
	return -1
}

func latest(applied []migrations.Applied) int {
	if len(applied) == 0 {
		return 0
	}
	return applied[len(applied)-1].Version
}

// localFile is the path of a database in a local file, and whether it is one.
func localFile(url string) (string, bool) {
	if storage.IsRemote(url) {
		return "", false
	}
	path, err := storage.LocalPath(url)
	return path, err == nil
}
