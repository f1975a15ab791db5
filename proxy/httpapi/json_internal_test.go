package httpapi

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestDecodeJSONStrict(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
	}
	type body struct {
		Amount int64  `json:"amount"`
		Memo   string `json:"memo"`
		Owner  inner  `json:"owner"`
	}
	for _, c := range []struct{ in, want string }{
		{`{"amount":5,"memo":"x","owner":{"name":"a"}}`, ""},
		{`{"amount":5,"amount":7}`, `Duplicate field "amount"`},
		{`{"AMOUNT":5}`, `Unknown field "AMOUNT"`},
		{`{"amount":5,"extra":1}`, `Unknown field "extra"`},
		{`{"owner":{"name":"a","name":"b"}}`, `Duplicate field "owner.name"`},
		{`{"amount":"5"}`, `Field "amount" must be an integer`},
		{`{"amount":5} {}`, "Invalid JSON at byte 13"},
		{`{"amount":`, "Invalid JSON: unexpected end of input"},
		{`[1]`, "Request body must be a JSON object"},
		{``, "Request body must be a JSON object"},
		{"{\"memo\":\"\xff\"}", "Invalid JSON at byte 9"},
	} {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetBodyString(c.in)
		var v body
		err := DecodeJSON(&ctx, &v)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("%s: got %v, want %q", c.in, err, c.want)
		}
	}
}
