package nacos

import (
	"strings"
	"testing"

	"github.com/asim/go-micro/v3/logger"
	sdklog "github.com/nacos-group/nacos-sdk-go/v2/common/logger"
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
		if got := redact(line); got != want {
			t.Errorf("redact(%s)\n = %s\nwant %s", line, got, want)
		}
	}
}

// The SDK's routine complaints are demoted to debug; its other lines keep their level.
func TestRoutineSDKLinesAreDemoted(t *testing.T) {
	rec := newLogRecorder()
	l := sdkLogger{micro: rec}
	l.Errorf("%s Unsupported payload type", "1700000000000_127.0.0.1_50000") // SetupAckRequest of Nacos 2.3+
	l.Errorf("connectionId %s received error event, isRunning:%v, isAbandon=%v, error=%v", "c", false, true, "EOF")
	l.Errorf("Send request fail, request=%s", "InstanceRequest")
	want := []string{
		logger.DebugLevel.String() + " nacos-sdk: 1700000000000_127.0.0.1_50000 Unsupported payload type",
		logger.DebugLevel.String() + " nacos-sdk: connectionId c received error event, isRunning:false, isAbandon=true, error=EOF",
		logger.ErrorLevel.String() + " nacos-sdk: Send request fail, request=InstanceRequest",
	}
	if got := rec.text(); got != strings.Join(want, "\n") {
		t.Fatalf("logged\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// A logger the program installed in the SDK stays, even with WithLogDir, and gets the
// SDK's lines.
func TestProgramsSDKLoggerIsKept(t *testing.T) {
	relRunChecked(t, true, func(t *testing.T) { // the SDK's logger is process-wide
		own := &sdkLineRecorder{}
		sdklog.SetLogger(own)
		env := newEnv(t)
		r := env.registry(t, WithLogDir(t.TempDir()))
		relMust(t, r.Register(service("kept", "v1", "n1")), "register")
		if got := sdklog.GetLogger(); got != sdklog.Logger(own) {
			t.Fatalf("the SDK's logger is now %T, not the program's", got)
		}
		if own.count() == 0 {
			t.Fatal("the program's SDK logger got no line")
		}
	})
}

// sdkLineRecorder is an SDK logger that counts the lines it gets.
type sdkLineRecorder struct{ rec logRecorder }

func (s *sdkLineRecorder) count() int {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return len(s.rec.lines)
}
func (s *sdkLineRecorder) line(args ...interface{})  { s.rec.Log(logger.InfoLevel, args...) }
func (s *sdkLineRecorder) Info(args ...interface{})  { s.line(args...) }
func (s *sdkLineRecorder) Warn(args ...interface{})  { s.line(args...) }
func (s *sdkLineRecorder) Error(args ...interface{}) { s.line(args...) }
func (s *sdkLineRecorder) Debug(args ...interface{}) { s.line(args...) }
func (s *sdkLineRecorder) Infof(f string, args ...interface{}) {
	s.rec.Logf(logger.InfoLevel, f, args...)
}
func (s *sdkLineRecorder) Warnf(f string, args ...interface{}) {
	s.rec.Logf(logger.WarnLevel, f, args...)
}
func (s *sdkLineRecorder) Errorf(f string, args ...interface{}) {
	s.rec.Logf(logger.ErrorLevel, f, args...)
}
func (s *sdkLineRecorder) Debugf(f string, args ...interface{}) {
	s.rec.Logf(logger.DebugLevel, f, args...)
}
func (s *sdkLineRecorder) Close() error { return nil }
