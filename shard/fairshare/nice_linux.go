package fairshare

import (
	"runtime"
	"sync"
	"syscall"
)

// heavyNice is the niceness a token holder's thread runs at. At nice 19 the
// kernel gives the thread about 1.5% of a core against a nice-0 thread on
// the same core (CFS weights 15 and 1024): short requests of every tenant
// run first, and heavy SQL still has a whole core when nothing else wants
// it. Handing over only Go's processor (runtime.Gosched) is not enough on a
// machine whose cores are oversubscribed: the request's thread then waits
// for the OS behind this one.
const heavyNice = 19

var (
	niceOnce sync.Once
	niceOK   bool // the process may lower a thread's priority and raise it back
)

// canRenice reports, once, whether a thread's niceness can be set to
// heavyNice and restored (root, CAP_SYS_NICE or RLIMIT_NICE): restoring is
// what an unprivileged process may not do, and a thread left at nice 19 in
// Go's pool would slow whatever ran on it next. The probe runs on a
// goroutine of its own, which exits still locked if restoring fails, so
// that thread is discarded.
func canRenice() bool {
	niceOnce.Do(func() {
		done := make(chan bool)
		go func() {
			runtime.LockOSThread()
			prev, ok := lowerThread()
			if ok && restoreThread(prev) {
				runtime.UnlockOSThread()
				done <- true
				return
			}
			done <- false // exits locked: the thread is terminated
		}()
		niceOK = <-done
	})
	return niceOK
}

// lowerThread sets the calling thread's niceness to heavyNice and returns
// the kernel's raw priority before (20 - nice).
func lowerThread() (prev int, ok bool) {
	tid := syscall.Gettid()
	prev, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return 0, false
	}
	return prev, syscall.Setpriority(syscall.PRIO_PROCESS, tid, heavyNice) == nil
}

// restoreThread gives the calling thread back the priority lowerThread
// found.
func restoreThread(prev int) bool {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 20-prev) == nil
}

// background runs the statement's goroutine on a nice thread while it holds
// a token; the returned func (called on the same goroutine) restores the
// thread. Where niceness cannot be restored it does nothing.
func background() (restore func()) {
	if !canRenice() {
		return nil
	}
	runtime.LockOSThread()
	prev, ok := lowerThread()
	if !ok {
		runtime.UnlockOSThread()
		return nil
	}
	return func() {
		if restoreThread(prev) {
			runtime.UnlockOSThread()
		}
		// Otherwise the goroutine stays locked to the nice thread, which
		// Go discards when the goroutine exits, rather than reuse it.
	}
}
