// Package e2e holds the end-to-end suite: oxyctl's real entry point run
// against real local servers (TLS valkey-server with a password, a
// 3-primary cluster, the /health and DigitalOcean stand-ins) over a matrix
// of bad input, faults and secrets. It has no non-test code.
package e2e
