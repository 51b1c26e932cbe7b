// Package human formats quantities for people: the one way oxyctl writes a
// byte count in text output and details.
package human

import "fmt"

// Bytes formats a byte count in binary units with one decimal: 12 B,
// 512.0 KiB, 1.5 MiB, 2.0 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
