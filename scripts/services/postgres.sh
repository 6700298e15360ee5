#!/usr/bin/env bash
# postgres.sh makes sure a PostgreSQL server answers for the tests
# (store/sqlstore, cachier_test backend sql-postgres) with the tests'
# credentials: user postgres without a password, database `test`, at
# CACHIER_TEST_PG_DSN (default
# postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
#
# It never changes the authentication of a server it did not start:
#
#  1. The server at that address answers with those credentials: it only
#     makes sure database `test` exists.
#  2. Nothing listens at the default address: it installs Debian's
#     postgresql with apt-get where missing and starts the stock cluster as
#     it is configured (pg_ctlcluster start); if that answers with the
#     credentials, as in 1.
#  3. Otherwise (a server there asks for a password, or nothing can be
#     started there): it starts a private instance, its data directory and
#     socket under $CACHIER_SERVICES_DIR/postgres (default
#     $TMPDIR/cachier-services), on 127.0.0.1:$CACHIER_PRIVATE_PG_PORT
#     (default 55432), with trust authentication for local connections, and
#     writes CACHIER_TEST_PG_DSN to $CACHIER_SERVICES_DIR/postgres.env, which
#     `make test` sources. Run by hand, export that variable yourself
#     (`. $CACHIER_SERVICES_DIR/postgres.env`).
#
# `postgres.sh stop` stops the private instance, and the stock cluster if
# this script started it (2.), and nothing else.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

DEFAULT_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
DSN=${CACHIER_TEST_PG_DSN:-$DEFAULT_DSN}
PRIVATE_PORT=${CACHIER_PRIVATE_PG_PORT:-55432}
PRIVATE_DIR=$services_dir/postgres
PRIVATE_DSN="postgres://postgres@127.0.0.1:$PRIVATE_PORT/test?sslmode=disable"

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

log() { echo "postgres: $*"; }

