package testkit

import (
	"flag"
	"strconv"
	"testing"
	"time"
)

// Eventually polls cond every 10 ms until it holds, and fails the test if it does not
// within the given time. Arguments of type func() string are called when the message
// is written, so that it shows the state at the deadline rather than when Eventually
// was called.
func Eventually(t testing.TB, within time.Duration, cond func() bool, format string, args ...interface{}) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			for i, a := range args {
				if f, ok := a.(func() string); ok {
					args[i] = f()
				}
			}
			t.Fatalf("after %v: "+format, append([]interface{}{within}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Consistently polls cond every 10 ms for the given time, and fails the test as soon as
// it does not hold, saying what describe says then: for what must not happen within a
// window (a rate, a bound).
func Consistently(t testing.TB, during time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(during)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatal(describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitersInParallel makes the tests that call t.Parallel run n at a time instead of
// -parallel's default of one per CPU, unless -test.parallel was given: for tests that
// mostly wait (on a server, on the registry's delays) rather than compute. TestMain
// calls it before m.Run.
func WaitersInParallel(n int) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
}
