package proxy_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// 50 goroutines post random transfers, deposits and withdrawals against a
// handful of accounts through the HTTP API. Afterwards, read back through
// the API: no balance is negative, each balance is the sum of its postings,
// and the total is deposits minus withdrawals.
func TestMoneyInvariantsUnderConcurrency(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "acme", "GH")
	staff := f.tokens[proxy.RoleStaff]

	accounts := []int64{f.aliceAcc.ID, f.bobAcc.ID}
	for i := 0; i < 3; i++ {
		r := s.Do("POST", f.host, "/api/accounts", staff, map[string]any{"user_id": f.alice.ID, "type": "current"})
		var body struct{ Account bank.Account }
		r.JSON(t, &body)
		if r.Status != 201 {
			t.Fatalf("create account: %d %s", r.Status, r.Body)
		}
		accounts = append(accounts, body.Account.ID)
	}

	const workers, perWorker = 50, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	errs := make(chan error, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				p := map[string]any{"account_id": accounts[rand.IntN(len(accounts))], "amount": 1 + rand.IntN(60_000)}
				switch rand.IntN(3) {
				case 0:
					p["type"] = "deposit"
				case 1:
					p["type"] = "withdrawal"
				default:
					p["type"] = "transfer"
					to := p["account_id"]
					for to == p["account_id"] {
						to = accounts[rand.IntN(len(accounts))]
					}
					p["to_account_id"] = to
				}
				r, err := doRaw(s, "POST", f.host, "/api/transactions", staff, p)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
				if r.status != 201 && r.status != 422 {
					errs <- fmt.Errorf("post %v: %d %s", p, r.status, r.body)
				}
				if r.status == 422 {
					var e errorBody
					json.Unmarshal(r.body, &e)
					if e.Error != "Insufficient funds" {
						errs <- fmt.Errorf("post %v: 422 %s", p, r.body)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if statuses[201] == 0 {
		t.Fatalf("no posting succeeded: %v", statuses)
	}
	t.Logf("statuses: %v", statuses)

	txs := f.allTransactions(t, staff, "")
	sums := map[int64]int64{}
	var net int64
	for _, tx := range txs {
		switch tx.Type {
		case "deposit":
			sums[tx.AccountID] += tx.Amount
			net += tx.Amount
		case "withdrawal":
			sums[tx.AccountID] -= tx.Amount
			net -= tx.Amount
		case "transfer":
			sums[tx.AccountID] -= tx.Amount
			sums[*tx.ToAccountID] += tx.Amount
		}
	}
	var total int64
	for _, id := range accounts {
		bal := f.balance(t, id)
		if bal < 0 {
			t.Errorf("account %d: negative balance %d", id, bal)
		}
		if bal != sums[id] {
			t.Errorf("account %d: balance %d, sum of postings %d", id, bal, sums[id])
		}
		total += bal
	}
	if total != net {
		t.Errorf("total %d != deposits - withdrawals %d", total, net)
	}
	// The same figures from one account's filtered listing.
	own := f.allTransactions(t, staff, fmt.Sprintf("&account_id=%d", accounts[0]))
	var sum int64
	for _, tx := range own {
		switch {
		case tx.Type == "deposit":
			sum += tx.Amount
		case tx.Type == "withdrawal" || tx.AccountID == accounts[0]:
			sum -= tx.Amount
		default:
			sum += tx.Amount
		}
	}
	if sum != sums[accounts[0]] {
		t.Errorf("filtered listing sums to %d, want %d", sum, sums[accounts[0]])
	}
}

// The same POST retried 20 times concurrently with one Idempotency-Key
// posts exactly once; every retry gets the first answer.
func TestIdempotencyConcurrentRetries(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "acme", "GH")
	staff := f.tokens[proxy.RoleStaff]
	before := len(f.allTransactions(t, staff, ""))
	startBal := f.balance(t, f.aliceAcc.ID)
	body := map[string]any{"type": "deposit", "account_id": f.aliceAcc.ID, "amount": 2_500, "description": "retry me"}

	var wg sync.WaitGroup
	results := make([]rawResponse, 20)
	errs := make([]error, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = doRaw(s, "POST", f.host, "/api/transactions", staff, body, "Idempotency-Key", "retry-key-1")
		}()
	}
	wg.Wait()
	var first bank.PostingResult
	replayed := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if r.status != 201 {
			t.Fatalf("retry %d: %d %s", i, r.status, r.body)
		}
		var res bank.PostingResult
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = res
		}
		if res.Transaction.ID != first.Transaction.ID || res.Balance != startBal+2_500 {
			t.Fatalf("retry %d: %s (first transaction %d)", i, r.body, first.Transaction.ID)
		}
		if r.header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	if replayed != 19 {
		t.Errorf("%d replays, want 19", replayed)
	}
	if got := len(f.allTransactions(t, staff, "")); got != before+1 {
		t.Fatalf("%d transactions, want %d", got, before+1)
	}
	if got := f.balance(t, f.aliceAcc.ID); got != startBal+2_500 {
		t.Fatalf("balance %d, want %d", got, startBal+2_500)
	}

	t.Run("ErrConflictDifferentBody", func(t *testing.T) {
		b := map[string]any{"type": "deposit", "account_id": f.aliceAcc.ID, "amount": 2_501}
		r := s.Do("POST", f.host, "/api/transactions", staff, b, "Idempotency-Key", "retry-key-1")
		if r.Status != 409 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("ErrConflictOtherCaller", func(t *testing.T) {
		r := s.Do("POST", f.host, "/api/transactions", f.tokens[proxy.RoleAdmin], body, "Idempotency-Key", "retry-key-1")
		if r.Status != 409 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("ErrBadKey", func(t *testing.T) {
		r := s.Do("POST", f.host, "/api/transactions", staff, body, "Idempotency-Key", strings.Repeat("k", 300))
		if r.Status != 400 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}
