package core

import (
	"context"
	"fmt"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/wire"
)

// Per-call parameters, for callers of the original community plugin: the SDK's own
// parameter structs, in the call's option context under that plugin's string keys
// (each adapter's RegisterParam and its siblings use the same keys).
//
// Only the fields listed are used; service names come from the go-micro arguments. A
// field left at its zero value keeps what the registry does without it:
//
//	register_instance_param     vo.RegisterInstanceParam   GroupName, ClusterName, Weight, Metadata (added to every node; the node's own keys win), Ip and Port (replace every node's), Healthy and Enable (as given, unless both are false); Ephemeral is always true
//	deregister_instance_param   vo.DeregisterInstanceParam GroupName
//	select_instances_param      vo.GetServiceParam         GroupName, Clusters (only nodes of these clusters)
//	get_all_service_info_param  vo.GetAllServiceInfoParam  NameSpace, GroupName, and PageNo/PageSize for one page instead of all
//	subscribe_param             vo.SubscribeParam          ServiceName (when WatchService is not given), GroupName, Clusters
const (
	RegisterInstanceParamKey   = "register_instance_param"
	DeregisterInstanceParamKey = "deregister_instance_param"
	SelectInstancesParamKey    = "select_instances_param"
	AllServiceInfoParamKey     = "get_all_service_info_param"
	SubscribeParamKey          = "subscribe_param"
)

// WithParam returns ctx carrying a per-call parameter struct under one of the keys above.
func WithParam(ctx context.Context, key string, value any) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	//lint:ignore SA1029 the original plugin's string keys are its API
	return context.WithValue(ctx, key, value)
}

// param reads a per-call parameter struct of type T.
func param[T any](ctx context.Context, key string) T {
	var zero T
	if ctx == nil {
		return zero
	}
	p, _ := ctx.Value(key).(T)
	return p
}

// group returns the group a call names, or the registry's.
func (s *Settings) groupOf(g string) (string, error) {
	if g == "" {
		return s.group, nil
	}
	return g, sdkclient.CheckGroup(g)
}

func (s *Settings) registerTarget(ctx context.Context) (string, wire.InstanceFields, error) {
	f := wire.InstanceFields{Cluster: s.cluster, Weight: s.weight}
	p := param[vo.RegisterInstanceParam](ctx, RegisterInstanceParamKey)
	g, err := s.groupOf(p.GroupName)
	if err != nil {
		return "", f, err
	}
	if p.ClusterName != "" {
		if err := wire.CheckCluster(p.ClusterName); err != nil {
			return "", f, err
		}
		f.Cluster = p.ClusterName
	}
	if p.Weight != 0 {
		if err := checkWeight(p.Weight); err != nil {
			return "", f, err
		}
		f.Weight = p.Weight
	}
	if p.Ip != "" {
		if err := wire.CheckIP(p.Ip); err != nil {
			return "", f, fmt.Errorf("%v (%s Ip)", err, RegisterInstanceParamKey)
		}
		f.IP = p.Ip
	}
	if p.Port > 65535 {
		return "", f, fmt.Errorf("nacos: %s Port %d is over 65535", RegisterInstanceParamKey, p.Port)
	}
	f.Port = p.Port
	if p.Healthy || p.Enable { // both false is the zero value: not set
		f.Unwell, f.Disabled = !p.Healthy, !p.Enable
	}
	f.Extra = p.Metadata
	return g, f, nil
}

func (s *Settings) deregisterTarget(ctx context.Context) (string, error) {
	return s.groupOf(param[vo.DeregisterInstanceParam](ctx, DeregisterInstanceParamKey).GroupName)
}

func (s *Settings) lookupTarget(ctx context.Context) (string, []string, error) {
	p := param[vo.GetServiceParam](ctx, SelectInstancesParamKey)
	g, err := s.groupOf(p.GroupName)
	if err != nil {
		return "", nil, err
	}
	return g, p.Clusters, checkClusters(p.Clusters)
}

func (s *Settings) listTarget(ctx context.Context) (vo.GetAllServiceInfoParam, error) {
	p := param[vo.GetAllServiceInfoParam](ctx, AllServiceInfoParamKey)
	var err error
	if p.GroupName, err = s.groupOf(p.GroupName); err != nil {
		return p, err
	}
	if p.PageNo > 0 && p.PageSize == 0 {
		return p, fmt.Errorf("nacos: %s names page %d but a page size of 0", AllServiceInfoParamKey, p.PageNo)
	}
	return p, sdkclient.CheckNamespace(p.NameSpace)
}

func (s *Settings) watchTarget(service string, ctx context.Context) (naming.ServiceKey, []string, error) {
	p := param[vo.SubscribeParam](ctx, SubscribeParamKey)
	g, err := s.groupOf(p.GroupName)
	if err != nil {
		return naming.ServiceKey{}, nil, err
	}
	key := naming.ServiceKey{Group: g, Name: service}
	if key.Name == "" {
		key.Name = p.ServiceName
	}
	return key, p.Clusters, checkClusters(p.Clusters)
}

func checkClusters(clusters []string) error {
	for _, c := range clusters {
		if c == "" {
			return fmt.Errorf("nacos: empty cluster name in a cluster filter")
		}
		if err := wire.CheckClusterFilter(c); err != nil {
			return err
		}
	}
	return nil
}
