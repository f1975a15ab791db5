package bank

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"
)

// DemoLogin is the sign-in of a seeded demo tenant's administrator. Every
// seeded user shares this password, so the demo can also be tried as the
// teller or a customer.
type DemoLogin struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// DemoEmailDomain is the (reserved, undeliverable) domain of seeded users.
const DemoEmailDomain = "microfi.example"

type demoPerson struct{ first, last string }

// Names by region, so a Kenyan demo does not greet a Ghanaian teller.
var demoNames = map[string][]demoPerson{
	"west": {
		{"Ama", "Mensah"}, {"Kwame", "Asante"}, {"Akosua", "Owusu"}, {"Kofi", "Boateng"},
		{"Efua", "Ansah"}, {"Yaw", "Darko"}, {"Adwoa", "Agyeman"}, {"Kojo", "Appiah"},
	},
	"nigeria": {
		{"Ngozi", "Okafor"}, {"Chinedu", "Eze"}, {"Amina", "Bello"}, {"Babatunde", "Adebayo"},
		{"Funmilayo", "Adeyemi"}, {"Emeka", "Nwosu"}, {"Halima", "Yusuf"}, {"Tunde", "Balogun"},
	},
	"east": {
		{"Wanjiru", "Kamau"}, {"Otieno", "Odhiambo"}, {"Achieng", "Atieno"}, {"Kiprono", "Kipchoge"},
		{"Njeri", "Mwangi"}, {"Baraka", "Mutua"}, {"Amani", "Nyerere"}, {"Zawadi", "Mushi"},
	},
	"francophone": {
		{"Aminata", "Diallo"}, {"Moussa", "Traoré"}, {"Fatou", "Ndiaye"}, {"Ibrahima", "Sow"},
		{"Awa", "Koné"}, {"Sékou", "Camara"}, {"Mariama", "Ba"}, {"Ousmane", "Diop"},
	},
	"southern": {
		{"Thandiwe", "Nkosi"}, {"Sipho", "Dlamini"}, {"Lindiwe", "Mokoena"}, {"Thabo", "Ndlovu"},
		{"Chipo", "Banda"}, {"Mulenga", "Phiri"}, {"Naledi", "Khumalo"}, {"Bongani", "Zulu"},
	},
	"other": {
		{"Ama", "Mensah"}, {"Wanjiru", "Kamau"}, {"Chinedu", "Eze"}, {"Aminata", "Diallo"},
		{"Thabo", "Ndlovu"}, {"Abebe", "Bekele"}, {"Nadia", "Haddad"}, {"Otieno", "Odhiambo"},
	},
}

func demoRegion(country string) string {
	switch country {
	case "GH", "SL", "LR", "GM":
		return "west"
	case "NG":
		return "nigeria"
	case "KE", "UG", "TZ", "RW", "BI", "SS":
		return "east"
	case "SN", "CI", "BJ", "TG", "BF", "ML", "NE", "GN", "CM", "GA", "CG", "TD", "CF", "CD":
		return "francophone"
	case "ZA", "ZM", "ZW", "MW", "MZ", "BW", "NA", "LS", "SZ":
		return "southern"
	}
	return "other"
}

// demo user i of people: 0 is the admin, 1 the teller, the rest customers.
func demoEmail(p demoPerson) string {
	local := strings.ToLower(asciiFold(p.first) + "." + asciiFold(p.last))
	return local + "@" + DemoEmailDomain
}

func asciiFold(s string) string {
	r := strings.NewReplacer("é", "e", "è", "e", "ë", "e", "ô", "o", "ï", "i")
	return r.Replace(s)
}

// SeedDemo fills an empty tenant database with a small, believable bank: an
// admin, a staff teller, six customers with savings and current accounts,
// and about two months of deposits, withdrawals and transfers whose sums
// are exactly the balances. It hashes one random password, shared by all
// seeded users, and returns the admin's login. The password is random enough
// to be hashed with DemoPasswordParams; logins upgrade it.
func SeedDemo(ctx context.Context, db *sql.DB, tenantID int64, country string) (DemoLogin, error) {
	country = strings.ToUpper(strings.TrimSpace(country))
	currency, ok := CurrencyFor(country)
	if !ok {
		return DemoLogin{}, &ValidationError{Fields: map[string]string{"country": "is not a supported country"}}
	}
	password := randomPassword()
	hash, err := hashPassword(ctx, password, DemoPasswordParams)
	if err != nil {
		return DemoLogin{}, fmt.Errorf("seed demo: %w", err)
	}
	people := demoNames[demoRegion(country)]
	plan := planDemo(mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64())), len(people)-2, time.Now().UTC())

	err = retryBusy(ctx, func() error { return seedTx(ctx, db, tenantID, currency, people, hash, plan) })
	if err != nil {
		return DemoLogin{}, fmt.Errorf("seed demo tenant %d: %w", tenantID, err)
	}
	return DemoLogin{Email: demoEmail(people[0]), Password: password}, nil
}

