package core

// Interrupt makes a Wait in progress (or the next one) return at once.
// Safe from any goroutine; the binding uses it to stop a poll() that
// another thread is waiting in, e.g. to close the Manager.
func (m *Manager) Interrupt() { m.post(func() {}) }
