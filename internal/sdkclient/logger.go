package sdkclient

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

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
// to SDK lines, it does to every client's: credentials are blanked out, and the lines
// go to debug, but for a few rewritten in the plugin's words (actionableSDKLines).
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

// The SDK's lines, warnings and errors included, go to debug: it reports each failed
// request, each reconnection attempt and each redo, often with a stack trace, and the
// plugin says what matters of them in its own words (the connection's Health, the
// errors of the calls). The few SDK lines that tell the user something the plugin
// cannot say otherwise are rewritten into the plugin's words and keep their level, at
// most once per ReminderEvery for the same text (actionableSDKLines).

// actionableSDKLines are the formats of nacos-sdk-go v2.3.5's lines worth a user's
// attention, and their rewriting. msg is the formatted line, first line only.
var actionableSDKLines = []struct {
	prefix  string
	rewrite func(msg string) string
}{
	// A refusal Nacos answered: the SDK passes on none of its reason to the caller (a
	// request of its own, a redo or a listen round, has no caller at all).
	{"%s request received fail response, error code: %d, result code: %d, message: [%s]", func(msg string) string {
		req, rest, _ := strings.Cut(msg, " request received fail response, ")
		code, reason, _ := strings.Cut(rest, ", message: [")
		reason = strings.TrimSuffix(reason, "]")
		if strings.HasPrefix(code, "error code: 300,") || strings.HasPrefix(reason, "config data not exist") {
			return "" // a config that does not exist: an answer, not a refusal
		}
		article := "a"
		if strings.ContainsAny(req[:min(1, len(req))], "AEIOU") {
			article = "an"
		}
		return fmt.Sprintf("Nacos refused %s %s (%s): %s%s", article, req, strings.SplitN(code, ",", 2)[0], reason, authHint(reason))
	}},
	// Its login, when the token is renewed (the first login is checked when a client is
	// built: CheckLogin).
	{"login has error", func(msg string) string {
		return "logging in to Nacos failed: " + strings.TrimSpace(strings.TrimPrefix(msg, "login has error")) + authHint("login")
	}},
	{"login in err:", func(msg string) string {
		return "logging in to Nacos failed: " + strings.TrimSpace(strings.TrimPrefix(msg, "login in err:")) + authHint("login")
	}},
	// The AK/SK signature.
	{"get v4 signatrue error", func(msg string) string {
		return "signing a request with the access key failed: " + strings.TrimPrefix(msg, "get v4 signatrue error: ") +
			": check the access key and secret key (WithAccessKey, or MICRO_REGISTRY_NACOS_ACCESS_KEY and _SECRET_KEY)"
	}},
}

// authHint is what to check when a refusal's reason is about credentials.
func authHint(reason string) string {
	r := strings.ToLower(reason)
	if strings.Contains(r, "user not found") || strings.Contains(r, "login") || strings.Contains(r, "token") ||
		strings.Contains(r, "unknown user") || strings.Contains(r, "authori") || strings.Contains(r, "permission") || strings.Contains(r, "403") {
		return "; check the credentials (WithAuth, or MICRO_REGISTRY_NACOS_USERNAME and MICRO_REGISTRY_NACOS_PASSWORD) and the user's permissions"
	}
	return ""
}

// actionable throttles the rewritten lines: when each text was last written.
var actionable struct {
	sync.Mutex
	last map[string]time.Time
}

// throttled says whether msg was written less than ReminderEvery ago, and notes it
// written now otherwise.
func throttled(msg string, now time.Time) bool {
	actionable.Lock()
	defer actionable.Unlock()
	if t, ok := actionable.last[msg]; ok && now.Sub(t) < ReminderEvery {
		return true
	}
	if actionable.last == nil || len(actionable.last) > 100 {
		actionable.last = map[string]time.Time{}
	}
	actionable.last[msg] = now
	return false
}

// sdkLogger receives the SDK's log lines. It writes them to the SDK's own log file when
// the user asked for one (WithLogDir), as the SDK would; otherwise to the plugin's
// logger, at debug level (trace for the SDK's debug), but for actionableSDKLines.
type sdkLogger struct {
	file sdklog.Logger
	to   logging.Logger
}

func (s sdkLogger) emit(level logging.Level, format string, args []interface{}) {
	var rewrite func(string) string
	if s.file == nil && level > logging.DebugLevel {
		level = logging.DebugLevel
		for _, a := range actionableSDKLines {
			if strings.HasPrefix(format, a.prefix) {
				rewrite, level = a.rewrite, logging.WarnLevel
			}
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
	case rewrite != nil:
		line, _, _ := strings.Cut(msg, "\n") // no stack trace
		if line = rewrite(line); line == "" {
			if s.to.Enabled(logging.DebugLevel) {
				s.to.Log(logging.DebugLevel, "nacos-sdk: "+msg)
			}
		} else if !throttled(line, time.Now()) {
			logging.Logf(s.to, level, "%s", line)
		}
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
