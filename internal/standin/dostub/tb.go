package dostub

// TB is the part of testing.TB that Start uses. testing.TB satisfies it; the
// package does not import "testing", so demo programs can link it.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Start starts a stand-in for a test. It is closed in tb.Cleanup, and any
// spec violation still recorded then (see TakeViolations) fails the test.
func Start(tb TB, opts ...Options) *Server {
	tb.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := New(o)
	if err != nil {
		tb.Fatalf("dostub: %v", err)
		return nil
	}
	tb.Cleanup(func() {
		s.Close()
		for _, v := range s.Violations() {
			tb.Errorf("dostub: spec violation: %s", v)
		}
	})
	return s
}
