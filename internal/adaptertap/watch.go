// Package adaptertap taps the Socket.IO Redis adapter's pub/sub traffic in
// Valkey without changing what the application sees, keeps reading across
// connection faults, and lists the adapter's live channels (Channels).
// Tail decodes, filters and counts what it reads, for `pubsub tail`.
//
// Classic adapter traffic is read with PSUBSCRIBE on the adapter key's
// patterns only: a plain SUBSCRIBE on a request channel would raise the
// adapter's server count (PUBSUB NUMSUB) and make fetchSockets() time out.
// In a cluster, classic PUBLISH reaches every node, so one connection is
// enough. Sharded adapter traffic (SPUBLISH) has no pattern subscribe: it is
// read through MONITOR on every primary, or, only when the caller asks, with
// SSUBSCRIBE (which raises SHARDNUMSUB and breaks fetchSockets()).
//
// When a connection drops, the source reconnects with a capped exponential
// backoff, subscribes again, and reports the gap. The package decodes
// nothing: it hands channel names and payloads to the caller (Tail decodes).
package adaptertap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/backoff"
	"github.com/oxyhq/oxyctl/internal/resp"
	"github.com/oxyhq/oxyctl/internal/socketio"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// Mode is how traffic is read.
type Mode int

// Modes.
const (
	// ModePSubscribe reads classic adapter traffic with PSUBSCRIBE.
	ModePSubscribe Mode = iota
	// ModeMonitor reads sharded adapter traffic (SPUBLISH) through MONITOR
	// on every primary. It changes no subscriber count, but MONITOR costs
	// the server CPU and memory for every command it runs.
	ModeMonitor
	// ModeSSubscribe reads sharded traffic with SSUBSCRIBE on the channels
	// PUBSUB SHARDCHANNELS lists. It RAISES SHARDNUMSUB: the running
	// application then waits for a reply oxyctl never sends, and
	// fetchSockets() times out. Only on the user's explicit request.
	ModeSSubscribe
)

func (m Mode) String() string {
	switch m {
	case ModeMonitor:
		return "monitor"
	case ModeSSubscribe:
		return "ssubscribe"
	}
	return "psubscribe"
}

// EventKind tells what an Event is.
type EventKind int

// Event kinds.
const (
	// EventMessage is one pub/sub message.
	EventMessage EventKind = iota
	// EventReady: a source is subscribed for the first time.
	EventReady
	// EventLost: a source lost its connection and is reconnecting.
	EventLost
	// EventGap: a source is subscribed again; From..To may have lost messages.
	EventGap
)

// Event is what a Watcher delivers, in order, on one channel.
type Event struct {
	Kind    EventKind
	Time    time.Time // message: when it was received (MONITOR: the server's time)
	Channel string
	Payload string
	Node    string    // the server the source reads from
	From    time.Time // gap: when the connection was lost
	To      time.Time // gap: when it was subscribed again
	Err     error     // lost / gap: why the connection dropped
	Detail  string    // ready: what the source subscribed to
	// Dropped (a gap) counts the messages that the reader could not take in
	// time and that were dropped; From..To is when.
	Dropped int64
	// AllReady is set on the ready event of the last source to subscribe.
	AllReady bool
}

