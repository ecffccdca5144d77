package core

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/naming/fakenaming"
)

// ListServices reads every page of names, or the one page the per-call parameters name.
func TestListServicesReadsEveryPage(t *testing.T) {
	t.Parallel()
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, patient)
	var want []string
	for i := range 2*serviceListPageSize + 1 {
		name := fmt.Sprintf("listed-%04d", i)
		want = append(want, name)
		register(t, r, service(name, "a"), 0)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want []string
	}{
		{"every page", context.Background(), want},
		{"one page", WithParam(context.Background(), AllServiceInfoParamKey, vo.GetAllServiceInfoParam{PageNo: 2, PageSize: 10}), want[10:20]},
	} {
		got, err := r.ListServices(tc.ctx)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Fatalf("%s: %d names (%v), want %d, from %s to %s", tc.name, len(got), err, len(tc.want), tc.want[0], tc.want[len(tc.want)-1])
		}
	}
	if n := requests(srv, fakenaming.ServiceNames); n != 4 {
		t.Fatalf("%d requests, want 3 pages and 1", n)
	}
}
