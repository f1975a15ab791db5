package tenantmetrics

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSpaceSaving_BoundedAndFindsHeavyHitters(t *testing.T) {
	s := newSpaceSaving(50)
	r := rand.New(rand.NewPCG(1, 2))
	// 10,000 tenants with one request each, in random order, interleaved
	// with three tenants that together send a third of the traffic.
	heavy := []string{"heavy-a", "heavy-b", "heavy-c"}
	for i := range 15000 {
		if i%3 == 0 {
			s.add(heavy[r.IntN(3)], 0)
			continue
		}
		s.add(fmt.Sprintf("t%05d", r.IntN(10000)), 0)
	}
	if got := len(s.items); got > 50 {
		t.Fatalf("sketch holds %d keys, want <= 50", got)
	}
	if len(s.items) != len(s.heap) {
		t.Fatalf("map (%d) and heap (%d) disagree", len(s.items), len(s.heap))
	}
	got := keys(s.top(3, ""))
	slices.Sort(got)
	if !slices.Equal(got, heavy) {
		t.Fatalf("top(3) = %v, want %v", got, heavy)
	}
	for _, h := range heavy {
		// Space-Saving never underestimates a held key.
		if c := s.count(h); c < 1500 {
			t.Errorf("count(%s) = %d, want >= 1500", h, c)
		}
	}
}

func TestSpaceSaving_DecayKeepsHeapOrder(t *testing.T) {
	s := newSpaceSaving(4)
	for i, k := range []string{"a", "b", "c", "d"} {
		for range (i + 1) * 3 {
			s.add(k, int64(i+1))
		}
	}
	s.decay()
	if got, want := s.count("d"), uint64(6); got != want {
		t.Fatalf("count(d) after decay = %d, want %d", got, want)
	}
	for i := 1; i < len(s.heap); i++ {
		if parent := (i - 1) / 2; s.heap[parent].count > s.heap[i].count {
			t.Fatalf("heap order broken at %d: %d > %d", i, s.heap[parent].count, s.heap[i].count)
		}
		if s.heap[i].index != i {
			t.Fatalf("heap index %d stored as %d", i, s.heap[i].index)
		}
	}
	// A new key replaces the smallest ("a": 3/2 = 1) and inherits its count.
	s.add("e", 5)
	if s.count("a") != 0 || s.count("e") != 2 {
		t.Fatalf("after replacement count(a)=%d count(e)=%d, want 0 and 2", s.count("a"), s.count("e"))
	}
	if got, want := s.top(2, "d"), []ranked{{"c", 3}, {"b", 2}}; !slices.Equal(got, want) {
		t.Fatalf("top(2, exclude d) = %v, want %v", got, want)
	}
	// The replacing key brings its own id, not the evicted key's.
	if it := s.items["e"]; it.id != 5 {
		t.Fatalf("id of e = %d, want 5", it.id)
	}
}

func keys(rs []ranked) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.key
	}
	return out
}
