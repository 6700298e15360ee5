#!/usr/bin/env bash
# mongo.sh makes sure a MongoDB-protocol server answers on 127.0.0.1:27017 for
# the mongo store's tests (store/mongostore, cachier_test backend=mongo).
#
# Debian packages no MongoDB, so when nothing answers there this builds
# tools/ferretdb (an embedded FerretDB v1 over SQLite, in its own Go module)
# and starts it in the background. A real mongod already listening is used
# as it is. Idempotent: it changes nothing when the port answers.
#
#   MONGO_ADDR            host:port to check and to serve on (127.0.0.1:27017)
#   FERRETDB_DATA         data directory (/var/lib/cachier-ferretdb, or
#                         $TMPDIR/cachier-ferretdb when /var/lib is not writable)
#   CACHIER_TEST_MONGO_URI when set to anything but the default, the tests use
#                         that server and this script does nothing.
#
# The first build compiles FerretDB (about a minute on two cores); later
# runs reuse Go's build cache. Log: $FERRETDB_DATA/ferretdb.log; pid:
# $FERRETDB_DATA/ferretdb.pid. It reports the helper running only once that
# process itself listens on the address: a helper that exited (the port
# taken by another server meanwhile) is reported as such.
#
# `mongo.sh stop` stops the helper this script started (by its pid file),
# and nothing else.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

addr=${MONGO_ADDR:-127.0.0.1:27017}
host=${addr%:*}
port=${addr##*:}

uri=${CACHIER_TEST_MONGO_URI:-}
if [[ -n $uri && $uri != "mongodb://127.0.0.1:27017" && $uri != "mongodb://127.0.0.1:27017/" ]]; then
	echo "mongo: CACHIER_TEST_MONGO_URI=$uri is set; not starting a local server"
	exit 0
fi

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

data_dir() {
	local d=${FERRETDB_DATA:-}
	if [[ -z $d ]]; then
		if mkdir -p /var/lib/cachier-ferretdb 2>/dev/null && [[ -w /var/lib/cachier-ferretdb ]]; then
			d=/var/lib/cachier-ferretdb
		else
			d=${TMPDIR:-/tmp}/cachier-ferretdb
		fi
	fi
	echo "$d"
}

# helper_pid: the pid in the pid file, if that process is a ferretdb-helper.
helper_pid() {
	local pid
	pid=$(cat "$(data_dir)/ferretdb.pid" 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ferretdb-helper && echo "$pid"
}

# listener PORT: the pid and command of the process listening on PORT.
listener() {
	local hex inode fd
	hex=$(printf '%04X' "$1")
	for inode in $(awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
		for fd in /proc/[0-9]*/fd/*; do
			if [[ $(readlink "$fd" 2>/dev/null) == "socket:[$inode]" ]]; then
				fd=${fd#/proc/}
				echo "pid ${fd%%/*}: $(tr '\0\n' '  ' <"/proc/${fd%%/*}/cmdline" 2>/dev/null | cut -c1-120)"
				return
			fi
		done
	done
	echo "unknown process"
}

if [[ ${1:-} == stop ]]; then
	if pid=$(helper_pid); then
		echo "mongo: stopping ferretdb-helper (pid $pid)"
		kill "$pid"
		for _ in $(seq 1 100); do # 10 s at most
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		rm -f "$(data_dir)/ferretdb.pid"
	else
		echo "mongo: no ferretdb-helper of $(data_dir) is running"
	fi
	exit 0
fi

if answers; then
	echo "mongo: a server answers on $addr"
	exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data=$(data_dir)
mkdir -p "$data"
chmod 700 "$data"
pidfile=$data/ferretdb.pid
log=$data/ferretdb.log

# A helper we started earlier may still be coming up: wait for it rather
# than start a second one on the same port.
running=
if running=$(helper_pid); then
	echo "mongo: ferretdb-helper (pid $running) is running; waiting for $addr"
fi

if [[ -z $running ]]; then
	go=${GO:-go}
	echo "mongo: nothing answers on $addr; building tools/ferretdb (FerretDB v1, SQLite)"
	start=$SECONDS
	(cd "$root/tools/ferretdb" && "$go" build -o ferretdb-helper .)
	echo "mongo: built in $((SECONDS - start))s; starting it (log $log)"
	setsid nohup "$root/tools/ferretdb/ferretdb-helper" -listen "$addr" -data "$data" \
		>>"$log" 2>&1 </dev/null &
	running=$!
	echo "$running" >"$pidfile"
fi

for _ in $(seq 1 120); do # at most 60s
	if ! kill -0 "$running" 2>/dev/null; then
		rm -f "$pidfile"
		echo "mongo: ferretdb-helper (pid $running) exited; last lines of $log:" >&2
		tail -n 20 "$log" >&2 || true
		if answers; then
			holder=$(listener "$port")
			if [[ $holder == *ferretdb-helper* ]]; then
				# Another `make services` started one meanwhile.
				echo "mongo: another ferretdb-helper answers on $addr ($holder); using it"
				exit 0
			fi
			echo "mongo: $addr is held by another process ($holder), not by a helper of this script" >&2
		fi
		exit 1
	fi
	if pid_listens "$running" "$port"; then
		echo "mongo: FerretDB answers on $addr (pid $running)"
		exit 0
	fi
	sleep 0.5
done
echo "mongo: FerretDB did not answer on $addr within 60s; see $log" >&2
exit 1
