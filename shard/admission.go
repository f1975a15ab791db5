package shard

import "container/list"

// Which idle database to close for room (a 2Q policy). A database opened
// for the first time in a while is on probation; touched again while open
// (a second request), or reopened soon after probation closed it (its id
// is in the ghost list), it joins the main segment. Room is made from
// probation while probation holds more than a quarter of the cap, else
// from main, least recently released first in each. So a one-off scan over
// many tenants cycles through probation and cannot flush the working set,
// while a tenant that comes back is kept like under LRU.
//
// Both lists hold only databases nobody holds (pinned ones are never
// evicted); the counts cover all open ones.
type idleLists struct {
	probation, main *list.List
	onProbation     int   // open entries on probation, held or not
	ghost           ghost // ids probation closed recently
}

func newIdleLists(maxOpen int) idleLists {
	return idleLists{probation: list.New(), main: list.New(), ghost: newGhost(max(maxOpen/2, 1))}
}

// admitLocked places a new entry: straight into main if it was closed off
// probation recently.
func (m *Manager) admitLocked(e *entry) {
	if m.idle.ghost.take(e.id) {
		e.main = true
		return
	}
	e.probation = true
	m.idle.onProbation++
}

// touchLocked is a further Acquire of an open entry: a second touch.
func (m *Manager) touchLocked(e *entry) {
	if e.probation {
		e.probation = false
		m.idle.onProbation--
		e.main = true
	}
}

// leaveLocked takes an entry off the books when it leaves the table.
func (m *Manager) leaveLocked(e *entry) {
	if e.probation {
		e.probation = false
		m.idle.onProbation--
	}
}

// idleLocked files an entry nobody holds any more.
func (m *Manager) idleLocked(e *entry) {
	e.list = m.idle.probation
	if e.main {
		e.list = m.idle.main
	}
	e.elem = e.list.PushFront(e)
}

// unidleLocked takes an entry off its idle list (it is held again, or goes).
func (m *Manager) unidleLocked(e *entry) {
	if e.elem != nil {
		e.list.Remove(e.elem)
		e.elem, e.list = nil, nil
	}
}

// evictForRoomLocked closes the policy's victim; false if every open
// database is held.
func (m *Manager) evictForRoomLocked() bool {
	p, main := m.idle.probation.Back(), m.idle.main.Back()
	var victim *entry
	switch {
	case p != nil && (main == nil || m.idle.onProbation > m.cfg.MaxOpen/4):
		victim = p.Value.(*entry)
		m.idle.ghost.add(victim.id)
	case main != nil:
		victim = main.Value.(*entry)
	default:
		return false
	}
	m.evictLocked(victim)
	return true
}

// ghost is a bounded FIFO set of tenant ids.
type ghost struct {
	ring []int64
	next int
	in   map[int64]int // id → how many times it is in ring
}

func newGhost(n int) ghost { return ghost{ring: make([]int64, 0, n), in: map[int64]int{}} }

func (g *ghost) add(id int64) {
	if len(g.ring) < cap(g.ring) {
		g.ring = append(g.ring, id)
	} else {
		old := g.ring[g.next]
		if g.in[old]--; g.in[old] <= 0 {
			delete(g.in, old)
		}
		g.ring[g.next] = id
		g.next = (g.next + 1) % len(g.ring)
	}
	g.in[id]++
}

// take reports whether id is in the set and forgets it.
func (g *ghost) take(id int64) bool {
	if g.in[id] == 0 {
		return false
	}
	delete(g.in, id) // its ring slots age out (if it is added again meanwhile, they may make it forgotten early)
	return true
}
