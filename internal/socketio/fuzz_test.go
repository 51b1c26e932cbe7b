package socketio

import (
	"testing"
)

// FuzzDecode: no input panics; every result keeps the Message invariants
// (allowed kind, raw bytes on unknown, [] and {} never nil) and AppendJSON
// writes valid JSON with the same values as encoding/json.
func FuzzDecode(f *testing.F) {
	_, msgs := loadFixtures(f)
	for _, fm := range msgs {
		f.Add(fm.Channel, fm.payload, fm.key, fm.Command == "SPUBLISH")
	}
	f.Add("socket.io#/#", broadcast("e", []byte{0xd4, 0x00, 0x00}, []byte{0xc7, 0x01, 0x00, 0x01},
		append([]byte{0xd7, 0x00}, be64(1796049847198)...), append([]byte{0xd6, 0xff}, be32(1)...)), "", false)
	for _, h := range hostile {
		f.Add(h.channel, h.payload, "", false)
	}
	f.Add("socket.io-request#/#", []byte(`{"uid":"x","type":6,"data":["ev",[[[1]]],"\u2028"]}`), "socket.io", false)
	f.Fuzz(func(t *testing.T, channel string, payload []byte, key string, sharded bool) {
		m := Decode(channel, payload, Options{Key: key, Sharded: sharded})
		checkMessage(t, "fuzz", &m, payload)
	})
}
