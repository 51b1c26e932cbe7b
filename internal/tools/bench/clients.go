package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oxyhq/oxyctl/internal/clientlist"
)

// benchClients opens -clients connections to a server started with room for
// them (a few in pub/sub mode, most named like API connections), then times
// `oxyctl clients -o json` and `oxyctl clients` (the text tables) and their
// peak RSS next to `valkey-cli CLIENT LIST`.
func (e *env) benchClients(ctx context.Context) error {
	n := *flagClients
	fmt.Printf("\nclients -o json with %d connections open\n", n)
	s, err := e.startServer(ctx, false, "--maxclients", strconv.Itoa(n+100))
	if err != nil {
		return err
	}
	defer s.stop()
	start := time.Now()
	conns, err := openClients(ctx, s.addr, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return err
	}
	fmt.Printf("opened %d connections in %s\n", len(conns), time.Since(start).Round(time.Millisecond))

	list := fmt.Sprintf("%s -p %d CLIENT LIST > /dev/null", e.cli, s.port)
	var oxy, text, cli []time.Duration
	var rss, textRSS int64
	for range *flagRuns {
		var out bytes.Buffer
		d, r, err := e.timed(ctx, s.url(), &out, e.oxyctl, "clients", "-o", "json")
		if err != nil {
			return err
		}
		var rep clientlist.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Total < int64(n) || len(rep.Clients) < n {
			return fmt.Errorf("oxyctl clients output: %v (total %d, %d clients)", err, rep.Total, len(rep.Clients))
		}
		oxy, rss = append(oxy, d), max(rss, r)
		fmt.Printf("    run: oxyctl clients -o json %s, peak RSS %.1f MiB, %d bytes of JSON\n", ms(d), float64(r)/1024, out.Len())
		out.Reset()
		if d, r, err = e.timed(ctx, s.url(), &out, e.oxyctl, "clients"); err != nil {
			return err
		}
		if lines := bytes.Count(out.Bytes(), []byte("\n")); lines < n {
			return fmt.Errorf("oxyctl clients printed %d lines for %d connections", lines, n)
		}
		text, textRSS = append(text, d), max(textRSS, r)
		fmt.Printf("    run: oxyctl clients (text) %s, peak RSS %.1f MiB, %d bytes\n", ms(d), float64(r)/1024, out.Len())
		if d, err = e.shell(ctx, list); err != nil {
			return err
		}
		cli = append(cli, d)
	}
	mo, mc := median(oxy), median(cli)
	e.report(fmt.Sprintf("oxyctl clients -o json (%d connections)", n), ms(mo), "< 1s", mo < time.Second)
	e.report("valkey-cli CLIENT LIST", ms(mc), "", true)
	e.report("clients / valkey-cli CLIENT LIST", fmt.Sprintf("%.2fx", mo.Seconds()/mc.Seconds()), "", true)
	e.report("oxyctl clients peak RSS", fmt.Sprintf("%.1f MiB", float64(rss)/1024), "< 32 MiB", rss < 32*1024)
	mt := median(text)
	e.report(fmt.Sprintf("oxyctl clients, text (%d connections)", n), ms(mt), "< 1s", mt < time.Second)
	e.report("oxyctl clients, text, peak RSS", fmt.Sprintf("%.1f MiB", float64(textRSS)/1024), "< 32 MiB", textRSS < 32*1024)
	return nil
}

// openClients opens n connections, 64 at a time: every 100th subscribes to
// an adapter-like channel, the others name themselves.
func openClients(ctx context.Context, addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := openClient(ctx, addr, i)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				conns[i] = c
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	out := conns[:0]
	for _, c := range conns {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, first
}

func openClient(ctx context.Context, addr string, i int) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(c)
	if i%100 == 0 {
		writeRESP(w, "SUBSCRIBE", "socket.io-request#/#", "socket.io-response#/#", fmt.Sprintf("socket.io-response#/#%06d#", i))
	} else {
		writeRESP(w, "CLIENT", "SETNAME", fmt.Sprintf("api-%d", i%50))
	}
	if err := w.Flush(); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "-") {
		c.Close()
		return nil, fmt.Errorf("connection %d: %q %v", i, line, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}
