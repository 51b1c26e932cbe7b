package pubsub

import (
	"bufio"
	"io"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/adaptertap"
	"github.com/oxyhq/oxyctl/internal/output"
)

// BenchmarkHandle is the per-message cost of tail's consumer: decode,
// filter, count, format and buffer one ~200-byte classic broadcast.
func BenchmarkHandle(b *testing.B) {
	f := fixtureByFile(b, "classic-broadcast-all.bin")
	for _, format := range []output.Format{output.JSON, output.Text} {
		b.Run(string(format), func(b *testing.B) {
			ios, _, _ := testIO()
			ios.Out = io.Discard
			opts := &tailOptions{IO: ios, Format: format}
			t := &tailer{opts: opts, key: "socket.io", w: bufio.NewWriterSize(io.Discard, 64<<10)}
			if format == output.Text {
				t.th = output.NewTheme(ios)
			}
			tl := adaptertap.NewTailer(adaptertap.TailOptions{Config: adaptertap.Config{Key: "socket.io"}}, t)
			ev := adaptertap.Event{Kind: adaptertap.EventMessage, Time: time.Now(), Channel: f.Channel, Payload: string(f.payload)}
			b.ReportAllocs()
			b.SetBytes(int64(len(f.payload)))
			for b.Loop() {
				_, _ = tl.Handle(ev)
			}
		})
	}
}
