package isolate

import (
	"sync"

	"nsh/isolate/cgroup"
)

var prep struct {
	once sync.Once
	sync.WaitGroup
}

// Prepare starts, once, what a session's first spawn would otherwise do
// on its way to the child: first (the caller's own set-up), nsh becoming
// the children's subreaper, cgroup detection and the janitor. They run on goroutines of their own, so they overlap the
// script's parsing and planning and each other (the janitor's exec runs
// on the other CPU); every start of a process (track) and EndOrphans
// wait for them (Prepared), and what needs detection or the janitor
// before that waits on their own once and lock.
// Each step is also done, once and under its own lock, by whatever needs
// it first, so Prepare changes when they happen, not whether: the
// janitor still exists before the first cgroup is made.
func Prepare(first func()) {
	prep.once.Do(func() {
		prep.Add(3)
		// Detection first: it is the longest (reading mountinfo alone
		// takes 40 to 100 us) and the first cgroup waits for it. The
		// goroutine started last runs next on this P, when the caller
		// blocks; the first ones are the other P's to take at once.
		go func() {
			defer prep.Done()
			cgroup.Detect()
		}()
		go func() {
			defer prep.Done()
			// An error is met again, and reported, by the first cgroup.
			cgroup.StartJanitor()
		}()
		go func() {
			defer prep.Done()
			if first != nil {
				first()
			}
			becomeSubreaper()
		}()
	})
}

// Prepared waits for what Prepare started, if anything.
func Prepared() { prep.Wait() }
