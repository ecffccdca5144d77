package nacos

import (
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
	"go-micro.dev/v5/registry"

	"github.com/micro-registry/nacos/internal/core"
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

// RegisterParam passes SDK register parameters for one Register call.
func RegisterParam(p vo.RegisterInstanceParam) registry.RegisterOption {
	return func(o *registry.RegisterOptions) {
		o.Context = core.WithParam(o.Context, core.RegisterInstanceParamKey, p)
	}
}

// DeregisterParam passes SDK deregister parameters for one Deregister call.
func DeregisterParam(p vo.DeregisterInstanceParam) registry.DeregisterOption {
	return func(o *registry.DeregisterOptions) {
		o.Context = core.WithParam(o.Context, core.DeregisterInstanceParamKey, p)
	}
}

// GetParam passes SDK lookup parameters for one GetService call.
func GetParam(p vo.GetServiceParam) registry.GetOption {
	return func(o *registry.GetOptions) { o.Context = core.WithParam(o.Context, core.SelectInstancesParamKey, p) }
}

// ListParam passes SDK listing parameters for one ListServices call.
func ListParam(p vo.GetAllServiceInfoParam) registry.ListOption {
	return func(o *registry.ListOptions) { o.Context = core.WithParam(o.Context, core.AllServiceInfoParamKey, p) }
}

// WatchParam passes SDK subscribe parameters for one Watch call. Its callback is not
// used: results come from the watcher's Next.
func WatchParam(p vo.SubscribeParam) registry.WatchOption {
	return func(o *registry.WatchOptions) { o.Context = core.WithParam(o.Context, core.SubscribeParamKey, p) }
}
