package naming

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/internal/wire"
)

// The registry refuses exactly what Nacos refuses: each case is checked by the
// registry's rules (package wire) and sent, unchecked, through the SDK client of an
// SDKClient to the server (nacostest, which follows Java's rules, or a real Nacos with
// NACOS_ADDR). Nacos before 2.3 has no parameter checker and accepts more; against it the
// registry only has to accept nothing that Nacos refuses, as it keeps 2.3's rules on
// every server.
func TestValidationMatchesNacos(t *testing.T) {
	testkit.RunChecked(t, false, validationMatchesNacos) // the SDK reconnects after some refusals
}

func validationMatchesNacos(t *testing.T) {
	c := newEnv(t).dial(t)

	base := func() vo.RegisterInstanceParam {
		return vo.RegisterInstanceParam{ServiceName: "valid", Ip: "10.0.0.1", Port: 80, Weight: 1, Enable: true, Healthy: true, Ephemeral: true}
	}
	withMetadata := func(md map[string]string) func(*vo.RegisterInstanceParam) {
		return func(p *vo.RegisterInstanceParam) { p.Metadata = md }
	}
	cases := []struct {
		name string
		edit func(*vo.RegisterInstanceParam)
	}{
		{"plain", func(*vo.RegisterInstanceParam) {}},
		{"name starting with @", func(p *vo.RegisterInstanceParam) { p.ServiceName = "@valid" }},
		{"name with one @", func(p *vo.RegisterInstanceParam) { p.ServiceName = "a@b" }},
		{"name with @@", func(p *vo.RegisterInstanceParam) { p.ServiceName = "a@@b" }},
		{"name with a space", func(p *vo.RegisterInstanceParam) { p.ServiceName = "a b" }},
		{"name starting with a space", func(p *vo.RegisterInstanceParam) { p.ServiceName = " ab" }},
		{"name with a vertical tab", func(p *vo.RegisterInstanceParam) { p.ServiceName = "a\vb" }},
		{"name with a no-break space", func(p *vo.RegisterInstanceParam) { p.ServiceName = "a\u00a0b" }},
		{"name with an em space", func(p *vo.RegisterInstanceParam) { p.ServiceName = "a\u2003b" }},
		{"name of one CJK character", func(p *vo.RegisterInstanceParam) { p.ServiceName = "服" }},
		{"name with a CJK character", func(p *vo.RegisterInstanceParam) { p.ServiceName = "a服" }},
		{"name of 512 characters", func(p *vo.RegisterInstanceParam) { p.ServiceName = strings.Repeat("s", 512) }},
		{"name of 513 characters", func(p *vo.RegisterInstanceParam) { p.ServiceName = strings.Repeat("s", 513) }},
		{"name of 256 emoji (512 UTF-16 units)", func(p *vo.RegisterInstanceParam) { p.ServiceName = strings.Repeat("😀", 256) }},
		{"name of 257 emoji", func(p *vo.RegisterInstanceParam) { p.ServiceName = strings.Repeat("😀", 257) }},
		{"cluster east-1", func(p *vo.RegisterInstanceParam) { p.ClusterName = "east-1" }},
		{"cluster east_1", func(p *vo.RegisterInstanceParam) { p.ClusterName = "east_1" }},
		{"cluster a.b", func(p *vo.RegisterInstanceParam) { p.ClusterName = "a.b" }},
		{"cluster of 64 characters", func(p *vo.RegisterInstanceParam) { p.ClusterName = strings.Repeat("c", 64) }},
		{"cluster of 65 characters", func(p *vo.RegisterInstanceParam) { p.ClusterName = strings.Repeat("c", 65) }},
		{"host with a space", func(p *vo.RegisterInstanceParam) { p.Ip = "a b" }},
		{"host with a form feed", func(p *vo.RegisterInstanceParam) { p.Ip = "a\fb" }},
		{"host with a no-break space", func(p *vo.RegisterInstanceParam) { p.Ip = "a\u00a0b" }},
		{"CJK host", func(p *vo.RegisterInstanceParam) { p.Ip = "主机" }},
		{"host of 128 characters", func(p *vo.RegisterInstanceParam) { p.Ip = strings.Repeat("h", 128) }},
		{"host of 129 characters", func(p *vo.RegisterInstanceParam) { p.Ip = strings.Repeat("h", 129) }},
		{"metadata of 1024 characters", withMetadata(map[string]string{"k": strings.Repeat("x", 1023)})},
		{"metadata of 1025 characters", withMetadata(map[string]string{"k": strings.Repeat("x", 1024)})},
		{"metadata of 1024 characters and a blank value", withMetadata(map[string]string{"k": strings.Repeat("x", 1023), "   ": "  "})},
		{"heart beat interval over the timeout", withMetadata(map[string]string{"preserved.heart.beat.interval": "20000"})},
		{"heart beat timeout under the interval", withMetadata(map[string]string{"preserved.heart.beat.timeout": "100"})},
		{"ip delete timeout under the interval", withMetadata(map[string]string{"preserved.ip.delete.timeout": "4999"})},
		{"heart beat interval that is not a number", withMetadata(map[string]string{"preserved.heart.beat.interval": "20s"})},
		{"heart beat settings in order", withMetadata(map[string]string{"preserved.heart.beat.interval": "1000", "preserved.heart.beat.timeout": "1000"})},
	}
	checksParams := true // false for a Nacos without DefaultParamChecker (before 2.3)
	var mismatches []string
	for _, tc := range cases {
		p := base()
		tc.edit(&p)
		in := model.Instance{Ip: p.Ip, Port: p.Port, ClusterName: p.ClusterName, Metadata: p.Metadata}
		ours := wire.CheckServiceName(p.ServiceName)
		if ours == nil {
			ours = wire.CheckIP(p.Ip)
		}
		if ours == nil && wire.MetadataLen(p.Metadata) > wire.MetadataLimit {
			ours = errors.New("over the metadata limit")
		}
		if ours == nil {
			ours = wire.CheckInstance(p.ServiceName, "n", in)
		}
		// The SDK reconnects after a refusal that comes back as an error: until it
		// is back, requests fail without an answer from Nacos.
		var answer error
		testkit.Eventually(t, 10*time.Second, func() bool {
			answer = result(c.sdk.RegisterInstance(p))
			return answer == nil || IsRefusal(answer)
		}, "%s: no answer from Nacos: %v", tc.name, func() string { return fmtErr(answer) })
		nacosAccepts := answer == nil
		if tc.name == "name starting with @" && nacosAccepts {
			checksParams = false
			t.Log("this Nacos has no parameter checker (before 2.3): checking only that the registry accepts nothing it refuses")
		}
		// Whatever happened, clear the SDK's reconnect cache for the next case.
		c.sdk.DeregisterInstance(vo.DeregisterInstanceParam{ServiceName: p.ServiceName, Ip: p.Ip, Port: p.Port, Ephemeral: true})
		if nacosAccepts != (ours == nil) && (checksParams || !nacosAccepts) {
			mismatches = append(mismatches, fmt.Sprintf("%s: Nacos accepts: %v (%v); the registry refuses: %v", tc.name, nacosAccepts, answer, ours))
		}
	}
	// All of them at once, with t.Fatal: in RunChecked's child process, a body that
	// returns has passed.
	if len(mismatches) > 0 {
		t.Fatalf("the registry's rules and Nacos disagree:\n%s", strings.Join(mismatches, "\n"))
	}
}
