#!/usr/bin/env bash
# postgres.sh makes sure PostgreSQL answers on 127.0.0.1:5432 for the tests
# (store/sqlstore, cachier_test backend sql-postgres): user postgres without
# a password, database `test`, i.e. the tests' default
# CACHIER_TEST_PG_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#
# Where a server already answers with those credentials it only makes sure
# database `test` exists. Otherwise it installs Debian's postgresql with
# apt-get where missing, creates a cluster where there is none, lets
# 127.0.0.1 and ::1 in with trust authentication (a fresh Debian cluster asks
# TCP clients for a scram password), starts or reloads the cluster without
# systemd, creates database `test` and waits (bounded) until it answers.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
DB=test

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

log() { echo "postgres: $*"; }

# psql_tcp runs psql over TCP as user postgres, never prompting.
psql_tcp() {
	PGCONNECT_TIMEOUT=3 psql -w -X -q -h "$HOST" -p "$PORT" -U postgres "$@"
}

answers() {
	command -v psql >/dev/null 2>&1 || return 1
	[ "$(psql_tcp -d postgres -Atc 'SELECT 1' 2>/dev/null)" = 1 ]
}

port_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null
}

ensure_db() {
	if [ "$(psql_tcp -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
		log "creating database $DB"
		# Two scripts racing: the loser's CREATE fails, the database exists.
		psql_tcp -d postgres -c "CREATE DATABASE $DB" ||
			[ "$(psql_tcp -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" = 1 ]
	fi
}

apt_install() {
	log "installing $*"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if answers; then
	ensure_db
	log "answering on $HOST:$PORT"
	exit 0
fi

# Something listens but there is no client to ask it: get the client first.
if ! command -v psql >/dev/null 2>&1 && port_open; then
	apt_install postgresql-client
	if answers; then
		ensure_db
		log "answering on $HOST:$PORT"
		exit 0
	fi
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
	apt_install postgresql
fi

VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
CONF=/etc/postgresql/$VERSION/main
if [ ! -d "$CONF" ]; then
	log "creating cluster $VERSION/main on port $PORT"
	$SUDO pg_createcluster --port "$PORT" "$VERSION" main >/dev/null
fi

# First match wins in pg_hba.conf: the trust lines go on top.
HBA=$CONF/pg_hba.conf
if ! $SUDO grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$HBA"; then
	log "trusting 127.0.0.1 and ::1 in $HBA"
	$SUDO sed -i '1i # cachier tests (scripts/services/postgres.sh): local TCP without a password\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$HBA"
fi

if $SUDO pg_ctlcluster "$VERSION" main status >/dev/null 2>&1; then
	log "reloading cluster $VERSION/main"
	$SUDO pg_ctlcluster --skip-systemctl-redirect "$VERSION" main reload
else
	log "starting cluster $VERSION/main"
	$SUDO pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start
fi

for _ in $(seq 1 300); do # 30 s at most
	if answers; then
		ensure_db
		log "answering on $HOST:$PORT"
		exit 0
	fi
	sleep 0.1
done
log "PostgreSQL did not answer on $HOST:$PORT within 30s as user postgres" >&2
tail -n 20 "/var/log/postgresql/postgresql-$VERSION-main.log" >&2 || true
exit 1
