package nacos

import (
	"context"
	"reflect"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/asim/go-micro/v3/registry"
	"github.com/asim/go-micro/v3/server"

	"github.com/micro-registry/nacos/internal/wire"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/apipb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/sourcecontextpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/typepb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// How many endpoints fit in the metadata budget (docs/wire-format.md).

// catalog is a go-micro handler of protobuf messages, the common case: go-micro's
// extractor describes each message with its protoc-gen-go internals (MessageState,
// unknownFields...), three levels deep. Its 24 endpoints use distinct pairs of messages of 0
// to 11 fields, so that they compress no better than a real service's.
type catalog struct{}

func (catalog) Archive(context.Context, *apipb.Method, *emptypb.Empty) error { return nil }
func (catalog) Count(context.Context, *fieldmaskpb.FieldMask, *wrapperspb.Int64Value) error {
	return nil
}
func (catalog) Create(context.Context, *apipb.Api, *apipb.Method) error               { return nil }
func (catalog) Delete(context.Context, *wrapperspb.StringValue, *emptypb.Empty) error { return nil }
func (catalog) Describe(context.Context, *typepb.Type, *typepb.Enum) error            { return nil }
func (catalog) Expire(context.Context, *timestamppb.Timestamp, *durationpb.Duration) error {
	return nil
}
func (catalog) Get(context.Context, *wrapperspb.StringValue, *typepb.Field) error       { return nil }
func (catalog) List(context.Context, *structpb.Struct, *structpb.ListValue) error       { return nil }
func (catalog) Mix(context.Context, *apipb.Mixin, *sourcecontextpb.SourceContext) error { return nil }
func (catalog) Options(context.Context, *typepb.Option, *anypb.Any) error               { return nil }
func (catalog) Rename(context.Context, *typepb.EnumValue, *typepb.EnumValue) error      { return nil }
func (catalog) Resolve(context.Context, *descriptorpb.MethodDescriptorProto, *anypb.Any) error {
	return nil
}
func (catalog) Search(context.Context, *descriptorpb.FieldDescriptorProto, *structpb.Value) error {
	return nil
}
func (catalog) Service(context.Context, *descriptorpb.ServiceDescriptorProto, *wrapperspb.BoolValue) error {
	return nil
}
func (catalog) Tag(context.Context, *descriptorpb.EnumValueDescriptorProto, *wrapperspb.UInt32Value) error {
	return nil
}
func (catalog) Batch(context.Context, *structpb.ListValue, *wrapperspb.UInt64Value) error { return nil }
func (catalog) Close(context.Context, *wrapperspb.Int32Value, *timestamppb.Timestamp) error {
	return nil
}
func (catalog) Import(context.Context, *anypb.Any, *typepb.Type) error                    { return nil }
func (catalog) Lock(context.Context, *durationpb.Duration, *wrapperspb.BoolValue) error   { return nil }
func (catalog) Merge(context.Context, *typepb.Enum, *fieldmaskpb.FieldMask) error         { return nil }
func (catalog) Publish(context.Context, *apipb.Mixin, *wrapperspb.DoubleValue) error      { return nil }
func (catalog) Restore(context.Context, *sourcecontextpb.SourceContext, *apipb.Api) error { return nil }
func (catalog) Watch(context.Context, *typepb.Field, *wrapperspb.FloatValue) error        { return nil }
func (catalog) Union(context.Context, *descriptorpb.OneofDescriptorProto, *wrapperspb.BytesValue) error {
	return nil
}

// ledger is a second handler, on larger messages.
type ledger struct{}

func (ledger) Annotate(context.Context, *descriptorpb.GeneratedCodeInfo, *descriptorpb.SourceCodeInfo) error {
	return nil
}
func (ledger) Audit(context.Context, *descriptorpb.UninterpretedOption, *descriptorpb.FeatureSet) error {
	return nil
}
func (ledger) Balance(context.Context, *descriptorpb.DescriptorProto, *descriptorpb.MessageOptions) error {
	return nil
}
func (ledger) Book(context.Context, *descriptorpb.FileDescriptorProto, *descriptorpb.FileOptions) error {
	return nil
}
func (ledger) Correct(context.Context, *descriptorpb.EnumDescriptorProto, *descriptorpb.EnumOptions) error {
	return nil
}
func (ledger) Credit(context.Context, *descriptorpb.FieldOptions, *descriptorpb.OneofOptions) error {
	return nil
}
func (ledger) Debit(context.Context, *descriptorpb.MethodOptions, *descriptorpb.ServiceOptions) error {
	return nil
}
func (ledger) Export(context.Context, *descriptorpb.FileDescriptorSet, *descriptorpb.SourceCodeInfo_Location) error {
	return nil
}
func (ledger) Freeze(context.Context, *descriptorpb.EnumValueOptions, *descriptorpb.ExtensionRangeOptions) error {
	return nil
}
func (ledger) Journal(context.Context, *descriptorpb.DescriptorProto_ExtensionRange, *descriptorpb.DescriptorProto_ReservedRange) error {
	return nil
}
func (ledger) Post(context.Context, *descriptorpb.FeatureSetDefaults, *descriptorpb.GeneratedCodeInfo_Annotation) error {
	return nil
}
func (ledger) Reconcile(context.Context, *descriptorpb.UninterpretedOption_NamePart, *descriptorpb.EnumDescriptorProto_EnumReservedRange) error {
	return nil
}
func (ledger) Refund(context.Context, *descriptorpb.FieldOptions_EditionDefault, *descriptorpb.FieldOptions_FeatureSupport) error {
	return nil
}
func (ledger) Settle(context.Context, *descriptorpb.ExtensionRangeOptions_Declaration, *descriptorpb.FeatureSetDefaults_FeatureSetEditionDefault) error {
	return nil
}
func (ledger) Transfer(context.Context, *descriptorpb.FieldDescriptorProto, *descriptorpb.MethodDescriptorProto) error {
	return nil
}
func (ledger) Void(context.Context, *descriptorpb.ServiceDescriptorProto, *descriptorpb.OneofDescriptorProto) error {
	return nil
}

// typicalEndpoints returns the first n of the endpoints of catalog and ledger, as go-micro's server
// registers them.
func typicalEndpoints(t testing.TB, n int) []*registry.Endpoint {
	all := append(server.NewHandler(catalog{}).Endpoints(), server.NewHandler(ledger{}).Endpoints()...)
	if n > len(all) {
		t.Fatalf("catalog has %d endpoints, not %d", len(all), n)
	}
	return all[:n]
}

// endpointsWithin returns how many endpoints of a service fit in the metadata budget
// next to a go-micro server node's metadata: the largest n up to most for which
// endpoints(n) are kept.
func endpointsWithin(budget, most int, endpoints func(n int) []*registry.Endpoint) int {
	s := greeterService(0)
	fits := func(n int) bool {
		s.Endpoints = endpoints(n)
		_, dropped, err := wire.Encode(fromService(s), wire.InstanceFields{Weight: 1}, budget)
		return err == nil && dropped == ""
	}
	lo, hi := 0, most+1 // fits(lo); !fits(hi), or hi is past most
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// How many endpoints fit beside a go-micro server node's metadata, in Nacos's default
// 1024 characters and in a raised limit. Run with -v for the figures (docs/wire-format.md, "The wire
// format").
func TestCodecEndpointsPerBudget(t *testing.T) {
	t.Parallel()
	typical := func(n int) []*registry.Endpoint { return typicalEndpoints(t, n) }
	greeter := func(n int) []*registry.Endpoint { return greeterService(n - 1).Endpoints }
	for _, c := range []struct{ budget, typical, greeter int }{{DefaultMetadataBudget, 6, 100}, {4096, 30, 700}} {
		got, simple := endpointsWithin(c.budget, 40, typical), endpointsWithin(c.budget, 10000, greeter)
		t.Logf("in %d characters: %d protobuf endpoints (catalog, ledger), %d greeter endpoints", c.budget, got, simple)
		if got < c.typical || simple < c.greeter {
			t.Errorf("want at least %d and %d", c.typical, c.greeter)
		}
	}
}

// legacyCatalog is the first two endpoints of catalog in the first release's packed
// form (micro.service).
const legacyCatalog = "z쑋慛왆仈藾郓땝즔陀啄敩輻惔謚睰료ꤵ淟魂誅谞暫坊甔놇뾯揵ꗏ꯫愁澥죺ꥧ傼縷\ua8dc몀紩\ua95b鄹촠髕佚릆儃鸄갴녳筥免ꄉ빖晭擉Ꞿꏂ瀇鬉엔쓐箪髲帼떫愁糔幆盔봡묗褴꺨뇀쥏鷚櫶绚ꍙ꧴롗駓닶곧筚哪鹴兪毿磩똉냴ꚠ硊淿絯딮頣挈넷냋峄쩏쁷螑젔뗁惗捺郩ꛝꂜ붦縨쵛羃쥱矞襨趏윙星쟥\ua83b螵貎声喝壞袜鍢駻瓻栮셀鿴仑듂뛝괖쏧쓄걏뮚怸긇놇鄝渔\uaac9涋堸庼ꖿ亀丟췰"

// The first release's packed endpoints still decode, as go-micro's server extracts them.
func TestFirstReleasesEndpointsDecode(t *testing.T) {
	t.Parallel()
	h := model.Instance{Ip: "10.0.0.1", Port: 1, Weight: 1, Healthy: true, Enable: true,
		Metadata: map[string]string{"micro.id": "n", "micro.service": legacyCatalog}}
	got := wire.Decode("catalog", []model.Instance{h}, nil)
	want := fromService(&registry.Service{Endpoints: typicalEndpoints(t, 2)}).Endpoints
	if len(got) != 1 || !reflect.DeepEqual(got[0].Service.Endpoints, want) {
		t.Fatalf("catalog endpoints: %+v", got)
	}
}
