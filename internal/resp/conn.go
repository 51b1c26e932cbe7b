package resp

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// Conn is one connection to a server, for pipelines: the caller appends
// commands to a buffer, writes it whole, and reads the replies in order
// from R. A Conn never reconnects: a dropped connection is an error, so
// a caller can never mix two server processes' answers unknowingly.
type Conn struct {
	nc      net.Conn
	R       *Reader
	timeout time.Duration
	stopped atomic.Bool
}

// NewConn wraps nc. timeout bounds each write, and each wait for a reply
// (see Expect); it must be positive.
func NewConn(nc net.Conn, timeout time.Duration) *Conn {
	return &Conn{nc: nc, R: NewReader(nc), timeout: timeout}
}

// Write writes b whole, within the timeout.
func (c *Conn) Write(b []byte) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return err
	}
	_, err := c.nc.Write(b)
	c.expire()
	return err
}

// Expect gives the next reply the timeout to arrive.
func (c *Conn) Expect() {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	c.expire()
}

// Wait lets the next replies take as long as they take: for a stream
// (MONITOR) whose next line may come at any time. A watched context (see
// Watch) still ends the wait.
func (c *Conn) Wait() {
	_ = c.nc.SetReadDeadline(time.Time{})
	c.expire()
}

// expire re-applies a stop that a new deadline may have overwritten.
func (c *Conn) expire() {
	if c.stopped.Load() {
		_ = c.nc.SetDeadline(time.Unix(1, 0))
	}
}

// Watch makes every pending and later read or write fail as soon as ctx is
// done. Call the returned function to stop watching.
func (c *Conn) Watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		c.stopped.Store(true)
		_ = c.nc.SetDeadline(time.Unix(1, 0))
	})
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// RemoteAddr is the server's address.
func (c *Conn) RemoteAddr() string { return c.nc.RemoteAddr().String() }
