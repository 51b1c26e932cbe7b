package ratelimit

import "sort"

// topN keeps the first n items of a stream in `before` order, with memory
// bounded by n (n = 0 keeps everything). Items are deduplicated by key,
// because SCAN may return a key more than once while the keyspace is resized;
// the later copy wins.
type topN[T any] struct {
	n      int
	before func(a, b *T) bool
	keyOf  func(*T) string
	items  []T // a heap whose root is the item that sorts last
	index  map[string]int
}

func newTopN[T any](n int, before func(a, b *T) bool, keyOf func(*T) string) *topN[T] {
	return &topN[T]{n: n, before: before, keyOf: keyOf, index: make(map[string]int)}
}

// after reports whether item i sorts after item j (the heap's order).
func (h *topN[T]) after(i, j int) bool { return h.before(&h.items[j], &h.items[i]) }

func (h *topN[T]) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.index[h.keyOf(&h.items[i])] = i
	h.index[h.keyOf(&h.items[j])] = j
}

func (h *topN[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.after(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *topN[T]) down(i int) {
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.items) && h.after(l, m) {
			m = l
		}
		if r < len(h.items) && h.after(r, m) {
			m = r
		}
		if m == i {
			return
		}
		h.swap(i, m)
		i = m
	}
}

func (h *topN[T]) add(x T) {
	// Most items of a long stream do not make the cut: reject them before
	// the map lookup. (A repeat of a kept key that no longer makes the cut
	// leaves the kept copy in place: still no duplicate.)
	full := h.n > 0 && len(h.items) >= h.n
	if full && !h.before(&x, &h.items[0]) {
		return
	}
	k := h.keyOf(&x)
	if i, ok := h.index[k]; ok {
		h.items[i] = x
		h.up(i)
		h.down(h.index[k])
		return
	}
	if !full {
		h.items = append(h.items, x)
		i := len(h.items) - 1
		h.index[k] = i
		h.up(i)
		return
	}
	delete(h.index, h.keyOf(&h.items[0]))
	h.items[0] = x
	h.index[k] = 0
	h.down(0)
}

// sorted returns the kept items in `before` order (never nil).
func (h *topN[T]) sorted() []T {
	out := make([]T, len(h.items))
	copy(out, h.items)
	sort.Slice(out, func(i, j int) bool { return h.before(&out[i], &out[j]) })
	return out
}
