package human

import "testing"

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		-5: "-5 B", 0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		5<<20 + 300<<10: "5.3 MiB", 8 << 20: "8.0 MiB", 3 << 30: "3.0 GiB", 5 << 40: "5.0 TiB",
		1<<63 - 1: "8.0 EiB",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
