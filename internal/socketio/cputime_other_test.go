//go:build !unix

package socketio

import "time"

func cpuTime() time.Duration { return 0 }
