// Package nacosconfig is a go-micro v5 config source backed by Nacos 2.x's
// configuration service, through nacos-sdk-go v2.
//
//	src := nacosconfig.NewSource(
//		nacosconfig.WithAddress([]string{"127.0.0.1:8848"}), // the registry's address forms
//		nacosconfig.WithNamespace("dev"),
//		nacosconfig.WithGroup("DEFAULT_GROUP"),               // the default
//		nacosconfig.WithDataID("app.yaml", "app-local.yaml"), // merged in order, later wins
//	)
//	conf, _ := config.NewConfig()
//	err := conf.Load(src)
//
// Read returns the merged content of the dataIds as JSON, which go-micro's default
// reader decodes. Each dataId's format comes from its extension (json, yaml or yml,
// toml, properties) or from WithFormat; a dataId that does not exist is empty, or an
// error under WithRequired; content that does not parse is an error naming the dataId
// and the line.
//
// Watch delivers one ChangeSet per change of the merged content, in order, always the
// newest: an older content that the SDK calls back late is recognised by its md5 and
// dropped. A deleted dataId counts as empty, or keeps its last content under
// WithKeepOnDelete. Content that does not parse is logged and skipped, the last good
// content standing. The watchers of a source share one SDK listener per dataId; the
// last to stop ends them and releases the connection. After Nacos restarts or the
// connection drops, the SDK reconnects and listens again, and a change made meanwhile
// is delivered then.
//
// Write publishes a ChangeSet to the first dataId, converted to that dataId's format.
//
// The options that mean the same as the registry's (address, namespace, auth, TLS,
// client config, log and cache directories, logger, timeout) are built by the same
// code. As with the registry, the SDK writes no snapshot or cache file unless
// WithCacheDir names a directory, and no log file unless WithLogDir does.
//
// Watch, a watcher's Stop and Close wait for nacos-sdk-go at most the timeout
// (WithTimeout), then say in the log what they did not wait for: a Watch whose first
// listen round Nacos has not answered returns, and hears of changes once Nacos does; a
// Close whose connection cannot end yet returns, and the connection ends in the
// background.
//
// A source only read (never watched) keeps its connection until Close(src), the
// source's io.Closer. To test code that uses it without a Nacos server, package
// nacostest runs an embedded one.
//
// The package is go-micro v5's adapter over the plugin's config core
// (internal/configsource), which every go-micro line's adapter shares: it translates
// go-micro's options, ChangeSets, watchers and errors to the core's and back.
package nacosconfig
