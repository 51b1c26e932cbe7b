package socketio

import (
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// benchBroadcast is a realistic ~200-byte classic broadcast:
// socket.to('conversation:…').emit('message:new', {…}) from one socket.
func benchBroadcast() []byte {
	b := msgp.AppendArrayHeader(nil, 3)
	b = msgp.AppendString(b, "9UUkUo")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "type")
	b = msgp.AppendInt(b, 2)
	b = msgp.AppendString(b, "data")
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendString(b, "message:new")
	b = msgp.AppendMapHeader(b, 5)
	b = msgp.AppendString(b, "id")
	b = msgp.AppendString(b, "6650f1c2e4b0a1b2")
	b = msgp.AppendString(b, "conversationId")
	b = msgp.AppendString(b, "6650f0a9e4b0a1b2c3d4e5aa")
	b = msgp.AppendString(b, "text")
	b = msgp.AppendString(b, "héllo, still on for today?")
	b = msgp.AppendString(b, "createdAt")
	b = msgp.AppendInt64(b, 1796049847198)
	b = msgp.AppendString(b, "read")
	b = msgp.AppendBool(b, false)
	b = msgp.AppendString(b, "nsp")
	b = msgp.AppendString(b, "/")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "rooms")
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendString(b, "conversation:6650f0a9")
	b = msgp.AppendString(b, "except")
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendString(b, "ElMrI3co-v9Stk_TAAAA")
	b = msgp.AppendString(b, "flags")
	b = msgp.AppendMapHeader(b, 0)
	return b
}

const benchChannel = "socket.io#/#conversation:6650f0a9#"

func TestBenchPayload(t *testing.T) {
	p := benchBroadcast()
	m := Decode(benchChannel, p, Options{})
	checkMessage(t, "bench", &m, p)
	if m.Kind != KindBroadcast || m.Event != "message:new" || len(p) < 180 || len(p) > 250 {
		t.Fatalf("%d bytes, %+v", len(p), m)
	}
}

func BenchmarkDecode(b *testing.B) {
	p := benchBroadcast()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		Decode(benchChannel, p, Options{})
	}
	reportRate(b, start)
}

func BenchmarkDecodeAppendJSON(b *testing.B) {
	p := benchBroadcast()
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	start := cpuTime()
	now := time.Date(2026, 11, 30, 14, 44, 7, 198123456, time.UTC)
	for b.Loop() {
		m := Decode(benchChannel, p, Options{})
		m.Time = now // the caller stamps each message
		buf = AppendJSON(buf[:0], &m)
	}
	reportRate(b, start)
}

// BenchmarkFixtures decodes and encodes every captured message in turn
// (JSON requests and responses, sharded envelopes, big fetchSockets replies).
func BenchmarkFixtures(b *testing.B) {
	_, msgs := loadFixtures(b)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	i := 0
	start := cpuTime()
	for b.Loop() {
		fm := msgs[i%len(msgs)]
		i++
		m := Decode(fm.Channel, fm.payload, fm.options())
		buf = AppendJSON(buf[:0], &m)
	}
	reportRate(b, start)
}

// reportRate reports messages per second of wall time and, where the
// platform tells, per second of process CPU time (GC included). On a busy
// machine the second is the one that says what one core can do.
func reportRate(b *testing.B, cpuStart time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if cpu := cpuTime() - cpuStart; cpuStart > 0 && cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "msgs/cpu-s")
	}
}

// The hot path's allocation budget, which timing on a shared machine
// cannot show: the payload's one string copy, the args slice, the argument
// map and its boxed values, rooms, except and flags. AppendJSON allocates
// nothing into a buffer with room.
func TestHotPathAllocs(t *testing.T) {
	p := benchBroadcast()
	if n := testing.AllocsPerRun(200, func() { Decode(benchChannel, p, Options{}) }); n > 12 {
		t.Errorf("Decode: %.0f allocs per message, want <= 12", n)
	}
	m := Decode(benchChannel, p, Options{})
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(200, func() { buf = AppendJSON(buf[:0], &m) }); n != 0 {
		t.Errorf("AppendJSON: %.0f allocs per message, want 0", n)
	}
}
