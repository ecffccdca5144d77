#!/usr/bin/env bash
# real-nacos.sh runs the official Nacos 2.x server (Java) on loopback, without Docker,
# for the test suite: NACOS_ADDR=<what it prints> go test ./...
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
#
# Environment:
#   SERVER_VERSION=2.5.1        the Nacos 2.x release to run (default 2.5.1, as in
#                               docker-compose.yml)
#   NACOS_AUTH=user:password    turn auth on and create that user (with read-write
#                               permission on everything)
#   NACOS_SERVER_JAR=path       run this nacos-server.jar (target/ of an official release
#                               tarball) instead of resolving the server through Maven
#   NACOS_CACHE=dir             where the resolved server is kept
#                               (default ~/.cache/micro-registry-nacos)
#   NACOS_START_TIMEOUT=secs    how long to wait for the server (default 180)
#
# On first use the server (com.alibaba.nacos:nacos-console and what it depends on) is
# resolved from Maven Central into Maven's local repository; only the class path is kept
# in NACOS_CACHE. It exits with status 3 when the server cannot be obtained that way.
# Each server's configuration, data and logs live in a temporary folder
# that stop removes.
set -euo pipefail

version=${SERVER_VERSION:-2.5.1}
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

# free_port prints a port P such that P and P+1000 (gRPC), and P+1001 and P-1000 (a
# cluster member's other ports), are all free. It picks from 11000-31000, below
# Linux's ephemeral ports (32768 and up), which outgoing connections may take at any
# time; a cluster's members use P, P+10 and P+20.
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((11000 + RANDOM % 20000))
		if port_free "$p" && port_free $((p + 1000)) && port_free $((p + 1001)) && port_free $((p - 1000)); then
			echo "$p"
			return
		fi
	done
	die "found no free pair of ports (P, P+1000)"
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

