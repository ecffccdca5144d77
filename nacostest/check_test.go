package nacostest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// Messages of Nacos's DefaultParamChecker, for the cases below.
const (
	tooLong = "Param '%s' is illegal, the param length should not exceed %d."
	illegal = "Param '%s' is illegal, illegal characters should not appear in the param."
)

// metadataOfLength returns metadata whose keys and values add up to n characters.
func metadataOfLength(n int) map[string]string {
	return map[string]string{"k": strings.Repeat("v", n-1)}
}

func TestRegistrationsFailingParamChecksAreRefused(t *testing.T) {
	srv := newServer(t)
	client := newClient(t, []string{srv.Addr()})
	raw := dialRaw(t, srv)
	modify := func(f func(*vo.RegisterInstanceParam)) vo.RegisterInstanceParam {
		p := instance("svc", "10.0.0.1", 80, nil)
		f(&p)
		return p
	}
	for _, tc := range []struct {
		name  string
		param vo.RegisterInstanceParam
		want  string
	}{
		{"long service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = strings.Repeat("s", 513) }), fmt.Sprintf(tooLong, "serviceName", 512)},
		{"leading @", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "@svc" }), fmt.Sprintf(illegal, "serviceName")},
		{"@@ in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "a@@b" }), fmt.Sprintf(illegal, "serviceName")},
		{"space in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "my svc" }), fmt.Sprintf(illegal, "serviceName")},
		{"CJK in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "svc服务" }), fmt.Sprintf(illegal, "serviceName")},
		{"long group", modify(func(p *vo.RegisterInstanceParam) { p.GroupName = strings.Repeat("g", 129) }), fmt.Sprintf(tooLong, "group", 128)},
		{"slash in group", modify(func(p *vo.RegisterInstanceParam) { p.GroupName = "a/b" }), fmt.Sprintf(illegal, "group")},
		{"long cluster", modify(func(p *vo.RegisterInstanceParam) { p.ClusterName = strings.Repeat("c", 65) }), fmt.Sprintf(tooLong, "cluster", 64)},
		{"dot in cluster", modify(func(p *vo.RegisterInstanceParam) { p.ClusterName = "c.1" }), fmt.Sprintf(illegal, "cluster")},
		{"long ip", modify(func(p *vo.RegisterInstanceParam) { p.Ip = strings.Repeat("1", 129) }), fmt.Sprintf(tooLong, "ip", 128)},
		{"space in ip", modify(func(p *vo.RegisterInstanceParam) { p.Ip = "10.0.0.1 x" }), fmt.Sprintf(illegal, "ip")},
		{"port out of range", modify(func(p *vo.RegisterInstanceParam) { p.Port = 65536 }), "Param 'port' is illegal, the value should be between 0 and 65535."},
		{"metadata too long", modify(func(p *vo.RegisterInstanceParam) { p.Metadata = metadataOfLength(1025) }), fmt.Sprintf(tooLong, "Metadata", 1024)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := client.RegisterInstance(tc.param)
			if ok || err != nil {
				t.Errorf("SDK RegisterInstance = %v, %v; want false, nil", ok, err)
			}
			request := rpc_request.NewInstanceRequest("public", tc.param.ServiceName, tc.param.GroupName, "registerInstance", instanceOf(tc.param))
			resp := raw.call(t, "InstanceRequest", request, nil)
			if resp.Type != "InstanceResponse" || resp.Success || resp.ResultCode != 500 || resp.ErrorCode != 400 || resp.Message != "Param check invalid:"+tc.want {
				t.Errorf("got %s %s, want InstanceResponse 500/400 %q", resp.Type, resp.Body, "Param check invalid:"+tc.want)
			}
		})
	}
	if names := srv.Services("", ""); len(names) != 0 {
		t.Fatalf("refused registrations created services %v", names)
	}
}

func TestLimitsAreInclusive(t *testing.T) {
	srv := newServer(t)
	client := newClient(t, []string{srv.Addr()}, func(c *constant.ClientConfig) { c.NamespaceId = strings.Repeat("n", 64) })
	p := instance(strings.Repeat("s", 512), "10.0.0.1", 65535, metadataOfLength(1024))
	p.GroupName = strings.Repeat("g", 127) + ":"
	p.ClusterName = strings.Repeat("c", 63) + "-"
	register(t, client, p)
	if got := srv.Instances(strings.Repeat("n", 64), p.GroupName, p.ServiceName); len(got) != 1 {
		t.Fatalf("registration at the limits not stored: %v", got)
	}
}

func TestNamespaceChecks(t *testing.T) {
	srv := newServer(t)
	for namespace, want := range map[string]string{
		strings.Repeat("n", 65): fmt.Sprintf(tooLong, "namespaceId/tenant", 64),
		"dev.1":                 fmt.Sprintf(illegal, "namespaceId/tenant"),
	} {
		client := newClient(t, []string{srv.Addr()}, func(c *constant.ClientConfig) { c.NamespaceId = namespace })
		ok, err := client.RegisterInstance(instance("svc", "10.0.0.1", 80, nil))
		if ok || err != nil {
			t.Errorf("namespace %q: RegisterInstance = %v, %v; want false, nil", namespace, ok, err)
		}
		request := rpc_request.NewInstanceRequest(namespace, "svc", "DEFAULT_GROUP", "registerInstance", instanceOf(instance("svc", "10.0.0.1", 80, nil)))
		if resp := dialRaw(t, srv).call(t, "InstanceRequest", request, nil); resp.Message != "Param check invalid:"+want {
			t.Errorf("namespace %q: got %s, want %q", namespace, resp.Body, want)
		}
	}
}

func TestOtherRequestsFailingParamChecksAreRefused(t *testing.T) {
	srv := newServer(t)
	raw := dialRaw(t, srv)
	badIP := instanceOf(instance("svc", "10.0.0.1 x", 80, nil))
	query := rpc_request.NewServiceQueryRequest("public", "svc", "DEFAULT_GROUP", "", false, 70000)
	for _, tc := range []struct {
		requestType, responseType string
		request                   any
		want                      string
	}{
		{"BatchInstanceRequest", "BatchInstanceResponse",
			rpc_request.NewBatchInstanceRequest("public", "svc", "DEFAULT_GROUP", "batchRegisterInstance", []model.Instance{badIP}), fmt.Sprintf(illegal, "ip")},
		{"SubscribeServiceRequest", "SubscribeServiceResponse",
			rpc_request.NewSubscribeServiceRequest("public", "svc", "a/b", "", true), fmt.Sprintf(illegal, "group")},
		{"SubscribeServiceRequest", "SubscribeServiceResponse",
			rpc_request.NewSubscribeServiceRequest("public", "svc", "DEFAULT_GROUP", "c1,c 2", true), fmt.Sprintf(illegal, "cluster")},
		{"ServiceListRequest", "ServiceListResponse",
			rpc_request.NewServiceListRequest("public", "", "a/b", 1, 10, ""), fmt.Sprintf(illegal, "group")},
		{"ServiceQueryRequest", "QueryServiceResponse", query, "Param 'port' is illegal, the value should be between 0 and 65535."},
	} {
		resp := raw.call(t, tc.requestType, tc.request, nil)
		if resp.Type != tc.responseType || resp.Success || resp.ErrorCode != 400 || resp.Message != "Param check invalid:"+tc.want {
			t.Errorf("%s: got %s %s, want %s %q", tc.requestType, resp.Type, resp.Body, tc.responseType, tc.want)
		}
	}
	if srv.Subscribers("", "", "svc") != 0 || len(srv.Services("", "")) != 0 {
		t.Fatal("a refused request changed the store")
	}
}

// The register handler checks the instance after the filters; its failures
// are ErrorResponses, which the SDK retries and then reports as errors.
func TestIllegalInstancesGetErrorResponses(t *testing.T) {
	srv := newServer(t)
	raw := dialRaw(t, srv)
	underscore := instance("svc", "10.0.0.1", 80, nil)
	underscore.ClusterName = "c_1" // the parameter checker allows '_', the instance check does not
	shortTimeout := instance("svc", "10.0.0.1", 80, map[string]string{"preserved.heart.beat.timeout": "1000"})
	for param, want := range map[*vo.RegisterInstanceParam]string{
		&underscore:   "Instance 'clusterName' should be characters with only 0-9a-zA-Z-. (current: c_1)",
		&shortTimeout: "Instance 'heart beat interval' must less than 'heart beat timeout' and 'ip delete timeout'.",
	} {
		request := rpc_request.NewInstanceRequest("public", "svc", "DEFAULT_GROUP", "registerInstance", instanceOf(*param))
		resp := raw.call(t, "InstanceRequest", request, nil)
		if resp.Type != "ErrorResponse" || resp.ResultCode != 400 || resp.ErrorCode != 400 || resp.Message != want {
			t.Errorf("got %s %s, want ErrorResponse 400/400 %q", resp.Type, resp.Body, want)
		}
	}
	if names := srv.Services("", ""); len(names) != 0 {
		t.Fatalf("illegal instances created services %v", names)
	}
}
