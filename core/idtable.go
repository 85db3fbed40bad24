package core

// idTable maps connection ids to live connections: open addressing with
// linear probing on id & mask, storing only the *Conn (the key is c.id).
// Ids are handed out sequentially, so they spread evenly over the slots;
// at ~10 bytes per connection it costs a third of a map[uint64]*Conn, which
// matters for the memory per idle connection.
type idTable struct {
	slots []*Conn // length 0 or a power of two
	n     int
}

func (t *idTable) get(id uint64) *Conn {
	if t.n == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := id & mask; ; i = (i + 1) & mask {
		c := t.slots[i]
		if c == nil || c.id == id {
			return c
		}
	}
}

// put adds c, whose id must not be in the table.
func (t *idTable) put(c *Conn) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.resize(max(2*len(t.slots), 64))
	}
	t.insert(c)
	t.n++
}

func (t *idTable) insert(c *Conn) {
	mask := uint64(len(t.slots) - 1)
	i := c.id & mask
	for t.slots[i] != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = c
}

// del removes the entry for id, if any, shifting later entries of the
// probe run back so that lookups need no tombstones.
func (t *idTable) del(id uint64) {
	if t.n == 0 {
		return
	}
	mask := uint64(len(t.slots) - 1)
	i := id & mask
	for {
		c := t.slots[i]
		if c == nil {
			return
		}
		if c.id == id {
			break
		}
		i = (i + 1) & mask
	}
	t.slots[i] = nil
	t.n--
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		home := t.slots[j].id & mask
		// Move slots[j] into the hole at i unless its home lies cyclically in (i, j].
		if i <= j && (home <= i || home > j) || i > j && home <= i && home > j {
			t.slots[i], t.slots[j] = t.slots[j], nil
			i = j
		}
	}
	if len(t.slots) > 1024 && 8*t.n < len(t.slots) {
		t.resize(len(t.slots) / 2) // give memory back after a burst
	}
}

func (t *idTable) resize(size int) {
	old := t.slots
	t.slots = make([]*Conn, size)
	for _, c := range old {
		if c != nil {
			t.insert(c)
		}
	}
}
