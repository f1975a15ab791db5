package bank_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard/bank"
)

// A store bound to another tenant id sees nothing in this database and
// cannot write to it (the guard triggers refuse its tenant_id).
func TestStore_WrongTenantSeesNothing(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t, 7)
	own := bank.New(db, 7)
	u := mustUser(t, own, "ama@example.com", "customer")
	a := mustAccount(t, own, u.ID, "GHS")
	mustPost(t, own, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 5})

	other := bank.New(db, 8)
	if accts, err := other.ListAccounts(ctx, bank.AccountQuery{}); err != nil || len(accts) != 0 {
		t.Errorf("ListAccounts = %v, %v", accts, err)
	}
	if _, err := other.GetAccount(ctx, a.ID, 0); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("GetAccount err = %v", err)
	}
	if _, err := other.GetUser(ctx, u.ID); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("GetUser err = %v", err)
	}
	if users, err := other.ListUsers(ctx, bank.UserQuery{}); err != nil || len(users) != 0 {
		t.Errorf("ListUsers = %v, %v", users, err)
	}
	if page, err := other.ListTransactions(ctx, bank.TransactionQuery{}); err != nil || len(page.Transactions) != 0 {
		t.Errorf("ListTransactions = %v, %v", page, err)
	}
	if _, err := other.Authenticate(ctx, "ama@example.com", "correct horse 42"); !errors.Is(err, bank.ErrInvalidCredentials) {
		t.Errorf("Authenticate err = %v", err)
	}
	if _, err := other.Post(ctx, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 1}, bank.PostOptions{}); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("Post err = %v", err)
	}
	if _, err := other.CreateUser(ctx, bank.NewUser{Email: "x@example.com", Name: "X", Password: "Isolation-pass-1"}); err == nil {
		t.Error("CreateUser for a foreign tenant succeeded; the guard trigger should refuse it")
	}
	if _, err := bank.SeedDemo(ctx, db, 8, "GH"); err == nil {
		t.Error("SeedDemo for a foreign tenant succeeded")
	}
	got, _ := own.GetAccount(ctx, a.ID, 0)
	if got.Balance != 5 {
		t.Errorf("balance = %d, want 5", got.Balance)
	}
}

var sqlVerb = regexp.MustCompile(`(?i)^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\b`)

// Every SQL statement in the package names tenant_id: the test parses the
// package's Go files and checks the query argument of every
// Exec/Query/QueryRow call (string literals and constant pieces joined).
func TestEveryQueryCarriesTenantID(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	calls := 0
	for _, name := range files {
		// runner.go only forwards SQL texts that are checked at their call
		// sites (s.on(tx).QueryRowContext(ctx, `…`)).
		if strings.HasSuffix(name, "_test.go") || name == "runner.go" {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Builders: literal text written into a strings.Builder counts as
		// that builder's query.
		built := map[string]string{}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if sel.Sel.Name == "WriteString" && len(call.Args) == 1 {
				if id, ok := sel.X.(*ast.Ident); ok {
					built[id.Name] += literalText(call.Args[0])
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch sel.Sel.Name {
			case "ExecContext", "QueryContext", "QueryRowContext", "PrepareContext", "Exec", "Query", "QueryRow":
			default:
				return true
			}
			if len(call.Args) < 2 {
				return true
			}
			calls++
			q := call.Args[1]
			text := literalText(q)
			if c, ok := q.(*ast.CallExpr); ok { // sb.String()
				if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "String" {
					if id, ok := s.X.(*ast.Ident); ok {
						text = built[id.Name]
					}
				}
			}
			pos := fset.Position(call.Pos())
			if !sqlVerb.MatchString(text) {
				t.Errorf("%s: cannot read the SQL of this call statically: %q", pos, text)
				return true
			}
			if !strings.Contains(text, "tenant_id") {
				t.Errorf("%s: query without tenant_id: %s", pos, text)
			}
			return true
		})
	}
	if calls < 15 {
		t.Fatalf("found only %d query calls; the scanner is broken", calls)
	}
}

// literalText joins the string literals of a + expression; other operands
// (column lists, helper calls) become a space.
func literalText(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, err := strconv.Unquote(e.Value)
			if err == nil {
				return s
			}
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			return literalText(e.X) + literalText(e.Y)
		}
	case *ast.ParenExpr:
		return literalText(e.X)
	}
	return " "
}
