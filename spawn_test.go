package k8s_event

import "sync"

// spawn runs f in a goroutine that wg waits for: sync.WaitGroup.Go, which needs Go 1.25,
// for a module that builds with Go 1.22.
func spawn(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}
