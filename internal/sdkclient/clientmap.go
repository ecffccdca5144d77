package sdkclient

import (
	"sync"

	"github.com/nacos-group/nacos-sdk-go/v2/util"
)

// nacos-sdk-go v2.3.5 keeps the connection of every client, naming and config, in a
// process-wide map (package rpc's clientMap). Building a client, and every config
// request, look it up under the SDK's lock; a client's shutdown deletes from it without
// that lock. Run together, that is a data race, and can crash the process (concurrent
// map read and map write). The registry and the config source may share a process, so
// they share this gate: a shutdown runs only while none of their builds and requests
// is under way, and they wait while one runs (which takes no network round trip). The
// SDK's own config listen rounds look the map up too, on its goroutine, and cannot be
// gated: docs/limits.md lists that among the defects we cannot work around.
var clientMap struct {
	sync.Mutex           // guards users and shutdown
	changed    sync.Cond // signalled when users or shutdown change
	users      int       // builds and requests under way
	shutdown   bool      // a shutdown runs
}

func init() { clientMap.changed.L = &clientMap.Mutex }

// fillLocalIP: nacos-sdk-go v2.3.5's util.LocalIP caches the machine's address in a
// global on first use, without synchronisation, and every request reads it, so the
// first requests of two clients connecting at once race. It is filled before the first
// client is built.
var fillLocalIP = sync.OnceFunc(func() { util.LocalIP() })

// UseClientMap is called before an SDK call that looks up the SDK's map of clients: a
// client build or a config request. It waits while a shutdown runs; the call's end
// calls done.
func UseClientMap() (done func()) {
	fillLocalIP()
	clientMap.Lock()
	for clientMap.shutdown {
		clientMap.changed.Wait()
	}
	clientMap.users++
	clientMap.Unlock()
	return func() {
		clientMap.Lock()
		clientMap.users--
		clientMap.changed.Broadcast()
		clientMap.Unlock()
	}
}

// Shutdown runs closeClient, an SDK client's CloseClient, once no build or request is
// under way and no other shutdown runs. It waits for them: a request in flight, at most
// its timeout.
func Shutdown(closeClient func()) {
	clientMap.Lock()
	for clientMap.users > 0 || clientMap.shutdown {
		clientMap.changed.Wait()
	}
	clientMap.shutdown = true
	clientMap.Unlock()
	defer func() {
		clientMap.Lock()
		clientMap.shutdown = false
		clientMap.changed.Broadcast()
		clientMap.Unlock()
	}()
	closeClient()
}
