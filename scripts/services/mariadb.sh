#!/usr/bin/env bash
# mariadb.sh makes sure MariaDB (or MySQL) answers for the tests
# (store/sqlstore, cachier_test backend sql-mysql) with the tests'
# credentials: user root with an empty password over TCP, database `test`,
# at CACHIER_TEST_MYSQL_DSN (default root@tcp(127.0.0.1:3306)/test).
#
# It never changes the users or passwords of a server it did not start:
#
#  1. The server at that address answers with those credentials: it only
#     makes sure database `test` exists.
#  2. Nothing listens at the default address: it installs Debian's
#     mariadb-server with apt-get where missing and starts the stock mariadbd
#     as it is configured; if that answers with the credentials, as in 1.
#  3. Otherwise (a server there wants a password, as a fresh Debian root
#     does, or nothing can be started there): it starts a private instance,
#     its data directory and socket under $CACHIER_SERVICES_DIR/mariadb
#     (default $TMPDIR/cachier-services), on
#     127.0.0.1:$CACHIER_PRIVATE_MYSQL_PORT (default 53306), whose root has
#     an empty password, and writes CACHIER_TEST_MYSQL_DSN to
#     $CACHIER_SERVICES_DIR/mariadb.env, which `make test` sources. Run by
#     hand, export that variable yourself (`. $CACHIER_SERVICES_DIR/mariadb.env`).
#
# `mariadb.sh stop` stops the private instance, and the stock mariadbd if
# this script started it (2.), and nothing else.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

DEFAULT_DSN='root@tcp(127.0.0.1:3306)/test'
DSN=${CACHIER_TEST_MYSQL_DSN:-$DEFAULT_DSN}
PRIVATE_PORT=${CACHIER_PRIVATE_MYSQL_PORT:-53306}
PRIVATE_DIR=$services_dir/mariadb
PRIVATE_DSN="root@tcp(127.0.0.1:$PRIVATE_PORT)/test"

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

log() { echo "mariadb: $*"; }

# The DSN's user, host, port and database (a password in it is not used:
# the tests' credentials have none).
if [[ $DSN =~ ^([^:@]*)(:[^@]*)?@tcp\(([^:\)]+)(:([0-9]+))?\)/([^?]*) ]]; then
	USER_=${BASH_REMATCH[1]}
	HOST=${BASH_REMATCH[3]}
	PORT=${BASH_REMATCH[5]:-3306}
	DB=${BASH_REMATCH[6]:-test}
else
	log "cannot read user, host and port from CACHIER_TEST_MYSQL_DSN=$DSN (want user@tcp(host:port)/db)" >&2
	exit 1
fi

client() {
	if command -v mariadb >/dev/null 2>&1; then echo mariadb; elif command -v mysql >/dev/null 2>&1; then echo mysql; fi
}

# sql_tcp HOST PORT USER SQL: run SQL over TCP with an empty password.
sql_tcp() {
	"$(client)" --no-defaults --protocol=TCP -h "$1" -P "$2" -u "$3" --password= --connect-timeout=3 -N -B -e "$4"
}

# answers HOST PORT USER
answers() {
	[ -n "$(client)" ] || return 1
	[ "$(sql_tcp "$1" "$2" "$3" 'SELECT 1' 2>/dev/null)" = 1 ]
}

