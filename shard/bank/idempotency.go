package bank

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"time"
)

// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted, in bytes.
const MaxIdempotencyKeyLen = 255

// IdempotencyTTL is how long a key is remembered at least. Keyed postings
// purge expired keys now and then (about one in purgeEvery), so the table
// stays small without a background job.
const IdempotencyTTL = 24 * time.Hour

const purgeEvery = 64

// errNoKey: the idempotency key has not been used yet.
var errNoKey = errors.New("idempotency key not found")

// ValidateIdempotencyKey accepts 1..MaxIdempotencyKeyLen printable ASCII
// characters.
func ValidateIdempotencyKey(key string) error {
	bad := len(key) == 0 || len(key) > MaxIdempotencyKeyLen
	for i := 0; i < len(key) && !bad; i++ {
		bad = key[i] < 0x21 || key[i] > 0x7e
	}
	if bad {
		return &ValidationError{Fields: map[string]string{
			"Idempotency-Key": fmt.Sprintf("must be 1 to %d printable ASCII characters", MaxIdempotencyKeyLen)}}
	}
	return nil
}

// postingHash fingerprints what was asked and by whom: a key reused for a
// different posting, or by a different user, is a conflict, never a replay
// of someone else's result.
func postingHash(p Posting, opt PostOptions) string {
	h := sha256.New()
	for _, part := range []string{
		"posting/v1", p.Type,
		strconv.FormatInt(p.AccountID, 10), strconv.FormatInt(p.ToAccountID, 10),
		strconv.FormatInt(p.Amount, 10), p.Description,
		strconv.FormatInt(opt.ActorUserID, 10), strconv.FormatInt(opt.OwnerUserID, 10),
	} {
		h.Write([]byte(strconv.Itoa(len(part))))
		h.Write([]byte{':'})
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil))
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// replay returns the stored result for key, ErrIdempotencyConflict when the
// key was used for a different request, or errNoKey.
func (s *Store) replay(ctx context.Context, q queryer, key, hash string) (PostingResult, error) {
	var storedHash, response string
	err := q.QueryRowContext(ctx,
		`SELECT request_hash, response FROM idempotency_keys WHERE tenant_id = ? AND key = ?`,
		s.tenantID, key).Scan(&storedHash, &response)
	if errors.Is(err, sql.ErrNoRows) {
		return PostingResult{}, errNoKey
	}
	if err != nil {
		return PostingResult{}, fmt.Errorf("read idempotency key: %w", classify(err))
	}
	if storedHash != hash {
		return PostingResult{}, ErrIdempotencyConflict
	}
	var res PostingResult
	if err := json.Unmarshal([]byte(response), &res); err != nil {
		return PostingResult{}, fmt.Errorf("decode stored response: %w", err)
	}
	res.Replayed = true
	return res, nil
}

func (s *Store) remember(ctx context.Context, tx *sql.Tx, key, hash string, res PostingResult) error {
	body, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	_, err = s.on(tx).ExecContext(ctx,
		`INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, response) VALUES (?, ?, ?, ?, ?)`,
		s.tenantID, key, hash, 201, string(body))
	if err != nil {
		return fmt.Errorf("record idempotency key: %w", classify(err))
	}
	return nil
}

// maybePurge occasionally deletes expired keys after a keyed posting. It is
// housekeeping: a failure is logged, never returned.
func (s *Store) maybePurge(ctx context.Context) {
	if mrand.IntN(purgeEvery) != 0 {
		return
	}
	if _, err := s.PurgeIdempotencyKeys(ctx, IdempotencyTTL); err != nil {
		slog.WarnContext(ctx, "purge idempotency keys", "tenant_id", s.tenantID, "err", err)
	}
}

// PurgeIdempotencyKeys deletes keys older than age and returns how many.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, age time.Duration) (int64, error) {
	cutoff := time.Now().Add(-age).UTC().Format(sqliteTime)
	r, err := s.on(nil).ExecContext(ctx,
		`DELETE FROM idempotency_keys WHERE tenant_id = ? AND created_at < ?`, s.tenantID, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", classify(err))
	}
	return r.RowsAffected()
}
