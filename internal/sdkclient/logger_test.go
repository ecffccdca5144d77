package sdkclient

import (
	"strings"
	"testing"

	"github.com/micro-registry/nacos/internal/logging"

	"github.com/micro-registry/nacos/internal/testkit"
)

// Credentials are blanked where they appear as credentials, and nowhere else: the
// default password "nacos" is also in every URL path.
func TestRedactBlanksCredentialsOnly(t *testing.T) {
	for line, want := range map[string]string{
		`request path[/nacos/v1/auth/users/login],params:[{"password":"nacos","username":"nacos"}]`:    `request path[/nacos/v1/auth/users/login],params:[{"password":"******","username":"nacos"}]`,
		`POST /nacos/v1/auth/login?username=nacos&password=nacos&x=1`:                                  `POST /nacos/v1/auth/login?username=nacos&password=******&x=1`,
		`{Username:nacos Password:nacos SecretKey:s3cr3t AccessKey:ak}`:                                `{Username:nacos Password:****** SecretKey:****** AccessKey:ak}`,
		`headers:{key:"accessToken" value:"eyJhbGciOiJIUzI1NiJ9.abc"} body:"..."`:                      `headers:{key:"accessToken" value:"******"} body:"..."`,
		`{"accessToken":"eyJhbGciOiJIUzI1NiJ9.abc","tokenTtl":18000}`:                                  `{"accessToken":"******","tokenTtl":18000}`,
		`register instance namespaceId:<public>,serviceName:<nacos> with instance:<{"ip":"10.0.0.1"}>`: `register instance namespaceId:<public>,serviceName:<nacos> with instance:<{"ip":"10.0.0.1"}>`,
		`wrong username or password`: `wrong username or password`,
	} {
		if got := Redact(line); got != want {
			t.Errorf("Redact(%s)\n = %s\nwant %s", line, got, want)
		}
	}
}

// The SDK's lines go to debug, stack traces and all; the few that tell the user
// something are rewritten in the plugin's words, without a stack trace, once per
// ReminderEvery.
func TestSDKLinesGoToDebugButTheActionable(t *testing.T) {
	rec := &testkit.LogLines{}
	l := sdkLogger{to: rec}
	l.Errorf("%s Unsupported payload type", "1700000000000_127.0.0.1_50000") // SetupAckRequest of Nacos 2.3+
	l.Errorf("Send request fail, request=%s, error=%+v", "InstanceRequest", "client not connected\ngithub.com/x.f\n\t/x.go:1")
	for range 3 {
		l.Warnf("%s request received fail response, error code: %d, result code: %d, message: [%s]", "InstanceRequest", 403, 500, "user not found!")
	}
	want := []string{
		logging.DebugLevel.String() + " nacos-sdk: 1700000000000_127.0.0.1_50000 Unsupported payload type",
		logging.DebugLevel.String() + " nacos-sdk: Send request fail, request=InstanceRequest, error=client not connected\ngithub.com/x.f\n\t/x.go:1",
		logging.WarnLevel.String() + " nacos: Nacos refused an InstanceRequest (error code: 403): user not found!; check the credentials (WithAuth, or MICRO_REGISTRY_NACOS_USERNAME and MICRO_REGISTRY_NACOS_PASSWORD) and the user's permissions",
	}
	if got := rec.Text(); got != strings.Join(want, "\n") {
		t.Fatalf("logged\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}
