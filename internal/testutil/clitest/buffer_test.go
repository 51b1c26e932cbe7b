package clitest

import (
	"fmt"
	"sync"
	"testing"
)

func TestLinesWhileWriting(t *testing.T) {
	var b Buffer
	if b.Lines() != nil {
		t.Fatal("lines of an empty buffer")
	}
	fmt.Fprint(&b, "a\nb\npartial")
	if got := b.Lines(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("Lines = %q", got)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 1000; i++ {
			fmt.Fprintf(&b, "%d\n", i)
		}
	}()
	for i := 0; i < 100; i++ {
		_ = b.Lines()
	}
	wg.Wait()
	if n := len(b.Lines()); n != 1002 {
		t.Fatalf("%d lines", n)
	}
}
