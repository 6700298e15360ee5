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
# $FERRETDB_DATA/ferretdb.pid (stop it with: kill "$(cat .../ferretdb.pid)").
set -euo pipefail

addr=${MONGO_ADDR:-127.0.0.1:27017}
host=${addr%:*}
port=${addr##*:}

uri=${CACHIER_TEST_MONGO_URI:-}
if [[ -n $uri && $uri != "mongodb://127.0.0.1:27017" && $uri != "mongodb://127.0.0.1:27017/" ]]; then
	echo "mongo: CACHIER_TEST_MONGO_URI=$uri is set; not starting a local server"
	exit 0
fi

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if answers; then
	echo "mongo: a server answers on $addr"
	exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data=${FERRETDB_DATA:-}
if [[ -z $data ]]; then
	if mkdir -p /var/lib/cachier-ferretdb 2>/dev/null && [[ -w /var/lib/cachier-ferretdb ]]; then
		data=/var/lib/cachier-ferretdb
	else
		data=${TMPDIR:-/tmp}/cachier-ferretdb
	fi
fi
mkdir -p "$data"
chmod 700 "$data"
pidfile=$data/ferretdb.pid
log=$data/ferretdb.log

# A helper we started earlier may still be coming up: wait for it rather
# than start a second one on the same port.
running=
if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null &&
	tr '\0' ' ' <"/proc/$(cat "$pidfile")/cmdline" 2>/dev/null | grep -q ferretdb-helper; then
	running=$(cat "$pidfile")
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
	if answers; then
		echo "mongo: FerretDB answers on $addr (pid $running)"
		exit 0
	fi
	if ! kill -0 "$running" 2>/dev/null; then
		echo "mongo: ferretdb-helper exited; last lines of $log:" >&2
		tail -n 20 "$log" >&2 || true
		exit 1
	fi
	sleep 0.5
done
echo "mongo: FerretDB did not answer on $addr within 60s; see $log" >&2
exit 1
