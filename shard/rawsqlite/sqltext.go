package rawsqlite

import "strings"

// A small reader of SQL text, for the few questions SQLite's authorizer
// cannot answer: which names a statement gives its common table
// expressions, and which table an FTS table takes its content from.
//
// SQLite names the "innermost trigger or view" behind each access it
// authorizes, but a common table expression is a FROM item with a name too,
// and SQLite reports it the same way: in
// WITH m AS (SELECT id FROM accounts) SELECT count(*) FROM m the read of
// accounts comes "via m". CTENames finds the names a statement's text gives
// its common table expressions, so the authorizer can tell them from views
// and triggers without parsing SQL: only the WITH clauses are read.

// CTENames returns the names (ASCII lower case, as SQLite compares them)
// that the WITH clauses in sql give their common table expressions, at any
// depth; nil if there are none.
func CTENames(sql string) map[string]bool {
	toks := tokenize(sql)
	var names map[string]bool
	for i, t := range toks {
		if t.word && asciiLower(t.text) == "with" {
			for _, n := range withList(toks, i+1) {
				if names == nil {
					names = map[string]bool{}
				}
				names[n] = true
			}
		}
	}
	return names
}

// withList reads "[RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (…)
// [, …]" from toks[i:] and returns the names; it stops at the first token
// that does not fit. Bodies are skipped here; the caller's scan still
// reaches the WITH clauses nested in them.
func withList(toks []token, i int) []string {
	if i < len(toks) && toks[i].word && asciiLower(toks[i].text) == "recursive" {
		i++
	}
	var out []string
	for i < len(toks) && toks[i].name() {
		name := asciiLower(toks[i].text)
		i++
		if i < len(toks) && toks[i].text == "(" {
			i = skipParens(toks, i)
		}
		if i >= len(toks) || !toks[i].word || asciiLower(toks[i].text) != "as" {
			break
		}
		i++
		if i < len(toks) && toks[i].word && asciiLower(toks[i].text) == "not" {
			i++
		}
		if i < len(toks) && toks[i].word && asciiLower(toks[i].text) == "materialized" {
			i++
		}
		if i >= len(toks) || toks[i].text != "(" {
			break
		}
		out = append(out, name)
		i = skipParens(toks, i)
		if i >= len(toks) || toks[i].text != "," {
			break
		}
		i++
	}
	return out
}

// skipParens returns the index after the parenthesis that closes the one at
// toks[i].
func skipParens(toks []token, i int) int {
	depth := 0
	for ; i < len(toks); i++ {
		switch toks[i].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return i
}

// token is a word (keyword or bare identifier), a quoted identifier (its
// text unquoted), a string literal (only its value) or one punctuation
// byte.
type token struct {
	text   string
	word   bool
	quoted bool
	value  string // a string literal's or identifier's value
}

// name reports whether the token can name a CTE.
func (t token) name() bool { return t.word || t.quoted }

// tokenize splits sql the way SQLite's tokenizer does for what CTENames
// needs: comments, strings and quoted identifiers are never mistaken for
// keywords or punctuation.
func tokenize(sql string) []token {
	var out []token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += 2 + end + 2
		case c == '\'' || c == '"' || c == '`' || c == '[':
			closeq := c
			if c == '[' {
				closeq = ']'
			}
			var b []byte
			j := i + 1
			for j < len(sql) {
				if sql[j] == closeq {
					if closeq != ']' && j+1 < len(sql) && sql[j+1] == closeq {
						b = append(b, closeq)
						j += 2
						continue
					}
					break
				}
				b = append(b, sql[j])
				j++
			}
			if c == '\'' {
				out = append(out, token{value: string(b)})
			} else {
				out = append(out, token{text: string(b), quoted: true, value: string(b)})
			}
			i = j + 1
		case idChar(c):
			j := i
			for j < len(sql) && idChar(sql[j]) {
				j++
			}
			out = append(out, token{text: sql[i:j], word: true, value: sql[i:j]})
			i = j
		default:
			out = append(out, token{text: sql[i : i+1]})
			i++
		}
	}
	return out
}

// idChar reports the bytes SQLite allows in a bare identifier (and in
// numbers, which are harmless here): letters, digits, _, $ and every byte
// of a multi-byte UTF-8 character.
func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// asciiLower folds only ASCII letters, as SQLite does when it compares
// names (so "K", the Kelvin sign, does not match "k" here either).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Mentions reports whether sql names name (as SQLite compares names) as a
// bare or quoted identifier anywhere, strings and comments aside.
func Mentions(sql, name string) bool {
	name = asciiLower(name)
	for _, t := range tokenize(sql) {
		if t.name() && asciiLower(t.text) == name {
			return true
		}
	}
	return false
}

// ContentTable returns the table named by the content option of a CREATE
// VIRTUAL TABLE statement (an FTS4 or FTS5 external-content table reads
// its rows from there), or "".
func ContentTable(sql string) string {
	toks := tokenize(sql)
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].word && asciiLower(toks[i].text) == "content" && toks[i+1].text == "=" && (i == 0 || toks[i-1].text == "," || toks[i-1].text == "(") {
			return toks[i+2].value
		}
	}
	return ""
}
