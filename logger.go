package nacos

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/asim/go-micro/v3/logger"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	sdklog "github.com/nacos-group/nacos-sdk-go/v2/common/logger"
)

// logf logs what the plugin itself has to say.
func (c *config) logf(level logger.Level, format string, args ...interface{}) {
	l := c.log
	if l == nil {
		l = logger.DefaultLogger
	}
	l.Logf(level, "nacos: "+format, args...)
}

// The SDK's logger is process-wide. By default it writes files beside the executable;
// the plugin sends its lines to go-micro's logger instead, once per process, unless the
// user installed a logger of their own in the SDK or asked for the SDK's files with
// WithLogDir. Either way, credentials the plugin knows of are blanked out of SDK lines.
var (
	sdkLoggerOnce sync.Once
	secretsMu     sync.RWMutex
	secrets       = map[string]bool{}
)

// installSDKLogger is called before the first SDK client is built.
func installSDKLogger(cc constant.ClientConfig, log logger.Logger) {
	rememberSecrets(cc.Password, cc.SecretKey)
	sdkLoggerOnce.Do(func() {
		l := sdkLogger{micro: log}
		if cc.LogDir != "" {
			file, err := sdklog.InitNacosLogger(sdklog.BuildLoggerConfig(cc))
			if err != nil {
				return
			}
			l.file = file
		} else if _, isSDKs := sdklog.GetLogger().(*sdklog.NacosLogger); !isSDKs {
			return // the user installed their own
		}
		sdklog.SetLogger(l)
	})
}

func rememberSecrets(values ...string) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, v := range values {
		if len(v) >= 3 { // blanking shorter strings would garble lines and hide little
			secrets[v] = true
		}
	}
}

// accessToken finds the token the SDK sends with every request, in the request dumps
// it logs at debug level (headers:{key:"accessToken" value:"…"}) and in JSON.
var accessToken = regexp.MustCompile(`(accessToken\W{1,12}(?:value\W{1,4})?)[A-Za-z0-9._\-]{8,}`)

func redact(s string) string {
	secretsMu.RLock()
	defer secretsMu.RUnlock()
	for v := range secrets {
		s = strings.ReplaceAll(s, v, "******")
	}
	return accessToken.ReplaceAllString(s, "${1}******")
}

// sdkLogger receives the SDK's log lines. It writes them to the SDK's own log file when
// the user asked for one (WithLogDir), otherwise to a go-micro logger (DefaultLogger when
// micro is nil, looked up at each line so that a later change of the default is
// followed). The SDK reports routine work at info level, so that becomes debug; its
// warnings and errors keep their level.
type sdkLogger struct {
	file  sdklog.Logger
	micro logger.Logger
}

// routineSDKLines are SDK warnings and errors about nothing wrong: a stream ending
// because the client closed or left it, and a pushed list the SDK already had.
var routineSDKLines = []string{"connectionId %s received error event", "out of date data received"}

func (s sdkLogger) emit(level logger.Level, format string, args []interface{}) {
	notePushReceiverPort(format)
	for _, p := range routineSDKLines {
		if strings.HasPrefix(format, p) {
			level = logger.DebugLevel
		}
	}
	l := s.micro
	if l == nil {
		l = logger.DefaultLogger
	}
	if s.file == nil && !logger.V(level, l) {
		return // skip formatting: the SDK logs whole service lists on every push
	}
	var msg string
	if format == "" {
		msg = redact(fmt.Sprint(args...))
	} else {
		msg = redact(fmt.Sprintf(format, args...))
	}
	switch {
	case s.file == nil && strings.Contains(msg, noDiskCache):
		// the disk cache is off on purpose: see diskCacheDir
	case s.file == nil:
		l.Log(level, "nacos-sdk: "+msg)
	case level >= logger.ErrorLevel:
		s.file.Error(msg)
	case level >= logger.WarnLevel:
		s.file.Warn(msg)
	case level >= logger.DebugLevel:
		s.file.Info(msg)
	default:
		s.file.Debug(msg)
	}
}

func (s sdkLogger) Debug(args ...interface{})            { s.emit(logger.TraceLevel, "", args) }
func (s sdkLogger) Info(args ...interface{})             { s.emit(logger.DebugLevel, "", args) }
func (s sdkLogger) Warn(args ...interface{})             { s.emit(logger.WarnLevel, "", args) }
func (s sdkLogger) Error(args ...interface{})            { s.emit(logger.ErrorLevel, "", args) }
func (s sdkLogger) Debugf(f string, args ...interface{}) { s.emit(logger.TraceLevel, f, args) }
func (s sdkLogger) Infof(f string, args ...interface{})  { s.emit(logger.DebugLevel, f, args) }
func (s sdkLogger) Warnf(f string, args ...interface{})  { s.emit(logger.WarnLevel, f, args) }
func (s sdkLogger) Errorf(f string, args ...interface{}) { s.emit(logger.ErrorLevel, f, args) }

func (s sdkLogger) Close() error {
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}
