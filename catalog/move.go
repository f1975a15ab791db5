package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Tenant moves between shards (catalog/tenants drives them; this file only
// persists their state, one row per move, so a killed move resumes).

// ErrMoveNotFound: no such move.
var ErrMoveNotFound = errors.New("move not found")

// ErrMoveInProgress: the tenant already has an unfinished move.
var ErrMoveInProgress = errors.New("tenant has an unfinished move")

// Move is the persisted state of one tenant move.
type Move struct {
	ID         int64     `json:"id"`
	TenantID   int64     `json:"tenant_id"`
	FromShard  string    `json:"from_shard"`
	ToShard    string    `json:"to_shard"`
	FromURL    string    `json:"-"` // credentials: never printed
	ToURL      string    `json:"-"`
	Step       string    `json:"step"`
	Detail     string    `json:"detail,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	CleanedAt  time.Time `json:"cleaned_at,omitzero"`
}

const moveColumns = `id, tenant_id, from_shard, to_shard, from_url, to_url, step, detail, started_at, updated_at, finished_at, cleaned_at`

func scanMove(s scanner) (Move, error) {
	var m Move
	var started, updated, finished, cleaned timeValue
	err := s.Scan(&m.ID, &m.TenantID, &m.FromShard, &m.ToShard, &m.FromURL, &m.ToURL, &m.Step, &m.Detail,
		&started, &updated, &finished, &cleaned)
	if errors.Is(err, sql.ErrNoRows) {
		return Move{}, ErrMoveNotFound
	}
	if err != nil {
		return Move{}, fmt.Errorf("%w: read move: %w", ErrUnavailable, err)
	}
	m.StartedAt, m.UpdatedAt, m.FinishedAt, m.CleanedAt = started.t, updated.t, finished.t, cleaned.t
	return m, nil
}

// StartMove records a new move. A tenant has at most one unfinished move
// (a unique partial index decides races): ErrMoveInProgress.
func (c *Catalog) StartMove(ctx context.Context, m Move) (Move, error) {
	row := c.db.QueryRowContext(ctx, `INSERT INTO tenant_moves (tenant_id, from_shard, to_shard, from_url, to_url, step)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING `+moveColumns,
		m.TenantID, m.FromShard, m.ToShard, m.FromURL, m.ToURL, m.Step)
	got, err := scanMove(row)
	if errors.Is(err, ErrMoveNotFound) {
		return Move{}, fmt.Errorf("%w: tenant %d", ErrMoveInProgress, m.TenantID)
	}
	return got, err
}

// OpenMove returns the tenant's unfinished move, or ErrMoveNotFound.
func (c *Catalog) OpenMove(ctx context.Context, tenantID int64) (Move, error) {
	return scanMove(c.db.QueryRowContext(ctx, `SELECT `+moveColumns+` FROM tenant_moves
		WHERE tenant_id = ? AND finished_at IS NULL`, tenantID))
}

// LastMove returns the tenant's most recent move, finished or not.
func (c *Catalog) LastMove(ctx context.Context, tenantID int64) (Move, error) {
	return scanMove(c.db.QueryRowContext(ctx, `SELECT `+moveColumns+` FROM tenant_moves
		WHERE tenant_id = ? ORDER BY id DESC LIMIT 1`, tenantID))
}

// OpenMoves lists every unfinished move.
func (c *Catalog) OpenMoves(ctx context.Context) ([]Move, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+moveColumns+` FROM tenant_moves WHERE finished_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("%w: list moves: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	var out []Move
	for rows.Next() {
		m, err := scanMove(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetMoveStep records the last completed step of an unfinished move (and
// the target URL once it is known).
func (c *Catalog) SetMoveStep(ctx context.Context, id int64, step, toURL, detail string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tenant_moves SET step = ?, to_url = ?, detail = ?, updated_at = CURRENT_TIMESTAMP
		WHERE id = ? AND finished_at IS NULL`, step, toURL, detail, id)
	if err != nil {
		return fmt.Errorf("%w: record move step: %w", ErrUnavailable, err)
	}
	return nil
}

// FinishMove closes a move with its final step (done, aborted).
func (c *Catalog) FinishMove(ctx context.Context, id int64, step string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tenant_moves SET step = ?, finished_at = CURRENT_TIMESTAMP, updated_at = CURRENT_TIMESTAMP
		WHERE id = ? AND finished_at IS NULL`, step, id)
	if err != nil {
		return fmt.Errorf("%w: finish move: %w", ErrUnavailable, err)
	}
	return nil
}

// MarkMoveCleaned records that a finished move's old copy was removed.
func (c *Catalog) MarkMoveCleaned(ctx context.Context, id int64) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tenant_moves SET cleaned_at = CURRENT_TIMESTAMP WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("%w: mark move cleaned: %w", ErrUnavailable, err)
	}
	return nil
}
