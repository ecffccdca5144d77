package nacostest

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// BenchmarkPushFanout100 measures one registration change until its push
// has reached the callbacks of 100 subscribed SDK clients.
func BenchmarkPushFanout100(b *testing.B) {
	const subscribers = 100
	srv := newServer(b)
	publisher := newClient(b, []string{srv.Addr()})
	register(b, publisher, versioned("start"))

	// Every change reaches every subscriber's callback exactly once.
	delivered := make(chan struct{}, subscribers)
	readers := make([]naming_client.INamingClient, subscribers)
	params := make([]vo.NacosClientParam, subscribers)
	for i := range params {
		params[i] = clientParam(b, []string{srv.Addr()})
	}
	var wg sync.WaitGroup
	errs := make(chan error, subscribers)
	for i := range readers {
		wg.Add(1)
		go func() { // clients take 100 ms each to connect: build them together
			defer wg.Done()
			client, err := clients.NewNamingClient(params[i])
			if err != nil {
				errs <- err
				return
			}
			readers[i] = client
			errs <- client.Subscribe(&vo.SubscribeParam{
				ServiceName:       "svc",
				SubscribeCallback: func([]model.Instance, error) { delivered <- struct{}{} },
			})
		}()
	}
	wg.Wait()
	close(errs)
	b.Cleanup(func() {
		for _, client := range readers {
			if client != nil {
				client.CloseClient()
			}
		}
	})
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	for range subscribers { // the initial callbacks
		<-delivered
	}

	b.ResetTimer()
	for i := range b.N {
		register(b, publisher, versioned(strconv.Itoa(i)))
		for range subscribers {
			<-delivered
		}
	}
}

// BenchmarkQuery10000 measures an SDK subscribe (and unsubscribe) round trip
// for a service of 10,000 instances: each answer carries the full list.
func BenchmarkQuery10000(b *testing.B) {
	const instances = 10000
	srv := newServer(b)
	publisher := newClient(b, []string{srv.Addr()})
	batch := make([]vo.RegisterInstanceParam, instances)
	for i := range batch {
		batch[i] = instance("big", fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), 8080, map[string]string{"zone": "a"})
	}
	ok, err := publisher.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: "big", Instances: batch})
	if err != nil || !ok {
		b.Fatalf("BatchRegisterInstance = %v, %v", ok, err)
	}
	reader := newClient(b, []string{srv.Addr()})
	got, err := reader.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "big"})
	if err != nil || len(got) != instances {
		b.Fatalf("SelectAllInstances = %d instances, %v", len(got), err)
	}
	// With the group: the SDK's Unsubscribe does not default it as its Subscribe does.
	param := &vo.SubscribeParam{ServiceName: "big", GroupName: "DEFAULT_GROUP", SubscribeCallback: func([]model.Instance, error) {}}

	b.ResetTimer()
	for range b.N {
		// Unsubscribed, the SDK asks the server again on Subscribe.
		if err := reader.Unsubscribe(param); err != nil {
			b.Fatal(err)
		}
		if err := reader.Subscribe(param); err != nil {
			b.Fatal(err)
		}
	}
}