apt_install() {
	log "installing $*"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

server_bin() {
	for b in /usr/sbin/mariadbd /usr/sbin/mysqld; do
		[ -x "$b" ] && { echo "$b"; return; }
	done
	command -v mariadbd 2>/dev/null || command -v mysqld 2>/dev/null || true
}

# run_user: the user a private instance runs as (mariadbd refuses root).
run_user() {
	if [ "$(id -u)" -ne 0 ]; then
		id -un
	elif id mysql >/dev/null 2>&1; then
		echo mysql
	else
		echo nobody
	fi
}

private_pid() {
	local pid
	pid=$(cat "$PRIVATE_DIR/mariadbd.pid" 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--datadir=$PRIVATE_DIR/data" && echo "$pid"
}

private_stop() {
	local pid
	if pid=$(private_pid); then
		log "stopping the private instance in $PRIVATE_DIR (pid $pid)"
		kill "$pid"
		for _ in $(seq 1 300); do # 30 s at most
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	else
		log "no private instance running in $PRIVATE_DIR"
	fi
	drop_env mariadb
	if [ -f "$services_dir/mariadb.stock-started" ]; then
		log "stopping the stock mariadbd, which this script started"
		$SUDO start-stop-daemon --stop --retry 30 --exec "$(cat "$services_dir/mariadb.stock-started")" --user mysql || true
		rm -f "$services_dir/mariadb.stock-started"
	fi
}

if [ "${1:-}" = stop ]; then
	private_stop
	exit 0
fi

use_stock() {
	sql_tcp "$HOST" "$PORT" "$USER_" "CREATE DATABASE IF NOT EXISTS \`$DB\`"
	drop_env mariadb
	log "answering at $HOST:$PORT"
	exit 0
}

if answers "$HOST" "$PORT" "$USER_"; then
	use_stock
fi

# No client to ask with: get it first.
if [ -z "$(client)" ]; then
	apt_install mariadb-client
	if answers "$HOST" "$PORT" "$USER_"; then
		use_stock
	fi
fi

if [ "$DSN" = "$DEFAULT_DSN" ] && ! port_open "$HOST" "$PORT"; then
	if [ -z "$(server_bin)" ]; then
		apt_install mariadb-server
	fi
	# Start the stock server as it is configured, if it has a data directory.
	if [ -d /var/lib/mysql/mysql ] && [ -n "$(server_bin)" ]; then
		log "starting the stock mariadbd"
		$SUDO install -d -o mysql -g mysql /run/mysqld
		# A mariadbd already running (not answering yet) is left alone.
		if $SUDO start-stop-daemon --start --background --exec "$(server_bin)" -- --user=mysql; then
			started_stock mariadb "$(server_bin)"
		fi
		for _ in $(seq 1 300); do # 30 s at most
			if answers "$HOST" "$PORT" "$USER_"; then
				use_stock
			fi
			port_open "$HOST" "$PORT" && break # up, but wants a password
			sleep 0.1
		done
	fi
fi

if port_open "$HOST" "$PORT"; then
	log "the server at $HOST:$PORT does not let $USER_ in without a password; leaving it as it is"
else
	log "nothing answers at $HOST:$PORT"
fi
[ -n "$(server_bin)" ] || apt_install mariadb-server
bin=$(server_bin)
user=$(run_user)
ensure_services_dir
if [ ! -d "$PRIVATE_DIR/data/mysql" ]; then
	log "creating a private instance in $PRIVATE_DIR (user $user)"
	rm -rf "$PRIVATE_DIR"
	mkdir -p "$PRIVATE_DIR/data"
	chown -R "$user" "$PRIVATE_DIR"
	chmod 700 "$PRIVATE_DIR"
	# root with an empty password (not unix_socket), and no anonymous users.
	if ! as_user "$user" mariadb-install-db --no-defaults --datadir="$PRIVATE_DIR/data" \
		--auth-root-authentication-method=normal --skip-test-db >"$PRIVATE_DIR/install.log" 2>&1; then
		log "mariadb-install-db failed:" >&2
		tail -n 20 "$PRIVATE_DIR/install.log" >&2
		exit 1
	fi
fi
if private_pid >/dev/null && answers 127.0.0.1 "$PRIVATE_PORT" root; then
	log "the private instance answers on 127.0.0.1:$PRIVATE_PORT"
else
	if port_open 127.0.0.1 "$PRIVATE_PORT"; then
		log "127.0.0.1:$PRIVATE_PORT is taken by another server: set CACHIER_PRIVATE_MYSQL_PORT to a free port, or CACHIER_TEST_MYSQL_DSN to a server where root needs no password" >&2
		exit 1
	fi
	log "starting the private instance on 127.0.0.1:$PRIVATE_PORT (log $PRIVATE_DIR/error.log)"
	as_user "$user" setsid nohup "$bin" --no-defaults --datadir="$PRIVATE_DIR/data" \
		--port="$PRIVATE_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
		--socket="$PRIVATE_DIR/mysqld.sock" --pid-file="$PRIVATE_DIR/mariadbd.pid" \
		--log-error="$PRIVATE_DIR/error.log" >/dev/null 2>&1 </dev/null &
	started=$!
	for _ in $(seq 1 300); do # 30 s at most
		[ -S "$PRIVATE_DIR/mysqld.sock" ] && break
		if ! kill -0 "$started" 2>/dev/null; then
			log "the private mariadbd exited; last lines of $PRIVATE_DIR/error.log:" >&2
			tail -n 20 "$PRIVATE_DIR/error.log" >&2 || true
			exit 1
		fi
		sleep 0.1
	done
fi
# root over TCP from 127.0.0.1 (skip-name-resolve: root@localhost is the
# socket's), with an empty password, on the instance this script started.
for _ in $(seq 1 300); do # 30 s at most
	if answers 127.0.0.1 "$PRIVATE_PORT" root; then
		sql_tcp 127.0.0.1 "$PRIVATE_PORT" root 'CREATE DATABASE IF NOT EXISTS `test`'
		write_env mariadb CACHIER_TEST_MYSQL_DSN "$PRIVATE_DSN"
		log "answering on 127.0.0.1:$PRIVATE_PORT (private); tests read CACHIER_TEST_MYSQL_DSN from $services_dir/mariadb.env"
		exit 0
	fi
	"$(client)" --no-defaults -S "$PRIVATE_DIR/mysqld.sock" -u root --password= --connect-timeout=3 -e "
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" >/dev/null 2>&1 || sleep 0.1
done
log "the private instance did not answer on 127.0.0.1:$PRIVATE_PORT within 30s; see $PRIVATE_DIR/error.log" >&2
exit 1
