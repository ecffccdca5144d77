#!/usr/bin/env bash
# real-nacos.sh runs the official Nacos server (Java), 2.x or 3.x, on loopback, without
# Docker, for the test suite: NACOS_ADDR=<what it prints> go test ./...
#
#   scripts/real-nacos.sh start   [HTTP_PORT]  start one server (default: a free port whose
#                                              gRPC port, HTTP_PORT+1000, is free too) and
#                                              print NACOS_ADDR=127.0.0.1:PORT on the last line
#   scripts/real-nacos.sh stop    [HTTP_PORT]  stop it and remove its folder (every server
#                                              of this script when no port is given)
#   scripts/real-nacos.sh restart HTTP_PORT    stop and start it again on the same ports
#                                              (a cluster member as a member)
#   scripts/real-nacos.sh cluster [HTTP_PORT]  start 3 members in cluster mode (embedded
#                                              storage) on HTTP_PORT, +10 and +20, and print
#                                              NACOS_ADDR with all three addresses
#   scripts/real-nacos.sh build                only build (or find built) the server of
#                                              NACOS_SOURCE, and print its jar
#
# Where the server comes from, the first that is set:
#   NACOS_SERVER_JAR=path       run this nacos-server.jar (target/ of an official release
#                               tarball)
#   NACOS_SOURCE=path           build the official server from its sources: a source archive
#                               of an alibaba/nacos release tag (nacos-<v>-src.tar.gz, as
#                               `git archive` makes it) or a checkout of one. Maven builds it
#                               once (1-3 minutes, dependencies from Maven Central); the jar
#                               is kept in NACOS_CACHE, keyed by version and sha256, so
#                               later starts begin at once. The version is the source's.
#   otherwise                   resolve com.alibaba.nacos:nacos-console through Maven (only
#                               where your Maven repository serves Nacos's server modules;
#                               exits with status 3 when it cannot)
#
# Environment:
#   SERVER_VERSION=2.5.1        the Nacos release to run (default 2.5.1, as in
#                               docker-compose.yml); 2.2 and later, 3.x included
#   NACOS_AUTH=user:password    turn auth on and create that user (with read-write
#                               permission on everything)
#   NACOS_CACHE=dir             where built servers and resolved class paths are kept
#                               (default ~/.cache/micro-registry-nacos)
#   NACOS_START_TIMEOUT=secs    how long to wait for the server (default 180)
#
# A member uses HTTP_PORT, HTTP_PORT+1000 and +1001 (gRPC) and HTTP_PORT-1000 (Raft); a 3.x
# member also HTTP_PORT+2000 (its console) and +2001 (its MCP registry).
# Each server's configuration, data and logs live in a temporary folder that stop removes.
set -euo pipefail

version=${SERVER_VERSION:-2.5.1}
source_path=${NACOS_SOURCE:-}
cache=${NACOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/micro-registry-nacos}
state_root=${TMPDIR:-/tmp}/real-nacos
timeout=${NACOS_START_TIMEOUT:-180}

die() {
	echo "real-nacos: $*" >&2
	exit 1
}

need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# member_ports prints every port a member on HTTP port P uses: P, P+1000 and P+1001
# (gRPC), P-1000 (Raft), and on 3.x P+2000 (console) and P+2001 (MCP registry).
member_ports() {
	echo "$1" $(($1 + 1000)) $(($1 + 1001)) $(($1 - 1000))
	! major3 || echo $(($1 + 2000)) $(($1 + 2001))
}

ports_free() {
	local q
	for q in $(member_ports "$1"); do
		port_free "$q" || return 1
	done
}

# major3 says whether the version to run is Nacos 3.x or later.
major3() { [ "${version%%.*}" -ge 3 ]; }

# free_port prints a port P such that every port a member uses (see member_ports) is
# free. It picks P from 11000-29000, so that every port stays below Linux's ephemeral
# ports (32768 and up), which outgoing connections may take at any time; a cluster's
# members use P, P+10 and P+20.
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((11000 + RANDOM % 18000))
		if ports_free "$p"; then
			echo "$p"
			return
		fi
	done
	die "found no free set of ports (P, P+1000, P+1001, P-1000, and P+2000, P+2001 for 3.x)"
}

