package nacos

import (
	"context"
	"fmt"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/sdkclient"
)

// Per-call parameters, for callers of the original community plugin: the SDK's own
// parameter structs, passed in the call's option context under that plugin's string
// keys, or with the typed functions below, which use the same keys.
//
// Only the fields listed are used; service names come from the go-micro arguments. A
// field left at its zero value keeps what the registry does without it:
//
//	register_instance_param     vo.RegisterInstanceParam   GroupName, ClusterName, Weight, Metadata (added to every node; the node's own keys win), Ip and Port (replace every node's), Healthy and Enable (as given, unless both are false); Ephemeral is always true (README)
//	deregister_instance_param   vo.DeregisterInstanceParam GroupName
//	select_instances_param      vo.GetServiceParam         GroupName, Clusters (only nodes of these clusters)
//	get_all_service_info_param  vo.GetAllServiceInfoParam  NameSpace, GroupName, and PageNo/PageSize for one page instead of all
//	subscribe_param             vo.SubscribeParam          ServiceName (when WatchService is not given), GroupName, Clusters
const (
	registerParamKey   = "register_instance_param"
	deregisterParamKey = "deregister_instance_param"
	getParamKey        = "select_instances_param"
	listParamKey       = "get_all_service_info_param"
	watchParamKey      = "subscribe_param"
)

// RegisterParam passes SDK register parameters for one Register call.
func RegisterParam(p vo.RegisterInstanceParam) registry.RegisterOption {
	return func(o *registry.RegisterOptions) { o.Context = withParam(o.Context, registerParamKey, p) }
}

// DeregisterParam passes SDK deregister parameters for one Deregister call.
func DeregisterParam(p vo.DeregisterInstanceParam) registry.DeregisterOption {
	return func(o *registry.DeregisterOptions) { o.Context = withParam(o.Context, deregisterParamKey, p) }
}

// GetParam passes SDK lookup parameters for one GetService call.
func GetParam(p vo.GetServiceParam) registry.GetOption {
	return func(o *registry.GetOptions) { o.Context = withParam(o.Context, getParamKey, p) }
}

// ListParam passes SDK listing parameters for one ListServices call.
func ListParam(p vo.GetAllServiceInfoParam) registry.ListOption {
	return func(o *registry.ListOptions) { o.Context = withParam(o.Context, listParamKey, p) }
}

// WatchParam passes SDK subscribe parameters for one Watch call. Its callback is not
// used: results come from the watcher's Next.
func WatchParam(p vo.SubscribeParam) registry.WatchOption {
	return func(o *registry.WatchOptions) { o.Context = withParam(o.Context, watchParamKey, p) }
}

func withParam(ctx context.Context, key string, value interface{}) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithValue(ctx, key, value) // string keys: the original plugin's API
}

// param reads a per-call parameter struct of type T.
func param[T any](ctx context.Context, key string) (T, bool) {
	var zero T
	if ctx == nil {
		return zero, false
	}
	p, ok := ctx.Value(key).(T)
	return p, ok
}

// group returns the group a call names, or the registry's.
func group(cfg *config, g string) (string, error) {
	if g == "" {
		return cfg.group, nil
	}
	return g, sdkclient.CheckGroup(g)
}

func registerTarget(cfg *config, ctx context.Context) (serviceKey, instanceFields, error) {
	f := instanceFields{cluster: cfg.cluster, weight: cfg.weight}
	p, _ := param[vo.RegisterInstanceParam](ctx, registerParamKey)
	g, err := group(cfg, p.GroupName)
	if err != nil {
		return serviceKey{}, f, err
	}
	if p.ClusterName != "" {
		if err := checkCluster(p.ClusterName); err != nil {
			return serviceKey{}, f, err
		}
		f.cluster = p.ClusterName
	}
	if p.Weight != 0 {
		if err := checkWeight(p.Weight); err != nil {
			return serviceKey{}, f, err
		}
		f.weight = p.Weight
	}
	if p.Ip != "" {
		if err := checkIP(p.Ip); err != nil {
			return serviceKey{}, f, fmt.Errorf("%v (%s Ip)", err, registerParamKey)
		}
		f.ip = p.Ip
	}
	if p.Port > 65535 {
		return serviceKey{}, f, fmt.Errorf("nacos: %s Port %d is over 65535", registerParamKey, p.Port)
	}
	f.port = p.Port
	if p.Healthy || p.Enable { // both false is the zero value: not set
		f.unwell, f.disabled = !p.Healthy, !p.Enable
	}
	f.extra = p.Metadata
	return serviceKey{group: g}, f, nil
}

func deregisterTarget(cfg *config, ctx context.Context) (serviceKey, error) {
	p, _ := param[vo.DeregisterInstanceParam](ctx, deregisterParamKey)
	g, err := group(cfg, p.GroupName)
	return serviceKey{group: g}, err
}

func getTarget(cfg *config, ctx context.Context) (serviceKey, []string, error) {
	p, _ := param[vo.GetServiceParam](ctx, getParamKey)
	g, err := group(cfg, p.GroupName)
	if err != nil {
		return serviceKey{}, nil, err
	}
	return serviceKey{group: g}, p.Clusters, checkClusters(p.Clusters)
}

func listTarget(cfg *config, ctx context.Context) (vo.GetAllServiceInfoParam, error) {
	p, _ := param[vo.GetAllServiceInfoParam](ctx, listParamKey)
	var err error
	if p.GroupName, err = group(cfg, p.GroupName); err != nil {
		return p, err
	}
	if p.PageNo > 0 && p.PageSize == 0 {
		return p, fmt.Errorf("nacos: %s names page %d but a page size of 0", listParamKey, p.PageNo)
	}
	return p, sdkclient.CheckNamespace(p.NameSpace)
}

func watchTarget(cfg *config, o registry.WatchOptions) (serviceKey, []string, error) {
	p, _ := param[vo.SubscribeParam](o.Context, watchParamKey)
	g, err := group(cfg, p.GroupName)
	if err != nil {
		return serviceKey{}, nil, err
	}
	key := serviceKey{group: g, name: o.Service}
	if key.name == "" {
		key.name = p.ServiceName
	}
	return key, p.Clusters, checkClusters(p.Clusters)
}

func checkClusters(clusters []string) error {
	for _, c := range clusters {
		if c == "" {
			return fmt.Errorf("nacos: empty cluster name in a cluster filter")
		}
		if err := checkClusterFilter(c); err != nil {
			return err
		}
	}
	return nil
}
