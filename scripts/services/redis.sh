#!/usr/bin/env bash
# redis.sh makes sure a redis-server answers on 127.0.0.1:6379 for the tests
# (store/redisstore, cachier_test backend=redis). It changes nothing when one
# already answers; otherwise it installs redis-server with apt-get where the
# binary is missing, starts it without persistence, and waits (bounded) until
# it answers. Tests read the address from CACHIER_TEST_REDIS_ADDR.
#
# `redis.sh stop` stops the redis-server this script started (by its pid
# file in $CACHIER_REDIS_DIR), and nothing else.
set -euo pipefail

HOST=127.0.0.1
PORT=6379
DIR=${CACHIER_REDIS_DIR:-/tmp/cachier-redis}

answers() {
	if command -v redis-cli >/dev/null 2>&1; then
		[ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" = PONG ]
	else
		# No client: speak RESP over bash's /dev/tcp.
		local reply
		reply=$(timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT && printf 'PING\r\n' >&3 && head -c 7 <&3" 2>/dev/null) || return 1
		[ "${reply%$'\r'}" = "+PONG" ]
	fi
}

if [ "${1:-}" = stop ]; then
	pid=$(cat "$DIR/redis.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q redis-server; then
		echo "redis: stopping the redis-server this script started (pid $pid)"
		kill "$pid"
		for _ in $(seq 1 100); do # 10 s at most
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	else
		echo "redis: no redis-server of $DIR is running"
	fi
	exit 0
fi

if answers; then
	echo "redis: answering on $HOST:$PORT"
	exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
	echo "redis: installing redis-server"
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
	# The package may start a system service on its own; if it answers, done.
	if answers; then
		echo "redis: answering on $HOST:$PORT"
		exit 0
	fi
fi

mkdir -p "$DIR"
echo "redis: starting redis-server on $HOST:$PORT (dir $DIR, log $DIR/redis.log)"
bind="$HOST"
# Also listen on ::1 where the machine has IPv6 loopback.
if [ -r /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6; then
	bind="$HOST -::1"
fi
redis-server --daemonize yes --bind $bind --port "$PORT" \
	--save "" --appendonly no \
	--dir "$DIR" --logfile "$DIR/redis.log" --pidfile "$DIR/redis.pid"

for _ in $(seq 1 100); do # 10 s at most
	if answers; then
		echo "redis: answering on $HOST:$PORT"
		exit 0
	fi
	sleep 0.1
done
echo "redis: redis-server did not answer on $HOST:$PORT within 10s; see $DIR/redis.log" >&2
tail -n 20 "$DIR/redis.log" >&2 || true
exit 1
