package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/itchyny/gojq"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// JQ is a compiled --jq expression. Nothing of gojq runs unless --jq is
// given: CompileJQ is the only way in.
type JQ struct {
	code *gojq.Code
}

// CompileJQ parses and compiles a --jq expression. A bad expression is a
// UsageError (exit 2), found before the command does anything.
func CompileJQ(expr string) (*JQ, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, apperr.Usagef("--jq: the expression is empty")
	}
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, apperr.Usagef("--jq: invalid expression %q: %v", expr, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, apperr.Usagef("--jq: invalid expression %q: %v", expr, err)
	}
	return &JQ{code: code}, nil
}

// Filter runs the expression on one JSON value and writes each result on
// its own line, as gh does: a string raw, any other scalar as JSON, an array
// or object compact (indented when indent is true, for a terminal). A
// runtime error of the expression (`.[0]` of an object, `error("x")`) is a
// UsageError too: the expression does not fit the output.
func (q *JQ) Filter(w io.Writer, v any, indent bool) error {
	var buf bytes.Buffer
	iter := q.code.Run(v)
	for {
		r, ok := iter.Next()
		if !ok {
			break
		}
		if err, isErr := r.(error); isErr {
			var he *gojq.HaltError
			if errors.As(err, &he) && he.Value() == nil {
				break // halt: stop quietly
			}
			return apperr.Usagef("--jq: %v", err)
		}
		if s, isStr := r.(string); isStr {
			buf.WriteString(s)
		} else {
			b, _ := gojq.Marshal(r) // never fails on what gojq emits
			switch r.(type) {
			case map[string]any, []any:
				var ib bytes.Buffer
				if indent && json.Indent(&ib, b, "", "  ") == nil {
					b = ib.Bytes()
				}
			}
			buf.Write(b)
		}
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// JQWriter stands in for stdout under --jq: what the command writes is JSON
// (one indented document, or JSON lines of a stream), and each complete
// value is run through the expression as soon as its line ends, so a
// stream is filtered line by line.
type JQWriter struct {
	q      *JQ
	w      io.Writer
	indent bool

	mu      sync.Mutex
	pending []byte
	err     error
}

// NewJQWriter filters into w; indent is for a terminal.
func NewJQWriter(q *JQ, w io.Writer, indent bool) *JQWriter {
	return &JQWriter{q: q, w: w, indent: indent}
}

// Write takes JSON output; values are filtered once their line is complete.
// After the first error every Write returns it.
func (j *JQWriter) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return 0, j.err
	}
	j.pending = append(j.pending, p...)
	if bytes.IndexByte(p, '\n') < 0 {
		return len(p), nil
	}
	if err := j.drain(false); err != nil {
		j.err = err
		return 0, err
	}
	return len(p), nil
}

// Close filters what is left and returns the first error of the writer.
func (j *JQWriter) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil {
		j.err = j.drain(true)
		if j.err == nil {
			j.err = errClosed
		}
	}
	if j.err == errClosed {
		return nil
	}
	return j.err
}

var errClosed = errors.New("--jq: output closed")

// drain decodes and filters every complete value of pending. Without final,
// an unfinished value waits for more input.
func (j *JQWriter) drain(final bool) error {
	end := len(j.pending)
	if !final {
		end = bytes.LastIndexByte(j.pending, '\n') + 1
	}
	dec := json.NewDecoder(bytes.NewReader(j.pending[:end]))
	dec.UseNumber()
	consumed := 0
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			consumed = end
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) && !final {
				break // the rest of the value is still to come
			}
			return apperr.Runtime(apperr.KindInternal, fmt.Errorf("--jq: the command's output is not JSON: %v", err), "")
		}
		consumed = int(dec.InputOffset())
		if err := j.q.Filter(j.w, v, j.indent); err != nil {
			return err
		}
	}
	j.pending = append(j.pending[:0], j.pending[consumed:]...)
	return nil
}