# classpath prints the server's class path, resolving it through Maven on first use
# (and again whenever this script asks Maven for something else).
classpath() {
	local dir=$cache/$version
	mkdir -p "$dir"
	# nacos-all's dependency management gives every library the version the official
	# distribution has; without it Maven's nearest-wins picks some that do not fit
	# (2.2.3 got Spring 4 beans and failed to start).
	cat >"$dir/pom.xml.new" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.real-nacos</groupId>
  <artifactId>nacos-server-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>com.alibaba.nacos</groupId>
        <artifactId>nacos-all</artifactId>
        <version>$version</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>com.alibaba.nacos</groupId>
      <artifactId>nacos-console</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
</project>
EOF
	if [ -s "$dir/classpath" ] && cmp -s "$dir/pom.xml" "$dir/pom.xml.new"; then
		rm -f "$dir/pom.xml.new"
		cat "$dir/classpath"
		return
	fi
	need mvn "Maven resolves the Nacos server from Maven Central (or set NACOS_SERVER_JAR)"
	mv "$dir/pom.xml.new" "$dir/pom.xml"
	rm -f "$dir/classpath"
	echo "real-nacos: resolving Nacos $version through Maven (first use only)..." >&2
	if ! mvn -B -q -U -f "$dir/pom.xml" dependency:build-classpath -Dmdep.outputFile="$dir/classpath.tmp" >"$dir/mvn.log" 2>&1; then
		tail -n 15 "$dir/mvn.log" >&2
		echo "real-nacos: Maven could not resolve com.alibaba.nacos:nacos-console:$version (full log: $dir/mvn.log). If your Maven repository does not serve Nacos's server modules, set NACOS_SERVER_JAR to target/nacos-server.jar of an official release" >&2
		exit 3
	fi
	mv "$dir/classpath.tmp" "$dir/classpath"
	cat "$dir/classpath"
}

# source_version prints the Nacos version of the sources at $1 (an archive or a checkout):
# the revision property of their root pom.xml.
source_version() {
	local pom
	if [ -d "$1" ]; then
		pom=$(cat "$1/pom.xml")
	else
		local top
		top=$(tar -tzf "$1" | head -n 1)
		pom=$(tar -xzOf "$1" "${top%%/*}/pom.xml")
	fi
	sed -n 's:.*<revision>\([^<]*\)</revision>.*:\1:p' <<<"$pom" | head -n 1
}

