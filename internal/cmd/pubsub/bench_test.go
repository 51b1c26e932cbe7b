package pubsub_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/repo"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// benchPayload is a classic adapter broadcast of about 200 bytes, as
// notepack writes it: [uid, {type, data:[event, arg], nsp}, {rooms, except,
// flags}]. It holds no newline, so valkey-cli prints exactly 4 lines per
// message.
func benchPayload() []byte {
	var b []byte
	str := func(s string) {
		if len(s) < 32 {
			b = append(b, 0xa0|byte(len(s)))
		} else {
			b = append(b, 0xd9, byte(len(s)))
		}
		b = append(b, s...)
	}
	b = append(b, 0x93)
	str("9UUkUo")
	b = append(b, 0x83)
	str("type")
	b = append(b, 0x02)
	str("data")
	b = append(b, 0x92)
	str("news")
	b = append(b, 0x82)
	str("headline")
	str(strings.Repeat("x", 100))
	str("n")
	b = append(b, 0xcd, 0x01, 0x02)
	str("nsp")
	str("/")
	b = append(b, 0x83)
	str("rooms")
	b = append(b, 0x91)
	str("room-12345")
	str("except")
	b = append(b, 0x90)
	str("flags")
	b = append(b, 0x80)
	return b
}

// BenchmarkTailVsValkeyCLI publishes 200,000 adapter broadcasts (~200 bytes)
// at a fixed rate into a real valkey-server while two subscribers read
// them: the built `oxyctl pubsub tail -o json --count N >/dev/null` and
// `valkey-cli psubscribe 'socket.io#*' >/dev/null` (raw, no decoding). It
// reports both rates (messages/s from the first publish to the last message
// read) and their ratio; the target is ratio >= 0.5. Messages lost by
// either (the server drops a subscriber that falls too far behind) are
// reported: oxyctl reports its gaps itself.
//
//	go test -run '^$' -bench BenchmarkTailVsValkeyCLI -benchtime 1x ./internal/cmd/pubsub
//
// OXYCTL_BENCH_N (default 200000) and OXYCTL_BENCH_RATE (messages/s,
// default 100000) change the load.
func BenchmarkTailVsValkeyCLI(b *testing.B) {
	n := envInt("OXYCTL_BENCH_N", 200000)
	rate := envInt("OXYCTL_BENCH_RATE", 100000)
	cli, err := exec.LookPath("valkey-cli")
	if err != nil {
		if cli, err = exec.LookPath("redis-cli"); err != nil {
			b.Skip("valkey-cli / redis-cli not found")
		}
	}
	payload := benchPayload()
	if bytes.IndexByte(payload, '\n') >= 0 {
		b.Fatal("the payload holds a newline")
	}
	bin := filepath.Join(b.TempDir(), "oxyctl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/oxyctl")
	build.Dir = repoRootB(b)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}

	for range b.N {
		srv := valkeytest.Start(b, valkeytest.Options{})
		cl := srv.Client(b)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)

		// valkey-cli: count its output lines (3 for the subscription, 4 per message).
		vc := exec.Command(cli, "-h", srv.Host, "-p", strconv.Itoa(srv.Port), "psubscribe", "socket.io#*")
		vcOut, err := vc.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := vc.Start(); err != nil {
			b.Fatal(err)
		}
		var vcLines atomic.Int64
		vcDone := make(chan time.Time, 1)
		go func() {
			r := bufio.NewReaderSize(vcOut, 1<<20)
			want := int64(3 + 4*n)
			for {
				line, err := r.ReadSlice('\n')
				if len(line) > 0 && line[len(line)-1] == '\n' {
					if vcLines.Add(1) == want {
						vcDone <- time.Now()
					}
				}
				if err != nil && err != bufio.ErrBufferFull {
					return
				}
			}
		}()

		// oxyctl, stdout to /dev/null.
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		var oxErr bytes.Buffer
		ox := exec.Command(bin, "--redis-url", srv.URL, "pubsub", "tail", "-o", "json", "--count", strconv.Itoa(n))
		ox.Stdout, ox.Stderr = devnull, &oxErr
		ox.Env = append(os.Environ(), "XDG_CONFIG_HOME="+b.TempDir())
		if err := ox.Start(); err != nil {
			b.Fatal(err)
		}
		oxDone := make(chan time.Time, 1)
		go func() {
			_ = ox.Wait()
			oxDone <- time.Now()
		}()

		// Both subscribed: one client with 1 pattern, one with 3.
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			list, _ := cl.Do(ctx, cl.B().ClientList().Build()).ToString()
			if strings.Contains(list, " psub=1 ") && strings.Contains(list, " psub=3 ") {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("subscribers not ready:\n%s\noxyctl: %s", list, oxErr.String())
			}
		}

		// Publish at a fixed rate: a pipelined batch every tick.
		const batch = 500
		tick := time.Duration(float64(time.Second) * batch / float64(rate))
		start := time.Now()
		sent := 0
		cmds := make(valkey.Commands, 0, batch)
		for sent < n {
			cmds = cmds[:0]
			for i := 0; i < batch && sent+i < n; i++ {
				cmds = append(cmds, cl.B().Publish().Channel("socket.io#/#room-12345#").Message(valkey.BinaryString(payload)).Build())
			}
			for _, r := range cl.DoMulti(ctx, cmds...) {
				if err := r.Error(); err != nil {
					b.Fatalf("PUBLISH: %v", err)
				}
			}
			sent += len(cmds)
			if d := time.Until(start.Add(time.Duration(sent/batch) * tick)); d > 0 {
				time.Sleep(d)
			}
		}
		published := time.Since(start)

		wait := func(ch chan time.Time) (time.Time, bool) {
			select {
			case t := <-ch:
				return t, true
			case <-time.After(30 * time.Second):
				return time.Time{}, false
			}
		}
		vcEnd, vcOK := wait(vcDone)
		oxEnd, oxOK := wait(oxDone)
		if !oxOK {
			// Lost messages: stop it as Ctrl-C does; its summary counts them and the gaps.
			_ = ox.Process.Signal(syscall.SIGINT)
			oxEnd, _ = wait(oxDone)
		}
		_ = vc.Process.Kill()
		_ = vc.Wait()
		devnull.Close()
		cancel()

		got := n
		if m := regexp.MustCompile(`tail: (\d+) message`).FindStringSubmatch(oxErr.String()); m != nil {
			got, _ = strconv.Atoi(m[1])
		}
		vcGot := int((vcLines.Load() - 3) / 4)
		oxRate := float64(got) / oxEnd.Sub(start).Seconds()
		vcRate := float64(vcGot) / vcEnd.Sub(start).Seconds()
		if !vcOK {
			vcRate = float64(vcGot) / time.Since(start).Seconds()
		}
		fmt.Printf("published %d messages of %d bytes in %s (%.0f msg/s)\n", n, len(payload), published.Round(time.Millisecond), float64(n)/published.Seconds())
		fmt.Printf("valkey-cli psubscribe (raw):      %d messages, %.0f msg/s\n", vcGot, vcRate)
		fmt.Printf("oxyctl pubsub tail -o json:       %d messages, %.0f msg/s\n", got, oxRate)
		fmt.Printf("ratio oxyctl / valkey-cli:        %.2f (target >= 0.5)\n", oxRate/vcRate)
		fmt.Printf("oxyctl stderr: %s", oxErr.String())
		b.ReportMetric(oxRate, "oxyctl-msg/s")
		b.ReportMetric(vcRate, "valkey-cli-msg/s")
		b.ReportMetric(oxRate/vcRate, "ratio")
		if got != n && !strings.Contains(oxErr.String(), "gap") {
			b.Errorf("oxyctl showed %d of %d messages and reported no gap", got, n)
		}
		if !oxOK || got != n {
			b.Logf("oxyctl lost messages: %d of %d (stderr: %s)", got, n, oxErr.String())
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func repoRootB(b *testing.B) string { return repo.MustRoot(b) }
