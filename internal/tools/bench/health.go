package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/probe"
	"github.com/oxyhq/oxyctl/internal/resp"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/standin/healthstub"
)

// healthMargin is what `health` may take beyond its slowest check: the
// checks run concurrently, so the run costs the slowest one plus start-up
// and printing.
const healthMargin = 50 * time.Millisecond

// benchHealth times `oxyctl health` with every check (api against the
// /health stand-in, every Valkey check against a local valkey-server with
// one fake adapter instance subscribed, do against the DigitalOcean
// stand-in): its wall time against its slowest check's latency. It does so
// with the stand-ins answering at once and with each HTTP answer delayed
// by 100 ms (a far API), where a sequential run would take the sum.
func (e *env) benchHealth(ctx context.Context) error {
	fmt.Printf("\nhealth, every check (%s), against local servers and stand-ins: wall time against the slowest check\n", strings.Join(probe.Names, ","))
	s, err := e.startServer(ctx, false)
	if err != nil {
		return err
	}
	defer s.stop()
	inst, err := fakeAdapterInstance(s.addr)
	if err != nil {
		return err
	}
	defer inst.Close()
	api, err := healthstub.New(healthstub.Healthy())
	if err != nil {
		return err
	}
	defer api.Close()
	do, err := dostub.New(dostub.Options{})
	if err != nil {
		return err
	}
	defer do.Close()
	env := []string{"OXYCTL_REDIS_URL=" + s.url(), "OXY_API_URL=" + api.URL,
		"DIGITALOCEAN_ACCESS_TOKEN=" + do.Token(), "DIGITALOCEAN_API_URL=" + do.URL}

	for _, delay := range []time.Duration{0, 100 * time.Millisecond} {
		api.Set(healthstub.Reply{Delay: delay})
		do.ClearFaults()
		if delay > 0 {
			do.Inject(dostub.Fault{Delay: delay})
		}
		fmt.Printf("  stand-ins answering after %s:\n", delay)
		var walls, margins []time.Duration
		var slowName string
		for range max(*flagRuns, 5) {
			var out bytes.Buffer
			wall, _, err := e.timedEnv(ctx, env, &out, e.oxyctl, "health", "-o", "json")
			if err != nil {
				return err
			}
			var rep probe.Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Checks) != len(probe.Names) {
				return fmt.Errorf("health output: %v: %.300s", err, out.String())
			}
			var slowest time.Duration
			var parts []string
			for _, c := range rep.Checks {
				if c.Status == probe.Skip {
					return fmt.Errorf("health: check %s skipped: %s", c.Name, c.Detail)
				}
				d := time.Duration(c.LatencyMS) * time.Millisecond
				if d >= slowest {
					slowest, slowName = d, c.Name
				}
				parts = append(parts, fmt.Sprintf("%s %dms (%s)", c.Name, c.LatencyMS, c.Status))
			}
			margin := wall - slowest
			walls, margins = append(walls, wall), append(margins, margin)
			fmt.Printf("    run: %s; wall %dms, slowest %s %dms, margin %dms\n", strings.Join(parts, ", "), wall.Milliseconds(), slowName, slowest.Milliseconds(), margin.Milliseconds())
		}
		mm := median(margins)
		e.report(fmt.Sprintf("health, stand-ins +%s: wall (median)", delay), fmt.Sprintf("%dms", median(walls).Milliseconds()), "", true)
		e.report(fmt.Sprintf("health, stand-ins +%s: wall - slowest check (median)", delay), fmt.Sprintf("%dms", mm.Milliseconds()), fmt.Sprintf("<= %dms", healthMargin.Milliseconds()), mm <= healthMargin)
	}
	return nil
}

// fakeAdapterInstance subscribes like one classic redis-adapter instance on
// a raw connection (closed by the caller), so that the pubsub check finds
// an API instance.
func fakeAdapterInstance(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	req := resp.AppendCommand(nil, "CLIENT", "SETNAME", "bench-adapter")
	req = resp.AppendCommand(req, "SUBSCRIBE", "socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#bench1#")
	req = resp.AppendCommand(req, "PSUBSCRIBE", "socket.io#/#*")
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	var got strings.Builder
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !strings.Contains(got.String(), "psubscribe") {
		n, err := c.Read(buf)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("fake adapter instance: %w", err)
		}
		got.Write(buf[:n])
	}
	return c, nil
}
