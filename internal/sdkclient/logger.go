package sdkclient

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	sdklog "github.com/nacos-group/nacos-sdk-go/v2/common/logger"

	"github.com/micro-registry/nacos/internal/logging"
)

// The SDK's logger is process-wide, shared by every nacos-sdk-go client of the process:
// the registry's, the config source's and any other. By default it writes files beside
// the executable; the plugin sends its lines to go-micro's logger instead (or, with
// WithLogDir, to the SDK's own files), once per process, when the first registry or
// config source builds a client, unless the program installed a logger of its own in
// the SDK (its logger.SetLogger), which is then left alone. What the plugin's logger does
// to SDK lines, it does to every client's: credentials are blanked out, and routine
// lines are demoted (routineSDKLines).
var sdkLoggerOnce sync.Once

// InstallLogger is called before an SDK client is built, by the registry and the config
// source alike: the first call of the process decides where SDK lines go.
func InstallLogger(cc constant.ClientConfig, log logging.Logger) {
	sdkLoggerOnce.Do(func() {
		if _, isSDKs := sdklog.GetLogger().(*sdklog.NacosLogger); !isSDKs {
			return // the program installed its own
		}
		if log == nil {
			log = logging.Discard
		}
		l := sdkLogger{to: log}
		if cc.LogDir != "" {
			file, err := sdklog.InitNacosLogger(sdklog.BuildLoggerConfig(cc))
			if err != nil {
				return
			}
			l.file = file
		}
		sdklog.SetLogger(l)
	})
}

// credential finds the value of a credential where it appears as one: a password, a
// secret key or an access token given as key=value, "key":"value", key:value, or, in
// the request dumps the SDK logs at debug level, key:"accessToken" value:"…". The
// value is blanked wherever it appears so, and nowhere else: a password that is a
// common word (the default is "nacos", which is in every URL path) must not garble
// lines.
var credential = regexp.MustCompile(`(?i)((?:password|secret_?key|access_?token)(?:"?\s*[:=]\s*"?|"\s+value:\s*"))[^\s"'&,;}\]]+`)

// Redact blanks the values of credentials out of s.
func Redact(s string) string { return credential.ReplaceAllString(s, "${1}******") }

// routineSDKLines begin the formats of nacos-sdk-go v2.3.5's warnings and errors about
// nothing wrong, which the plugin's SDK logger demotes to debug, for every client of
// the process:
//   - "connectionId %s received error event": a stream ending because its client closed
//     or left it;
//   - "out of date data received": a pushed list the SDK already had;
//   - "%s Unsupported payload type": the SetupAckRequest that Nacos 2.3 and later send
//     every new connection, which this SDK has no handler for (and needs none).
var routineSDKLines = []string{"connectionId %s received error event", "out of date data received", "%s Unsupported payload type"}

// sdkLogger receives the SDK's log lines. It writes them to the SDK's own log file when
// the user asked for one (WithLogDir), otherwise to the plugin's logger. The SDK reports
// routine work at info level, so that becomes debug; its warnings and errors keep their
// level.
type sdkLogger struct {
	file sdklog.Logger
	to   logging.Logger
}

func (s sdkLogger) emit(level logging.Level, format string, args []interface{}) {
	for _, p := range routineSDKLines {
		if strings.HasPrefix(format, p) {
			level = logging.DebugLevel
		}
	}
	if s.file == nil && !s.to.Enabled(level) {
		return // skip formatting: the SDK logs whole service lists on every push
	}
	var msg string
	if format == "" {
		msg = Redact(fmt.Sprint(args...))
	} else {
		msg = Redact(fmt.Sprintf(format, args...))
	}
	switch {
	case s.file == nil && strings.Contains(msg, noDiskCache):
		// the disk cache is off on purpose: see diskCacheDir
	case s.file == nil:
		s.to.Log(level, "nacos-sdk: "+msg)
	case level >= logging.ErrorLevel:
		s.file.Error(msg)
	case level >= logging.WarnLevel:
		s.file.Warn(msg)
	case level >= logging.DebugLevel:
		s.file.Info(msg)
	default:
		s.file.Debug(msg)
	}
}

func (s sdkLogger) Debug(args ...interface{})            { s.emit(logging.TraceLevel, "", args) }
func (s sdkLogger) Info(args ...interface{})             { s.emit(logging.DebugLevel, "", args) }
func (s sdkLogger) Warn(args ...interface{})             { s.emit(logging.WarnLevel, "", args) }
func (s sdkLogger) Error(args ...interface{})            { s.emit(logging.ErrorLevel, "", args) }
func (s sdkLogger) Debugf(f string, args ...interface{}) { s.emit(logging.TraceLevel, f, args) }
func (s sdkLogger) Infof(f string, args ...interface{})  { s.emit(logging.DebugLevel, f, args) }
func (s sdkLogger) Warnf(f string, args ...interface{})  { s.emit(logging.WarnLevel, f, args) }
func (s sdkLogger) Errorf(f string, args ...interface{}) { s.emit(logging.ErrorLevel, f, args) }

func (s sdkLogger) Close() error {
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}