# The DSN's host, port and database, for the checks below.
if [[ $DSN =~ ^postgres(ql)?://([^@/]*@)?([^:/?]+)(:([0-9]+))?/([^?]*) ]]; then
	HOST=${BASH_REMATCH[3]}
	PORT=${BASH_REMATCH[5]:-5432}
	DB=${BASH_REMATCH[6]:-test}
else
	log "cannot read host and port from CACHIER_TEST_PG_DSN=$DSN (want postgres://user@host:port/db)" >&2
	exit 1
fi

# dsn_db DSN DB: DSN with its database replaced by DB.
dsn_db() { sed -E "s|^(postgres(ql)?://[^/]*)/[^?]*|\1/$2|" <<<"$1"; }

# answers DSN: psql connects to DSN's server (database postgres) without
# being asked for a password.
answers() {
	command -v psql >/dev/null 2>&1 || return 1
	[ "$(PGCONNECT_TIMEOUT=3 psql -w -X -q "$(dsn_db "$1" postgres)" -Atc 'SELECT 1' 2>/dev/null)" = 1 ]
}

# ensure_db DSN: its database exists.
ensure_db() {
	local dsn=$1 db
	db=$(sed -E 's|^postgres(ql)?://[^/]*/([^?]*).*|\2|' <<<"$dsn")
	local q="SELECT 1 FROM pg_database WHERE datname = '$db'"
	local admin
	admin=$(dsn_db "$dsn" postgres)
	if [ "$(psql -w -X -q "$admin" -Atc "$q")" != 1 ]; then
		log "creating database $db"
		# Two scripts racing: the loser's CREATE fails, the database exists.
		psql -w -X -q "$admin" -c "CREATE DATABASE \"$db\"" ||
			[ "$(psql -w -X -q "$admin" -Atc "$q")" = 1 ]
	fi
}

apt_install() {
	log "installing $*"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# bindir: the directory of initdb and pg_ctl (Debian keeps them off PATH).
bindir() {
	local v
	v=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then
		echo "/usr/lib/postgresql/$v/bin"
	elif command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	fi
}

# run_user: the user a private instance runs as (postgres refuses root).
run_user() {
	if [ "$(id -u)" -ne 0 ]; then
		id -un
	elif id postgres >/dev/null 2>&1; then
		echo postgres
	else
		echo nobody
	fi
}

private_stop() {
	local bin
	bin=$(bindir)
	if [ -f "$PRIVATE_DIR/data/postmaster.pid" ] && [ -n "$bin" ]; then
		log "stopping the private instance in $PRIVATE_DIR"
		as_user "$(stat -c %U "$PRIVATE_DIR/data")" "$bin/pg_ctl" -D "$PRIVATE_DIR/data" -m fast -w stop >/dev/null
	else
		log "no private instance running in $PRIVATE_DIR"
	fi
	drop_env postgres
	if [ -f "$services_dir/postgres.stock-started" ]; then
		local version
		version=$(cat "$services_dir/postgres.stock-started")
		log "stopping cluster $version/main, which this script started"
		$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main stop || true
		rm -f "$services_dir/postgres.stock-started"
	fi
}

if [ "${1:-}" = stop ]; then
	private_stop
	exit 0
fi

use_stock() {
	ensure_db "$DSN"
	drop_env postgres
	log "answering at $HOST:$PORT"
	exit 0
}

if answers "$DSN"; then
	use_stock
fi

# Something listens but there is no client to ask it: get the client first.
if ! command -v psql >/dev/null 2>&1; then
	apt_install postgresql-client
	if answers "$DSN"; then
		use_stock
	fi
fi

if [ "$DSN" = "$DEFAULT_DSN" ] && ! port_open "$HOST" "$PORT"; then
	if [ -z "$(bindir)" ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
		apt_install postgresql
	fi
	# Start the stock cluster as it is configured, if there is one.
	version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$version" ] && [ -d "/etc/postgresql/$version/main" ] &&
		! $SUDO pg_ctlcluster "$version" main status >/dev/null 2>&1; then
		log "starting cluster $version/main"
		if $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
			started_stock postgres "$version"
		fi
	fi
	for _ in $(seq 1 100); do # 10 s at most
		if answers "$DSN"; then
			use_stock
		fi
		port_open "$HOST" "$PORT" && [ -n "$version" ] && break # up, but asks for a password
		sleep 0.1
	done
fi

# A private instance, started once and reused by later runs.
if port_open "$HOST" "$PORT"; then
	log "the server at $HOST:$PORT does not let user postgres in without a password; leaving it as it is"
else
	log "nothing answers at $HOST:$PORT"
fi
bin=$(bindir)
if [ -z "$bin" ]; then
	apt_install postgresql
	bin=$(bindir)
fi
user=$(run_user)
ensure_services_dir
if [ ! -f "$PRIVATE_DIR/data/PG_VERSION" ]; then
	log "creating a private instance in $PRIVATE_DIR (user $user)"
	rm -rf "$PRIVATE_DIR"
	mkdir -p "$PRIVATE_DIR"
	chown "$user" "$PRIVATE_DIR"
	chmod 700 "$PRIVATE_DIR"
	as_user "$user" "$bin/initdb" -D "$PRIVATE_DIR/data" -U postgres -A trust -E UTF8 >"$PRIVATE_DIR/initdb.log" 2>&1 || {
		log "initdb failed:" >&2
		tail -n 20 "$PRIVATE_DIR/initdb.log" >&2
		exit 1
	}
fi
if answers "$PRIVATE_DSN"; then
	log "the private instance answers on 127.0.0.1:$PRIVATE_PORT"
else
	if port_open 127.0.0.1 "$PRIVATE_PORT"; then
		log "127.0.0.1:$PRIVATE_PORT is taken by another server: set CACHIER_PRIVATE_PG_PORT to a free port, or CACHIER_TEST_PG_DSN to a server where user postgres needs no password" >&2
		exit 1
	fi
	log "starting the private instance on 127.0.0.1:$PRIVATE_PORT (log $PRIVATE_DIR/postgres.log)"
	if ! as_user "$(stat -c %U "$PRIVATE_DIR/data")" "$bin/pg_ctl" -D "$PRIVATE_DIR/data" -l "$PRIVATE_DIR/postgres.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $PRIVATE_PORT -k $PRIVATE_DIR" start >/dev/null; then
		log "the private instance did not start; last lines of $PRIVATE_DIR/postgres.log:" >&2
		tail -n 20 "$PRIVATE_DIR/postgres.log" >&2 || true
		exit 1
	fi
fi
for _ in $(seq 1 100); do # 10 s at most
	if answers "$PRIVATE_DSN"; then
		ensure_db "$PRIVATE_DSN"
		write_env postgres CACHIER_TEST_PG_DSN "$PRIVATE_DSN"
		log "answering on 127.0.0.1:$PRIVATE_PORT (private); tests read CACHIER_TEST_PG_DSN from $services_dir/postgres.env"
		exit 0
	fi
	sleep 0.1
done
log "the private instance did not answer on 127.0.0.1:$PRIVATE_PORT within 10s; see $PRIVATE_DIR/postgres.log" >&2
exit 1
