package core

import (
	"math/rand"
	"testing"
)

func TestIDTable(t *testing.T) {
	var tab idTable
	ref := map[uint64]*Conn{}
	rng := rand.New(rand.NewSource(1))
	next := uint64(1)
	for step := 0; step < 200000; step++ {
		if rng.Intn(3) > 0 || len(ref) == 0 {
			c := &Conn{id: next}
			next += uint64(1 + rng.Intn(3))
			tab.put(c)
			ref[c.id] = c
		} else {
			for id := range ref { // a random live id
				tab.del(id)
				delete(ref, id)
				break
			}
		}
		if step%997 == 0 {
			for id, c := range ref {
				if tab.get(id) != c {
					t.Fatalf("step %d: id %d lost", step, id)
				}
			}
			if tab.n != len(ref) {
				t.Fatalf("n %d, want %d", tab.n, len(ref))
			}
		}
		if got := tab.get(next + 5); got != nil {
			t.Fatalf("found absent id")
		}
	}
	for id := range ref {
		tab.del(id)
		tab.del(id)
	}
	if tab.n != 0 || tab.get(1) != nil {
		t.Fatal("not empty")
	}
}
