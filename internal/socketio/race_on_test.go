//go:build race

package socketio

// raceEnabled thins the exhaustive corruption sweep under the race detector,
// which adds nothing to a single-goroutine decoder but slows it tenfold.
const raceEnabled = true