// Config says what to read and how.
type Config struct {
	Mode Mode
	// Key is the adapter key (classic) or channel prefix (sharded).
	Key string
	// Namespaces limits the traffic read to these namespaces (empty: all).
	Namespaces []string
	// Conn is the deployment: its client, its nodes, and the connections
	// of its own that MONITOR needs.
	Conn *valkeyclient.Conn
	// ClientName names MONITOR's connections ("": the Conn's client name).
	ClientName string
	// Timeout bounds each subscribe step (not the stream); MONITOR's own
	// connections connect within the Conn's timeout.
	Timeout time.Duration
	// ReconnectTimeout ends the watch with an error when a source cannot
	// reconnect for this long (0: keep trying until ctx ends).
	ReconnectTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between reconnect attempts.
	BackoffMin, BackoffMax time.Duration
	// Refresh is how often ModeSSubscribe looks for new channels.
	Refresh time.Duration
	// Classify turns a connection error into a typed error (nil: as is).
	Classify func(error) error
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Key == "" {
		c.Key = socketio.DefaultKey
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 100 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 3 * time.Second
	}
	if c.Refresh <= 0 {
		c.Refresh = 2 * time.Second
	}
	if c.Classify == nil {
		c.Classify = func(err error) error { return err }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Patterns are the PSUBSCRIBE patterns of the configuration: the key's
// three patterns, or each namespace's.
func (c *Config) Patterns() []string {
	key := c.Key
	if len(c.Namespaces) == 0 {
		return socketio.Patterns(key)
	}
	var out []string
	for _, n := range c.Namespaces {
		out = append(out, socketio.NamespacePatterns(key, n)...)
	}
	return out
}

// source is one connection's worth of reading.
type source interface {
	// session connects, subscribes, calls ready once subscribed and then
	// deliver for each message until the connection fails (an error) or
	// ctx ends (nil).
	session(ctx context.Context, ready func(detail string), deliver func(Event) bool) error
	// node is the server the last session used (for reports).
	node() string
}

// run reads until ctx ends (nil) or a source fails for good (a typed
// error), handing events to deliver (which returns false once the reader is
// gone; sources call it from their own goroutines, in the order each saw
// them). The first connect and subscribe of every source must succeed
// within Timeout; later drops are retried.
func run(ctx context.Context, cfg Config, deliver func(Event) bool) error {
	cfg.defaults()
	var sources []source
	switch cfg.Mode {
	case ModePSubscribe:
		sources = []source{&psubSource{cfg: &cfg}}
	case ModeMonitor, ModeSSubscribe:
		nodes, err := cfg.Conn.Primaries(ctx)
		if err != nil {
			return cfg.Classify(err)
		}
		for _, n := range nodes {
			if cfg.Mode == ModeMonitor {
				sources = append(sources, &monitorSource{cfg: &cfg, n: n})
			} else {
				sources = append(sources, &ssubSource{cfg: &cfg, n: n})
			}
		}
	default:
		return apperr.Runtime(apperr.KindInternal, fmt.Errorf("unknown watch mode %d", cfg.Mode), "")
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		ready    atomic.Int64
	)
	allReady := func() bool { return ready.Add(1) == int64(len(sources)) }
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := runSource(ctx, &cfg, s, deliver, allReady)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// runSource runs sessions of one source, reconnecting after drops.
func runSource(ctx context.Context, cfg *Config, s source, deliver func(Event) bool, allReady func() bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = apperr.Runtime(apperr.KindInternal, fmt.Errorf("internal error in the pub/sub reader (a bug): %v", r), "please report it with the command you ran\n"+string(debug.Stack()))
		}
	}()
	everReady := false
	var lostAt time.Time // zero while connected
	var lostErr error
	attempt := 0
	for {
		// A session calls ready once subscribed, but a message can come
		// first: on the client's reader goroutine, as soon as the first of
		// several patterns is confirmed. The session's Ready or Gap event
		// goes out before its first message either way, so that a gap is
		// never reported after messages that followed it (nor lost when
		// --count ends the run on one of them). mu guards the session state
		// shared with that goroutine.
		var mu sync.Mutex
		connected, ended := false, false
		announce := func(detail string) {
			mu.Lock()
			defer mu.Unlock()
			if connected || ended {
				return
			}
			connected = true
			now := cfg.Now()
			if !everReady {
				everReady = true
				deliver(Event{Kind: EventReady, Time: now, Node: s.node(), Detail: detail, AllReady: allReady()})
			} else if !lostAt.IsZero() {
				deliver(Event{Kind: EventGap, Time: now, Node: s.node(), From: lostAt, To: now, Err: lostErr, Detail: detail})
			}
			lostAt, lostErr, attempt = time.Time{}, nil, 0
		}
		serr := s.session(ctx, announce, func(ev Event) bool {
			if ev.Kind == EventMessage {
				announce("")
			}
			return deliver(ev)
		})
		mu.Lock()
		ended = true // a late message of this session announces nothing
		mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		if serr == nil {
			serr = errors.New("the connection closed")
		}
		typed := cfg.Classify(serr)
		if !everReady {
			return typed
		}
		if isFatal(serr, typed) {
			return typed
		}
		now := cfg.Now()
		if connected || lostAt.IsZero() {
			// A drop: report what happened, not a guess about the cause.
			lostAt, lostErr = now, serr
			deliver(Event{Kind: EventLost, Time: now, Node: s.node(), Err: serr})
		}
		wait := backoff.Delay(cfg.BackoffMin, cfg.BackoffMax, attempt+1)
		if cfg.ReconnectTimeout > 0 {
			left := cfg.ReconnectTimeout - now.Sub(lostAt)
			if left <= 0 {
				return apperr.Runtime(apperr.KindConnect,
					fmt.Errorf("lost the connection to %s at %s and could not reconnect within %s: %v", s.node(), lostAt.UTC().Format(time.RFC3339), cfg.ReconnectTimeout, typed),
					"check the server; --reconnect-timeout sets how long tail keeps trying")
			}
			// The last attempt comes at the deadline, not a backoff past it.
			wait = min(wait, left)
		}
		attempt++
		if !backoff.Sleep(ctx, wait) {
			return nil
		}
	}
}

// isFatal reports errors that retrying will not fix: authentication,
// configuration, and a TLS certificate or handshake the server rejected.
// A connection that merely closed is never fatal.
func isFatal(raw, typed error) bool {
	if errors.Is(raw, resp.ErrProtocol) {
		return true // a server that breaks the protocol does not mend by reconnecting
	}
	var re *resp.Error
	if errors.As(raw, &re) {
		return valkeyclient.IsAuthReply(re.Msg)
	}
	code, kind := apperr.Classify(typed)
	switch {
	case code == apperr.ExitUsage, kind == apperr.KindAuth:
		return true
	case kind == apperr.KindTLS:
		var unk x509.UnknownAuthorityError
		var host x509.HostnameError
		var inv x509.CertificateInvalidError
		var verr *tls.CertificateVerificationError
		var rec tls.RecordHeaderError
		return errors.As(raw, &unk) || errors.As(raw, &host) || errors.As(raw, &inv) || errors.As(raw, &verr) || errors.As(raw, &rec)
	}
	return false
}

// errTimeout is a subscribe step that got no answer in time.
type errTimeout struct{ what, node string }

func (e errTimeout) Error() string   { return fmt.Sprintf("%s on %s: no answer in time", e.what, e.node) }
func (e errTimeout) Timeout() bool   { return true }
func (e errTimeout) Temporary() bool { return true }