# source_sum prints the sha256 of the sources at $1: of the archive, or of every file of
# the checkout (build output and .git left out).
source_sum() {
	if [ -d "$1" ]; then
		(cd "$1" && find . -type f -not -path './.git/*' -not -path '*/target/*' -print0 | LC_ALL=C sort -z |
			xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
	else
		sha256sum "$1" | cut -d' ' -f1
	fi
}

# built_jar builds the server from NACOS_SOURCE, unless it was built before, and prints
# its nacos-server.jar. It sets version to the sources' version.
built_jar() {
	[ -e "$source_path" ] || die "NACOS_SOURCE=$source_path does not exist"
	local src sum v
	src=$(realpath "$source_path")
	v=$(source_version "$src")
	[ -n "$v" ] || die "NACOS_SOURCE=$src has no Nacos version in its pom.xml: is it alibaba/nacos?"
	if [ -n "${SERVER_VERSION:-}" ] && [ "$SERVER_VERSION" != "$v" ]; then
		die "SERVER_VERSION=$SERVER_VERSION, but NACOS_SOURCE=$src holds Nacos $v"
	fi
	version=$v
	sum=$(source_sum "$src")
	local dir=$cache/built/$v-${sum:0:16}
	if [ ! -s "$dir/nacos-server.jar" ]; then
		mkdir -p "$cache/built"
		# One build at a time (two starts from one cold cache wait for each other).
		exec 9>"$cache/built/.lock"
		flock 9
		[ -s "$dir/nacos-server.jar" ] || build "$src" "$v" "$dir"
		exec 9>&-
	fi
	echo "$dir/nacos-server.jar"
}

# build builds the official distribution of the sources $1 (version $2) with Maven, as
# alibaba/nacos's BUILDING describes, and keeps its server jar in $3.
build() {
	local src=$1 v=$2 dir=$3
	need mvn "Maven builds the Nacos server from NACOS_SOURCE"
	local work=$cache/built/work-$$
	rm -rf "$work" "$dir"
	mkdir -p "$work" "$dir"
	if [ -d "$src" ]; then
		(cd "$src" && tar --exclude=./.git --exclude='*/target' -cf - .) | tar -xf - -C "$work"
	else
		tar -xzf "$src" -C "$work" --strip-components=1
	fi
	echo "real-nacos: building Nacos $v from $src with Maven (once; log: $dir/build.log)..." >&2
	local began=$SECONDS
	if ! (cd "$work" && mvn -B -Prelease-nacos -Dmaven.test.skip=true -Drat.skip=true -Dcheckstyle.skip=true \
		-Dpmd.skip=true -Djacoco.skip=true -Dspotbugs.skip=true -Dmaven.javadoc.skip=true \
		package -pl distribution -am) >"$dir/build.log" 2>&1; then
		tail -n 30 "$dir/build.log" >&2
		rm -rf "$work"
		die "Maven could not build Nacos $v from $src (full log: $dir/build.log)"
	fi
	# The distribution's server jar is the Spring Boot jar of the module that starts the
	# server: bootstrap on 3.x, console on 2.x.
	local jar=$work/bootstrap/target/nacos-server.jar
	[ -s "$jar" ] || jar=$work/console/target/nacos-server.jar
	[ -s "$jar" ] || { rm -rf "$work"; die "the build of Nacos $v made no bootstrap/ or console/target/nacos-server.jar"; }
	mv "$jar" "$dir/nacos-server.jar.tmp"
	mv "$dir/nacos-server.jar.tmp" "$dir/nacos-server.jar"
	echo "$src" >"$dir/source"
	rm -rf "$work"
	echo "real-nacos: built Nacos $v in $((SECONDS - began))s" >&2
}

# server_main sets main to the java arguments that run the server, from the first route
# that is set (see the top of this file).
server_main() {
	if [ -n "${NACOS_SERVER_JAR:-}" ]; then
		[ -f "$NACOS_SERVER_JAR" ] || die "NACOS_SERVER_JAR=$NACOS_SERVER_JAR does not exist"
		main=(-jar "$(realpath "$NACOS_SERVER_JAR")")
	elif [ -n "$source_path" ]; then
		local jar
		jar=$(built_jar)
		version=$(basename "$(dirname "$jar")")
		version=${version%-*}
		main=(-jar "$jar")
	else
		local cp
		cp=$(classpath)
		main=(-cp "$cp" com.alibaba.nacos.Nacos)
	fi
}

# write_config writes the member's properties into its folder.
write_config() {
	local dir=$1 port=$2 auth=$3
	# 3.x takes its client port from nacos.server.main.port: its separate console applies
	# server.port too, so setting that would make both bind one port. The console and
	# the MCP registry get ports of their own.
	local ports="server.port=$port
server.servlet.contextPath=/nacos"
	if major3; then
		ports="nacos.server.main.port=$port
nacos.server.contextPath=/nacos
nacos.console.port=$((port + 2000))
nacos.console.contextPath=
nacos.console.remote.server.context-path=/nacos
nacos.ai.mcp.registry.port=$((port + 2001))
nacos.deployment.type=merged
nacos.k8s.sync.enabled=false"
	fi
	# A fixed secret is fine: the server is on loopback, for tests. 3.x wants the
	# secret and the server identity even with auth off.
	cat >"$dir/conf/application.properties" <<EOF
$ports
server.address=127.0.0.1
nacos.inetutils.ip-address=127.0.0.1
nacos.inetutils.prefer-hostname-over-ip=false
spring.sql.init.platform=
nacos.console.ui.enabled=false
nacos.core.auth.enabled=$auth
nacos.core.auth.admin.enabled=$auth
nacos.core.auth.console.enabled=$auth
nacos.core.auth.system.type=nacos
nacos.core.auth.caching.enabled=false
nacos.core.auth.plugin.nacos.token.secret.key=bWljcm8tcmVnaXN0cnktbmFjb3MtdGVzdC1zZWNyZXQta2V5LTAxMjM0NTY3ODk=
nacos.core.auth.plugin.nacos.token.expire.seconds=18000
nacos.core.auth.server.identity.key=micro-registry-nacos
nacos.core.auth.server.identity.value=test
nacos.core.auth.enable.userAgentAuthWhite=false
nacos.istio.mcp.server.enabled=false
server.tomcat.accesslog.enabled=false
EOF
}

# launch starts one member in the background; mode is standalone or cluster. server_main
# has set main.
launch() {
	local port=$1 mode=$2 members=${3:-}
	local dir=$state_root/$port
	[ ! -e "$dir/pid" ] || die "a server of this script already runs on port $port (stop it first)"
	local q
	for q in $(member_ports "$port"); do
		port_free "$q" || die "port $q is in use: a Nacos $version member on HTTP port $port needs ports $(echo $(member_ports "$port")) free"
	done
	rm -rf "$dir"
	mkdir -p "$dir/conf" "$dir/logs"
	local auth=false
	[ -z "${NACOS_AUTH:-}" ] || auth=true
	write_config "$dir" "$port" "$auth"
	local opts=(-Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true
		-Dnacos.home="$dir" -Dnacos.logs.path="$dir/logs" -Dderby.stream.error.file="$dir/logs/derby.log" -DJM.LOG.PATH="$dir/logs" -DJM.SNAPSHOT.PATH="$dir")
	if [ "$mode" = standalone ]; then
		opts+=(-Dnacos.standalone=true)
	else
		# 3.0's migration of configs to the public namespace fails in a cluster on
		# embedded storage (its query of config_info_gray has no row mapper there), and
		# then so does start-up: a new cluster has nothing to migrate, so it is skipped.
		opts+=(-DembeddedStorage=true -Dnacos.member.list="$members" -Dnacos.config.namespace.compatible.mode=false)
		echo "$members" | tr ',' '\n' >"$dir/conf/cluster.conf"
	fi
	echo "$version" >"$dir/version"
	echo "$members" >"$dir/members"
	printf '%s\n' "${main[@]}" >"$dir/main"
	# setsid: the server outlives this script, and stop can end its whole process group.
	# It runs in its folder: the server writes files (derby.log, Tomcat's work/) into its
	# working directory.
	(cd "$dir" && exec setsid java "${opts[@]}" "${main[@]}" --spring.config.additional-location="file:$dir/conf/" \
		>"$dir/logs/start.out" 2>&1 </dev/null) &
	echo $! >"$dir/pid"
}

# wait_ready waits until the member's naming service answers over HTTP (3.x: its
# readiness, which needs its modules, naming included) and its gRPC port accepts
# connections.
wait_ready() {
	local port=$1 dir=$state_root/$1 deadline=$((SECONDS + timeout))
	local url="http://127.0.0.1:$port/nacos/v1/ns/service/list?pageNo=1&pageSize=1"
	! major3 || url="http://127.0.0.1:$port/nacos/v3/admin/core/state/readiness"
	while [ $SECONDS -lt $deadline ]; do
		if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
			show_log "$port"
			die "the server on port $port exited during start-up"
		fi
		# With auth on, a refusal (403) also proves the naming service is up.
		local code
		code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
		if { [ "$code" = 200 ] || [ "$code" = 403 ]; } && ! port_free $((port + 1000)); then
			return
		fi
		sleep 0.5
	done
	show_log "$port"
	die "the server on port $port did not answer within ${timeout}s"
}

show_log() {
	local dir=$state_root/$1
	echo "--- last lines of $dir/logs/start.out:" >&2
	tail -n 30 "$dir/logs/start.out" >&2 || true
	if [ -f "$dir/logs/nacos.log" ]; then
		echo "--- last lines of $dir/logs/nacos.log:" >&2
		tail -n 30 "$dir/logs/nacos.log" >&2
	fi
}

# setup_auth creates the NACOS_AUTH user with read-write permission on every resource,
# through the auth API of the version (v1 on 2.x, v3 on 3.x).
setup_auth() {
	local port=$1 user=${NACOS_AUTH%%:*} pass=${NACOS_AUTH#*:}
	[ "$user" != "$NACOS_AUTH" ] && [ -n "$user" ] && [ -n "$pass" ] || die "NACOS_AUTH must be user:password"
	local base=http://127.0.0.1:$port/nacos users roles perms login admin_pass=nacos
	if major3; then
		users=$base/v3/auth/user roles=$base/v3/auth/role perms=$base/v3/auth/permission login=$base/v3/auth/user/login
	else
		users=$base/v1/auth/users roles=$base/v1/auth/roles perms=$base/v1/auth/permissions login=$base/v1/auth/users/login
	fi
	# Nacos 2.4+ starts with no admin password: the first caller sets it. Older versions
	# have nacos/nacos. Either way the admin is "nacos".
	[ "$user" != nacos ] || admin_pass=$pass
	curl -s -o /dev/null -X POST "$users/admin" -d "password=$admin_pass" || true
	local token
	token=$(curl -s -X POST "$login" -d "username=nacos&password=$admin_pass" | sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p')
	[ -n "$token" ] || die "could not log in as the admin user nacos to create $user"
	[ "$user" != nacos ] || return 0
	curl -sf -o /dev/null -X POST "$users" -d "username=$user&password=$pass&accessToken=$token" ||
		die "could not create user $user"
	curl -sf -o /dev/null -X POST "$roles" -d "role=micro_rw&username=$user&accessToken=$token" ||
		die "could not give user $user a role"
	local resource
	for resource in 'public:*:*' ':*:*' '*:*:*'; do
		curl -s -o /dev/null -X POST "$perms" -d "role=micro_rw&resource=$resource&action=rw&accessToken=$token"
	done
}

stop_one() {
	local dir=$state_root/$1
	[ -d "$dir" ] || return 0
	if [ -f "$dir/pid" ]; then
		local pid
		pid=$(cat "$dir/pid")
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}

prepare() {
	need java "the official Nacos server is a Java program (Java 8 or later; 17 for 3.x)"
	need curl "the readiness probe uses curl"
	server_main
}

start_standalone() {
	prepare
	local port=${1:-$(free_port)}
	local began=$SECONDS
	launch "$port" standalone
	wait_ready "$port"
	[ -z "${NACOS_AUTH:-}" ] || setup_auth "$port"
	echo "real-nacos: Nacos $version ready on 127.0.0.1:$port (gRPC $((port + 1000))) in $((SECONDS - began))s; folder $state_root/$port" >&2
	echo "NACOS_ADDR=127.0.0.1:$port"
}

start_cluster() {
	prepare
	local first=${1:-$(free_port)}
	local ports=("$first" $((first + 10)) $((first + 20))) members="" addrs="" p
	for p in "${ports[@]}"; do
		members+="${members:+,}127.0.0.1:$p"
	done
	local began=$SECONDS
	for p in "${ports[@]}"; do
		launch "$p" cluster "$members"
	done
	for p in "${ports[@]}"; do
		wait_ready "$p"
		addrs+="${addrs:+,}127.0.0.1:$p"
	done
	[ -z "${NACOS_AUTH:-}" ] || setup_auth "$first"
	echo "real-nacos: 3-member Nacos $version cluster ready in $((SECONDS - began))s" >&2
	echo "NACOS_ADDR=$addrs"
}

cmd=${1:-}
case "$cmd" in
start) start_standalone "${2:-}" ;;
cluster) start_cluster "${2:-}" ;;
build)
	[ -n "$source_path" ] || die "build needs NACOS_SOURCE"
	built_jar
	;;
stop)
	if [ -n "${2:-}" ]; then
		stop_one "$2"
	elif [ -d "$state_root" ]; then
		for d in "$state_root"/*/; do
			[ -d "$d" ] && stop_one "$(basename "$d")"
		done
	fi
	;;
restart)
	[ -n "${2:-}" ] || die "restart needs the HTTP port"
	dir=$state_root/$2
	[ -f "$dir/main" ] || die "no server of this script runs on port $2"
	# The same release, run the same way, in the same mode.
	version=$(cat "$dir/version")
	members=$(cat "$dir/members")
	mapfile -t main <"$dir/main"
	stop_one "$2"
	launch "$2" "$([ -z "$members" ] && echo standalone || echo cluster)" "$members"
	wait_ready "$2"
	# The auth user lives in the server's embedded database, which stop removed.
	[ -z "${NACOS_AUTH:-}" ] || [ -n "$members" ] || setup_auth "$2"
	echo "real-nacos: Nacos $version back on 127.0.0.1:$2" >&2
	echo "NACOS_ADDR=127.0.0.1:$2"
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
