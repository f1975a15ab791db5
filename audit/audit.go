// Package audit is the tamper-evident record shared by tenant databases and
// the catalog: entries form a hash chain (each stores the hash of the one
// before), so an edited, inserted or removed row breaks the chain where it
// happened. It is a leaf: it hashes and checks entries, the stores that
// hold them write and read the rows.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Genesis is the previous hash of a chain's first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// TimeFormat is how entries record their time (UTC, fixed width, so it
// sorts and hashes the same everywhere).
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Entry is one audited event: who (actor), what (action, target, changed
// fields — never secrets), when, and which request. Seq numbers a chain
// from 1 with no gaps.
type Entry struct {
	Seq        int64             `json:"id"`
	At         string            `json:"at"`
	UserID     int64             `json:"user_id,omitempty"`
	Role       string            `json:"role"`
	TokenID    string            `json:"token_id,omitempty"`
	ClientAddr string            `json:"client_addr,omitempty"`
	RequestID  string            `json:"request_id,omitempty"`
	Action     string            `json:"action"`
	TargetType string            `json:"target_type,omitempty"`
	TargetID   string            `json:"target_id,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
	PrevHash   string            `json:"prev_hash"`
	Hash       string            `json:"hash"`
}

// DetailsJSON is the stored form of Details ("{}" when empty): JSON with
// sorted keys, so the same details always hash the same.
func (e *Entry) DetailsJSON() string {
	if len(e.Details) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(e.Details) // map keys are sorted by encoding/json
	return string(b)
}

// SetDetailsJSON parses the stored form back.
func (e *Entry) SetDetailsJSON(s string) error {
	e.Details = nil
	if s == "" || s == "{}" {
		return nil
	}
	return json.Unmarshal([]byte(s), &e.Details)
}

// Compute returns the entry's hash over every field but Hash, chained to
// PrevHash. scope names the chain (the tenant id, or "platform"), so a row
// copied from another chain does not verify.
func (e *Entry) Compute(scope string) string {
	fields := []any{scope, e.Seq, e.At, e.UserID, e.Role, e.TokenID, e.ClientAddr, e.RequestID,
		e.Action, e.TargetType, e.TargetID, e.DetailsJSON(), e.PrevHash}
	b, _ := json.Marshal(fields) // an array of strings and integers cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Seal sets Seq, PrevHash and Hash to append e after prev (nil: e is the
// first entry).
func (e *Entry) Seal(scope string, prev *Entry) {
	e.Seq, e.PrevHash = 1, Genesis
	if prev != nil {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	e.Hash = e.Compute(scope)
}

// Finding is one problem a verification found.
type Finding struct {
	Seq     int64  `json:"id"`
	Problem string `json:"problem"`
}

func (f Finding) String() string { return fmt.Sprintf("entry %d: %s", f.Seq, f.Problem) }

// Verifier checks a chain fed to it in Seq order.
type Verifier struct {
	Scope    string
	prev     *Entry
	Findings []Finding
	Count    int64
}

// Add checks one entry against the one before it.
func (v *Verifier) Add(e Entry) {
	v.Count++
	wantSeq, wantPrev := int64(1), Genesis
	if v.prev != nil {
		wantSeq, wantPrev = v.prev.Seq+1, v.prev.Hash
	}
	switch {
	case e.Seq > wantSeq:
		v.Findings = append(v.Findings, Finding{wantSeq, fmt.Sprintf("gap: entries %d to %d are missing", wantSeq, e.Seq-1)})
	case e.Seq < wantSeq:
		v.Findings = append(v.Findings, Finding{e.Seq, "out of order or duplicated"})
	}
	if e.PrevHash != wantPrev {
		v.Findings = append(v.Findings, Finding{e.Seq, "previous-hash link broken (an entry before it was edited, removed or inserted)"})
	}
	if got := e.Compute(v.Scope); got != e.Hash {
		v.Findings = append(v.Findings, Finding{e.Seq, "content does not match its hash (edited)"})
	}
	v.prev = &e
}

// Summary is a one-line report.
func (v *Verifier) Summary() string {
	if len(v.Findings) == 0 {
		return fmt.Sprintf("%d entries, chain intact", v.Count)
	}
	parts := make([]string, len(v.Findings))
	for i, f := range v.Findings {
		parts[i] = f.String()
	}
	return fmt.Sprintf("%d entries, %d findings: %s", v.Count, len(v.Findings), strings.Join(parts, "; "))
}
