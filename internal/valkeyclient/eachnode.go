package valkeyclient

import (
	"sync"
)

// EachNode runs fn on every node at once and returns the results in the
// order of nodes; a panic in fn becomes onPanic's result for that node, so
// that one node's bug does not end the process.
func EachNode[T any](nodes []Node, fn func(Node) T, onPanic func(n Node, p any) T) []T {
	out := make([]T, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					out[i] = onPanic(n, p)
				}
			}()
			out[i] = fn(n)
		}()
	}
	wg.Wait()
	return out
}
