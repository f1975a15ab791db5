package remote

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Stream is one Hrana stream on the server: a connection there, with its
// transaction, named between requests by the server's baton. The baton and
// base URL never leave this type. A Stream is not safe for concurrent use
// (Hrana streams are sequential anyway).
type Stream struct {
	c       *Client
	baton   string // "" until the server opened the stream, and after it closed
	baseURL string // the server's base_url for this stream ("" = Client.base)
	opened  bool   // the server knows this stream (a request went through)
	closed  bool
}

// ErrorObject is a Hrana error object.
type ErrorObject struct {
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

// Result is one entry of a pipeline response: Type "ok" with Response (the
// stream response JSON, e.g. {"type":"execute","result":{…}}), or "error"
// with Error.
type Result struct {
	Type     string         `json:"type"`
	Response jsontext.Value `json:"response"`
	Error    *ErrorObject   `json:"error"`
}

// ErrStreamClosed: the stream was closed (by a close request or an earlier
// failure) and takes no more requests.
var ErrStreamClosed = errors.New("libSQL server stream is closed")

// Stream returns a new stream; nothing is sent until its first request.
func (c *Client) Stream() *Stream { return &Stream{c: c} }

// Open reports whether the server holds this stream (it has a baton).
func (s *Stream) Open() bool { return s.baton != "" }

// CloseRequest is the Hrana close request, as the last request of a
// pipeline that ends its stream.
const CloseRequest = `{"type":"close"}`

// Streamless reports whether the server has shown it keeps no streams: it
// returned no baton for a stream nobody closed (Turso's sync server). Each
// of its requests stands alone: a transaction cannot span two, and it
// takes only execute and batch requests.
func (s *Stream) Streamless() bool { return s.c.streamless.Load() }

// Renew returns a new stream on the same server, for a caller whose
// stream the server closed before it held any state (a server without
// streams, such as Turso's sync server, closes every one).
func (s *Stream) Renew() *Stream { return s.c.Stream() }

// Used reports whether a request reached the server on this stream.
func (s *Stream) Used() bool { return s.opened }

// Pipeline sends requests (each a Hrana stream request in JSON) on the
// stream and returns one Result per request. The stream stays usable when
// the server returns a baton; a transport or server error closes it (the
// server's stream is lost with its baton).
func (s *Stream) Pipeline(ctx context.Context, requests []json.RawMessage) ([]Result, error) {
	if s.closed {
		return nil, ErrStreamClosed
	}
	v, err := s.c.Version(ctx)
	if err != nil {
		s.closed = true
		return nil, err
	}
	body := s.appendHead(make([]byte, 0, 256))
	body = append(body, `"requests":[`...)
	for i, r := range requests {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, r...)
	}
	body = append(body, "]}"...)
	path := "/v3/pipeline"
	if v == 2 {
		path = "/v2/pipeline"
	}
	raw, err := s.c.postBytes(ctx, s.base(), path, body)
	if err != nil {
		s.closed = true
		return nil, err
	}
	var out struct {
		Baton   *string  `json:"baton"`
		BaseURL *string  `json:"base_url"`
		Results []Result `json:"results"`
	}
	// JSON v2: one pass, and each response kept as raw bytes without the
	// extra validation scan and copy of encoding/json's RawMessage.
	if err := jsonv2.Unmarshal(raw, &out, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)); err != nil {
		s.closed = true
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if len(out.Results) != len(requests) {
		s.closed = true
		return nil, fmt.Errorf("%w: %d results for %d requests", ErrProtocol, len(out.Results), len(requests))
	}
	s.opened = true
	if out.Baton == nil && (len(requests) == 0 || string(requests[len(requests)-1]) != CloseRequest) {
		s.c.streamless.Store(true) // it closed a stream nobody asked it to close
	}
	s.next(out.Baton, out.BaseURL)
	return out.Results, nil
}

// appendHead appends `{"baton":…,` for the stream's next request.
func (s *Stream) appendHead(b []byte) []byte {
	b = append(b, `{"baton":`...)
	if s.baton == "" {
		b = append(b, "null"...)
	} else {
		q, _ := json.Marshal(s.baton)
		b = append(b, q...)
	}
	return append(b, ',')
}

func (s *Stream) base() string {
	if s.baseURL != "" {
		return s.baseURL
	}
	return s.c.base
}

