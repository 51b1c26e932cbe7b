package pubsubwatch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// RawDialer opens plain RESP connections (MONITOR cannot run through
// valkey-go, whose connections expect one reply per command).
type RawDialer struct {
	Username, Password string
	TLS                *tls.Config // nil: plaintext
	Timeout            time.Duration
	ClientName         string
}

// Dial connects, authenticates and names the connection, all within the
// dialer's Timeout and ctx. TCP keep-alive notices a peer that vanished.
func (d RawDialer) Dial(ctx context.Context, addr string) (net.Conn, *bufio.Reader, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nd := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}}
	var (
		c   net.Conn
		err error
	)
	if d.TLS != nil {
		c, err = (&tls.Dialer{NetDialer: nd, Config: d.TLS}).DialContext(ctx, "tcp", addr)
	} else {
		c, err = nd.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, nil, err
	}
	dl, _ := ctx.Deadline()
	_ = c.SetDeadline(dl)
	br := bufio.NewReaderSize(c, 256<<10)
	var cmds [][]string
	if d.Password != "" {
		if d.Username != "" {
			cmds = append(cmds, []string{"AUTH", d.Username, d.Password})
		} else {
			cmds = append(cmds, []string{"AUTH", d.Password})
		}
	}
	if d.ClientName != "" {
		cmds = append(cmds, []string{"CLIENT", "SETNAME", d.ClientName})
	}
	for _, args := range cmds {
		if err := writeCommand(c, args...); err != nil {
			c.Close()
			return nil, nil, err
		}
		if _, err := readSimple(br); err != nil {
			c.Close()
			return nil, nil, err
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c, br, nil
}

// writeCommand writes one RESP command.
func writeCommand(w io.Writer, args ...string) error {
	var b []byte
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	_, err := w.Write(b)
	return err
}

// serverError is an error reply (-ERR ...). Its text starts with the
// server's error code, which valkeyclient.Classify reads (WRONGPASS, NOPERM).
type serverError struct{ msg string }

func (e serverError) Error() string { return e.msg }

// readSimple reads one simple-string reply; an error reply is a serverError.
func readSimple(br *bufio.Reader) (string, error) {
	line, err := readLine(br)
	if err != nil {
		return "", err
	}
	switch {
	case len(line) > 0 && line[0] == '+':
		return string(line[1:]), nil
	case len(line) > 0 && line[0] == '-':
		return "", serverError{string(line[1:])}
	}
	return "", fmt.Errorf("unexpected reply %q", truncate(line, 40))
}

// readLine reads one CRLF-terminated line (without it). The slice is valid
// until the next read when the line fit the buffer.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// monitorSource reads SPUBLISH commands from MONITOR on one primary.
type monitorSource struct {
	cfg  *Config
	addr string
}

func (s *monitorSource) node() string { return s.addr }

func (s *monitorSource) session(ctx context.Context, ready func(string), deliver func(Event) bool) error {
	d := s.cfg.Dialer
	if d.Timeout <= 0 {
		d.Timeout = s.cfg.Timeout
	}
	c, br, err := d.Dial(ctx, s.addr)
	if err != nil {
		return err
	}
	var closeOnce sync.Once
	closeConn := func() { closeOnce.Do(func() { c.Close() }) }
	defer closeConn()
	stop := context.AfterFunc(ctx, closeConn)
	defer stop()

	_ = c.SetDeadline(time.Now().Add(s.cfg.Timeout))
	if err := writeCommand(c, "MONITOR"); err != nil {
		return err
	}
	if _, err := readSimple(br); err != nil {
		var se serverError
		if errors.As(err, &se) {
			kind := apperr.KindConnect
			if strings.HasPrefix(se.msg, "NOPERM") {
				kind = apperr.KindAuth
			}
			return apperr.Runtime(kind, fmt.Errorf("MONITOR refused by %s: %s", s.addr, se.msg),
				"the server or its ACL does not allow MONITOR; --sharded-subscribe reads sharded traffic with SSUBSCRIBE instead, but that raises SHARDNUMSUB and makes fetchSockets() time out in the running app")
		}
		return err
	}
	_ = c.SetDeadline(time.Time{})
	ready("MONITOR (SPUBLISH " + s.cfg.Key + "#...)")

	prefix := []byte(s.cfg.Key + "#")
	var nsPrefixes [][]byte
	for _, n := range s.cfg.Namespaces {
		nsPrefixes = append(nsPrefixes, []byte(s.cfg.Key+"#"+n+"#"))
	}
	for {
		line, err := readLine(br)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(line) == 0 {
			continue
		}
		if line[0] == '-' {
			return serverError{string(line[1:])}
		}
		if !monitorCommandIs(line, "SPUBLISH") {
			continue
		}
		ml, err := ParseMonitorLine(line)
		if err != nil || len(ml.Args) != 3 {
			continue // not an SPUBLISH we can read; nothing to decode
		}
		ch := ml.Args[1]
		if !bytes.HasPrefix(ch, prefix) {
			continue
		}
		if len(nsPrefixes) > 0 && !hasAnyPrefix(ch, nsPrefixes) {
			continue
		}
		if !deliver(Event{Kind: EventMessage, Time: ml.Time, Channel: string(ch), Payload: string(ml.Args[2]), Node: s.addr}) {
			return nil
		}
	}
}

func hasAnyPrefix(b []byte, prefixes [][]byte) bool {
	for _, p := range prefixes {
		if bytes.HasPrefix(b, p) {
			return true
		}
	}
	return false
}
