package tenantmetrics

import (
	"container/heap"
	"sort"
)

// spaceSaving is the Space-Saving heavy-hitter sketch (Metwally, Agrawal and
// El Abbadi, 2005) over tenant hosts: at most capacity counters, so memory is
// fixed whatever the number of tenants. Any host whose true count exceeds
// total/capacity is guaranteed to be held. Not safe for concurrent use.
type spaceSaving struct {
	capacity int
	items    map[string]*ssItem
	heap     ssHeap // min-heap on count
}

type ssItem struct {
	key   string
	id    int64 // the tenant's catalog id, when known (0 otherwise)
	count uint64
	index int // position in heap
}

func newSpaceSaving(capacity int) *spaceSaving {
	return &spaceSaving{
		capacity: capacity,
		items:    make(map[string]*ssItem, capacity),
		heap:     make(ssHeap, 0, capacity),
	}
}

// add counts one occurrence of key. When the sketch is full, the key with
// the smallest count is replaced and key inherits that count plus one (the
// Space-Saving overestimate), so a newcomer can displace stale entries.
// id rides along with key (the tenant's catalog id; 0 when unknown).
func (s *spaceSaving) add(key string, id int64) {
	if it, ok := s.items[key]; ok {
		it.count++
		if id != 0 {
			it.id = id
		}
		heap.Fix(&s.heap, it.index)
		return
	}
	if len(s.heap) < s.capacity {
		it := &ssItem{key: key, id: id, count: 1}
		s.items[key] = it
		heap.Push(&s.heap, it)
		return
	}
	it := s.heap[0]
	delete(s.items, it.key)
	it.key, it.id = key, id
	it.count++
	s.items[key] = it
	heap.Fix(&s.heap, 0)
}

// ranked is one entry of top: a key and its id.
type ranked struct {
	key string
	id  int64
}

// top returns up to n keys with the highest non-zero counts, highest first
// (ties broken by key for determinism), never including exclude.
func (s *spaceSaving) top(n int, exclude string) []ranked {
	all := make([]*ssItem, 0, len(s.heap))
	for _, it := range s.heap {
		if it.count > 0 && it.key != exclude {
			all = append(all, it)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].count != all[j].count {
			return all[i].count > all[j].count
		}
		return all[i].key < all[j].key
	})
	if len(all) > n {
		all = all[:n]
	}
	keys := make([]ranked, len(all))
	for i, it := range all {
		keys[i] = ranked{it.key, it.id}
	}
	return keys
}

// decay halves every count. Halving is monotone, so the heap order holds.
// Entries that reach zero stay as the first candidates for replacement.
func (s *spaceSaving) decay() {
	for _, it := range s.heap {
		it.count /= 2
	}
}

// count returns the sketch's (over)estimate for key, 0 if not held.
func (s *spaceSaving) count(key string) uint64 {
	if it, ok := s.items[key]; ok {
		return it.count
	}
	return 0
}

type ssHeap []*ssItem

func (h ssHeap) Len() int           { return len(h) }
func (h ssHeap) Less(i, j int) bool { return h[i].count < h[j].count }
func (h ssHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *ssHeap) Push(x any) {
	it := x.(*ssItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *ssHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