// next records the server's answer: no baton means the stream is closed.
func (s *Stream) next(baton, baseURL *string) {
	if baton == nil || *baton == "" {
		s.baton, s.closed = "", true
		return
	}
	s.baton = *baton
	if baseURL != nil && *baseURL != "" && s.sameServer(*baseURL) {
		s.baseURL = strings.TrimRight(*baseURL, "/")
	}
}

// sameServer accepts a base_url only on the server's own scheme and host:
// the credential goes with every request, and a server's answer must not
// be able to send it elsewhere.
func (s *Stream) sameServer(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	b, err := url.Parse(s.c.base)
	return err == nil && strings.EqualFold(u.Scheme, b.Scheme) && strings.EqualFold(u.Host, b.Host)
}

// Close ends the server's stream (rolling back its transaction) if the
// server holds one. It is safe to call more than once.
func (s *Stream) Close(ctx context.Context) error {
	if s.closed || s.baton == "" {
		s.closed = true
		return nil
	}
	_, err := s.Pipeline(ctx, []json.RawMessage{json.RawMessage(CloseRequest)})
	s.closed = true
	return err
}

// Cursor is a streaming cursor response: Baton is known as soon as it is
// open; Next returns each entry's JSON until io.EOF. Close it.
type Cursor struct {
	s    *Stream
	body io.ReadCloser
	r    *bufio.Reader
	max  int
	done bool // Next returned io.EOF
}

// ErrNoCursor: the server speaks Hrana 2, which has no cursors.
var ErrNoCursor = errors.New("libSQL server has no cursors (Hrana 2)")

// Cursor opens a cursor over batch (the JSON of a Hrana batch object) on
// the stream. maxEntry bounds one entry's JSON (a bigger one fails Next
// with ErrTooLarge). The stream takes no other request until the cursor is
// closed.
func (s *Stream) Cursor(ctx context.Context, batch json.RawMessage, maxEntry int) (*Cursor, error) {
	if s.closed {
		return nil, ErrStreamClosed
	}
	v, err := s.c.Version(ctx)
	if err != nil {
		s.closed = true
		return nil, err
	}
	if v < 3 {
		return nil, ErrNoCursor
	}
	body := s.appendHead(make([]byte, 0, 64+len(batch)))
	body = append(body, `"batch":`...)
	body = append(body, batch...)
	body = append(body, '}')
	resp, err := s.c.post(ctx, s.base(), "/v3/cursor", body)
	if err != nil {
		s.closed = true
		return nil, err
	}
	cur := &Cursor{s: s, body: resp.Body, r: bufio.NewReaderSize(resp.Body, 16<<10), max: maxEntry}
	line, err := cur.line()
	if err != nil {
		cur.fail()
		return nil, err
	}
	var head struct {
		Baton   *string `json:"baton"`
		BaseURL *string `json:"base_url"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		cur.fail()
		return nil, fmt.Errorf("%w: cursor head: %v", ErrProtocol, err)
	}
	s.opened = true
	s.next(head.Baton, head.BaseURL)
	return cur, nil
}

// Next returns the next entry's JSON (valid until the next call), or
// io.EOF at the end of the cursor.
func (c *Cursor) Next() ([]byte, error) {
	line, err := c.line()
	if err != nil {
		if errors.Is(err, io.EOF) {
			c.done = true
		} else {
			c.fail()
		}
		return nil, err
	}
	return line, nil
}

func (c *Cursor) line() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := c.r.ReadSlice('\n')
		if len(buf)+len(chunk) > c.max {
			return nil, fmt.Errorf("%w: a cursor entry over %d bytes", ErrTooLarge, c.max)
		}
		switch {
		case err == nil:
			if buf == nil {
				return chunk[:len(chunk)-1], nil
			}
			return append(buf, chunk[:len(chunk)-1]...), nil
		case errors.Is(err, bufio.ErrBufferFull):
			buf = append(buf, chunk...)
		case errors.Is(err, io.EOF):
			if len(buf)+len(chunk) == 0 {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%w: cursor ended mid-entry", ErrProtocol)
		default:
			return nil, fmt.Errorf("%w: %s: reading a cursor: %v", ErrUnreachable, c.s.c.base, err)
		}
	}
}

// fail abandons the cursor: the server's stream is lost with it.
func (c *Cursor) fail() {
	c.s.closed = true
	c.body.Close()
}

// Close ends the cursor. A cursor closed before its end loses the server's
// stream too (its rows are still on the wire).
func (c *Cursor) Close() {
	if !c.done {
		c.s.closed = true
	}
	c.body.Close()
}