func seedTx(ctx context.Context, db *sql.DB, tenantID int64, currency string, people []demoPerson, hash string, plan demoPlan) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer tx.Rollback()

	userIDs := make([]int64, len(people))
	for i, p := range people {
		role := RoleCustomer
		switch i {
		case 0:
			role = RoleAdmin
		case 1:
			role = RoleStaff
		}
		err := tx.QueryRowContext(ctx,
			`INSERT INTO users (tenant_id, email, name, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			tenantID, demoEmail(p), p.first+" "+p.last, hash, role, plan.start.Format(sqliteTime)).Scan(&userIDs[i])
		if err != nil {
			return fmt.Errorf("insert user: %w", classify(err))
		}
	}
	accountIDs := make([]int64, len(plan.accounts))
	for i, a := range plan.accounts {
		err := tx.QueryRowContext(ctx,
			`INSERT INTO accounts (tenant_id, user_id, type, currency, balance, status, created_at) VALUES (?, ?, ?, ?, ?, 'active', ?) RETURNING id`,
			tenantID, userIDs[a.customer+2], a.kind, currency, a.balance, a.opened.Format(sqliteTime)).Scan(&accountIDs[i])
		if err != nil {
			return fmt.Errorf("insert account: %w", classify(err))
		}
	}
	// One multi-row INSERT: the history is written in one statement.
	var sb strings.Builder
	args := make([]any, 0, len(plan.postings)*9)
	sb.WriteString(`INSERT INTO transactions (tenant_id, user_id, account_id, to_account_id, type, amount, currency, description, created_at) VALUES `)
	for i, p := range plan.postings {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		actor := userIDs[1] // the teller posts cash in and out
		var to any
		if p.kind == TypeTransfer {
			to = accountIDs[p.to]
			actor = userIDs[plan.accounts[p.from].customer+2]
		}
		args = append(args, tenantID, actor, accountIDs[p.from], to, p.kind, p.amount, currency, p.description, p.at.Format(sqliteTime))
	}
	if len(plan.postings) > 0 {
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("insert transactions: %w", classify(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	return nil
}

type demoAccount struct {
	customer int // index among customers
	kind     string
	opened   time.Time
	balance  int64
}

type demoPosting struct {
	kind        string
	from, to    int // indexes into accounts
	amount      int64
	description string
	at          time.Time
}

type demoPlan struct {
	start    time.Time
	accounts []demoAccount
	postings []demoPosting
}

// planDemo simulates the history in memory, in time order, so no balance is
// ever negative and the final balances are the sums of the postings.
func planDemo(r *mrand.Rand, customers int, now time.Time) demoPlan {
	start := now.Add(-60 * 24 * time.Hour).Truncate(time.Hour)
	plan := demoPlan{start: start}
	for c := 0; c < customers; c++ {
		plan.accounts = append(plan.accounts, demoAccount{customer: c, kind: AccountSavings})
		if c%2 == 0 {
			plan.accounts = append(plan.accounts, demoAccount{customer: c, kind: AccountCurrent})
		}
	}
	at := start.Add(time.Hour)
	step := func() time.Time {
		at = at.Add(time.Duration(2+r.IntN(20))*time.Hour + time.Duration(r.IntN(3600))*time.Second)
		if at.After(now) {
			at = now
		}
		return at
	}
	// Opening deposits.
	for i := range plan.accounts {
		plan.accounts[i].opened = step()
		amt := int64(50+r.IntN(2000)) * 100
		plan.accounts[i].balance += amt
		plan.postings = append(plan.postings, demoPosting{kind: TypeDeposit, from: i, amount: amt, description: "Opening deposit", at: plan.accounts[i].opened})
	}
	deposits := []string{"Cash deposit at branch", "Market sales", "Salary", "Mobile money top-up", "Susu collection"}
	withdrawals := []string{"Cash withdrawal", "School fees", "Rent", "Stock purchase", "Medical bill"}
	transfers := []string{"Transfer to savings", "Family support", "Loan repayment to group", "Payment for goods"}
	for n := 0; n < 6*len(plan.accounts); n++ {
		i := r.IntN(len(plan.accounts))
		a := &plan.accounts[i]
		switch k := r.IntN(10); {
		case k < 4:
			amt := int64(10+r.IntN(500)) * 100
			a.balance += amt
			plan.postings = append(plan.postings, demoPosting{kind: TypeDeposit, from: i, amount: amt, description: deposits[r.IntN(len(deposits))], at: step()})
		case k < 7:
			if a.balance < 200 {
				continue
			}
			amt := 100 + r.Int64N(a.balance/2)
			a.balance -= amt
			plan.postings = append(plan.postings, demoPosting{kind: TypeWithdrawal, from: i, amount: amt, description: withdrawals[r.IntN(len(withdrawals))], at: step()})
		default:
			j := r.IntN(len(plan.accounts))
			if j == i || a.balance < 200 {
				continue
			}
			amt := 100 + r.Int64N(a.balance/3)
			a.balance -= amt
			plan.accounts[j].balance += amt
			plan.postings = append(plan.postings, demoPosting{kind: TypeTransfer, from: i, to: j, amount: amt, description: transfers[r.IntN(len(transfers))], at: step()})
		}
	}
	// The random steps use up only part of the window; stretch the history
	// over all of it so the newest posting is from the last hour ("about two
	// months, ending now"), not weeks old. Order is kept.
	last := start
	for _, p := range plan.postings {
		if p.at.After(last) {
			last = p.at
		}
	}
	end := now.Add(-time.Duration(5+r.IntN(50)) * time.Minute)
	if span := last.Sub(start); span > 0 && end.After(start) {
		scale := float64(end.Sub(start)) / float64(span)
		stretch := func(t time.Time) time.Time { return start.Add(time.Duration(float64(t.Sub(start)) * scale)) }
		for i := range plan.postings {
			plan.postings[i].at = stretch(plan.postings[i].at)
		}
		for i := range plan.accounts {
			plan.accounts[i].opened = stretch(plan.accounts[i].opened)
		}
	}
	return plan
}

// randomPassword is 16 characters from an alphabet without look-alikes.
func randomPassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics instead)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