# write_config writes the member's properties into its folder.
write_config() {
	local dir=$1 port=$2 auth=$3
	# A fixed secret is fine: the server is on loopback, for tests.
	cat >"$dir/conf/application.properties" <<EOF
server.port=$port
server.address=127.0.0.1
server.servlet.contextPath=/nacos
nacos.inetutils.ip-address=127.0.0.1
nacos.inetutils.prefer-hostname-over-ip=false
spring.sql.init.platform=
nacos.console.ui.enabled=false
nacos.core.auth.enabled=$auth
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

# launch starts one member in the background; mode is standalone or cluster.
launch() {
	local port=$1 mode=$2 members=${3:-}
	local dir=$state_root/$port
	[ ! -e "$dir/pid" ] || die "a server of this script already runs on port $port (stop it first)"
	port_free "$port" || die "port $port is in use"
	local other
	for other in $((port + 1000)) $((port + 1001)) $((port - 1000)); do
		port_free "$other" || die "port $other is in use: Nacos needs HTTP_PORT+1000 and +1001 (gRPC) and HTTP_PORT-1000 (Raft) free too"
	done
	local main
	if [ -n "${NACOS_SERVER_JAR:-}" ]; then
		[ -f "$NACOS_SERVER_JAR" ] || die "NACOS_SERVER_JAR=$NACOS_SERVER_JAR does not exist"
		main=(-jar "$(realpath "$NACOS_SERVER_JAR")")
	else
		local cp
		cp=$(classpath)
		main=(-cp "$cp" com.alibaba.nacos.Nacos)
	fi
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
		opts+=(-DembeddedStorage=true -Dnacos.member.list="$members")
		echo "$members" | tr ',' '\n' >"$dir/conf/cluster.conf"
	fi
	echo "$version" >"$dir/version"
	echo "$members" >"$dir/members"
	echo "${NACOS_SERVER_JAR:+$(realpath "$NACOS_SERVER_JAR")}" >"$dir/jar"
	# setsid: the server outlives this script, and stop can end its whole process group.
	# It runs in its folder: the server writes files (derby.log, Tomcat's work/) into its
	# working directory.
	(cd "$dir" && exec setsid java "${opts[@]}" "${main[@]}" --spring.config.additional-location="file:$dir/conf/" \
		>"$dir/logs/start.out" 2>&1 </dev/null) &
	echo $! >"$dir/pid"
}

# wait_ready waits until the member's naming service answers over HTTP and its gRPC port
# accepts connections.
wait_ready() {
	local port=$1 dir=$state_root/$1 deadline=$((SECONDS + timeout))
	local url="http://127.0.0.1:$port/nacos/v1/ns/service/list?pageNo=1&pageSize=1"
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

# setup_auth creates the NACOS_AUTH user with read-write permission on every resource.
setup_auth() {
	local port=$1 user=${NACOS_AUTH%%:*} pass=${NACOS_AUTH#*:}
	[ "$user" != "$NACOS_AUTH" ] && [ -n "$user" ] && [ -n "$pass" ] || die "NACOS_AUTH must be user:password"
	local base=http://127.0.0.1:$port/nacos/v1/auth admin_pass=nacos
	# Nacos 2.4+ starts with no admin password: the first caller sets it. Older versions
	# have nacos/nacos. Either way the admin is "nacos".
	[ "$user" != nacos ] || admin_pass=$pass
	curl -s -o /dev/null -X POST "$base/users/admin" -d "password=$admin_pass" || true
	local token
	token=$(curl -s -X POST "$base/users/login" -d "username=nacos&password=$admin_pass" | sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p')
	[ -n "$token" ] || die "could not log in as the admin user nacos to create $user"
	[ "$user" != nacos ] || return 0
	curl -sf -o /dev/null -X POST "$base/users" -d "username=$user&password=$pass&accessToken=$token" ||
		die "could not create user $user"
	curl -sf -o /dev/null -X POST "$base/roles" -d "role=micro_rw&username=$user&accessToken=$token" ||
		die "could not give user $user a role"
	local ns
	for ns in public ''; do
		curl -s -o /dev/null -X POST "$base/permissions" -d "role=micro_rw&resource=$ns:*:*&action=rw&accessToken=$token"
	done
	curl -s -o /dev/null -X POST "$base/permissions" -d "role=micro_rw&resource=*:*:*&action=rw&accessToken=$token"
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

start_standalone() {
	local port=${1:-$(free_port)}
	need java "the official Nacos server is a Java program (Java 8 or later)"
	need curl "the readiness probe uses curl"
	local began=$SECONDS
	launch "$port" standalone
	wait_ready "$port"
	[ -z "${NACOS_AUTH:-}" ] || setup_auth "$port"
	echo "real-nacos: Nacos $version ready on 127.0.0.1:$port (gRPC $((port + 1000))) in $((SECONDS - began))s; folder $state_root/$port" >&2
	echo "NACOS_ADDR=127.0.0.1:$port"
}

start_cluster() {
	local first=${1:-$(free_port)}
	need java "the official Nacos server is a Java program (Java 8 or later)"
	need curl "the readiness probe uses curl"
	# A member uses its port, port+1000 and +1001 (gRPC) and port-1000 (Raft).
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
	members=""
	if [ -d "$state_root/$2" ]; then
		# The same release, from the same place (the server jar or Maven), in the same mode.
		version=$(cat "$state_root/$2/version" 2>/dev/null || echo "$version")
		members=$(cat "$state_root/$2/members" 2>/dev/null || true)
		jar=$(cat "$state_root/$2/jar" 2>/dev/null || true)
		[ -z "$jar" ] || NACOS_SERVER_JAR=$jar
	fi
	stop_one "$2"
	if [ -z "$members" ]; then
		start_standalone "$2"
	else
		# A cluster member comes back as a member.
		launch "$2" cluster "$members"
		wait_ready "$2"
		echo "real-nacos: cluster member 127.0.0.1:$2 back" >&2
		echo "NACOS_ADDR=127.0.0.1:$2"
	fi
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
