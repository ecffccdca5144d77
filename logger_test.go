package nacos

import (
	"github.com/micro-registry/nacos/internal/gomicro3"
	"testing"

	"github.com/asim/go-micro/v3/logger"
	"github.com/micro-registry/nacos/internal/testkit"
	sdklog "github.com/nacos-group/nacos-sdk-go/v2/common/logger"
)

// A logger the program installed in the SDK stays, even with WithLogDir, and gets the
// SDK's lines.
func TestProgramsSDKLoggerIsKept(t *testing.T) {
	testkit.RunChecked(t, true, func(t *testing.T) { // the SDK's logger is process-wide
		own := &sdkLineRecorder{}
		sdklog.SetLogger(own)
		env := newEnv(t)
		r := env.registry(t, WithLogDir(t.TempDir()))
		mustRegister(t, r, service("kept", "v1", "n1"))
		if got := sdklog.GetLogger(); got != sdklog.Logger(own) {
			t.Fatalf("the SDK's logger is now %T, not the program's", got)
		}
		if own.count() == 0 {
			t.Fatal("the program's SDK logger got no line")
		}
	})
}

// sdkLineRecorder is an SDK logger that counts the lines it gets.
type sdkLineRecorder struct{ rec gomicro3.LogRecorder }

func (s *sdkLineRecorder) count() int                { return s.rec.Len() }
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
