#!/usr/bin/env bash
# mariadb.sh makes sure MariaDB (or MySQL) answers on 127.0.0.1:3306 for the
# tests (store/sqlstore, cachier_test backend sql-mysql): user root with an
# empty password over TCP, database `test`, i.e. the tests' default
# CACHIER_TEST_MYSQL_DSN=root@tcp(127.0.0.1:3306)/test
#
# Where a server already answers with those credentials it only makes sure
# database `test` exists. Otherwise it installs Debian's mariadb-server with
# apt-get where missing, initialises the data directory where empty, starts
# mariadbd without systemd, lets root in over TCP with an empty password (a
# fresh Debian root authenticates by unix_socket only), creates database
# `test` and waits (bounded) until it answers.
set -euo pipefail

HOST=127.0.0.1
PORT=3306
DB=test
DATADIR=/var/lib/mysql

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

log() { echo "mariadb: $*"; }

client() {
	if command -v mariadb >/dev/null 2>&1; then echo mariadb; elif command -v mysql >/dev/null 2>&1; then echo mysql; fi
}

# sql_tcp runs SQL over TCP as root with an empty password.
sql_tcp() {
	"$(client)" --protocol=TCP -h "$HOST" -P "$PORT" -u root --password= --connect-timeout=3 -N -B -e "$1"
}

# sql_socket runs SQL as root over the unix socket, where the OS user root
# is the database's root (unix_socket authentication).
sql_socket() {
	$SUDO "$(client)" -u root --connect-timeout=3 -N -B -e "$1"
}

answers() {
	[ -n "$(client)" ] || return 1
	[ "$(sql_tcp 'SELECT 1' 2>/dev/null)" = 1 ]
}

port_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null
}

ensure_db() {
	sql_tcp "CREATE DATABASE IF NOT EXISTS \`$DB\`"
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
if [ -z "$(client)" ] && port_open; then
	apt_install mariadb-client
	if answers; then
		ensure_db
		log "answering on $HOST:$PORT"
		exit 0
	fi
fi

if [ ! -x /usr/sbin/mariadbd ]; then
	apt_install mariadb-server
fi

if [ ! -d "$DATADIR/mysql" ]; then
	log "initialising $DATADIR"
	$SUDO mariadb-install-db --user=mysql --datadir="$DATADIR" >/dev/null
fi

socket_answers() { sql_socket 'SELECT 1' >/dev/null 2>&1; }

if ! socket_answers; then
	log "starting mariadbd"
	$SUDO install -d -o mysql -g mysql /run/mysqld
	# --oknodo: a mariadbd already running is left alone.
	$SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
	for _ in $(seq 1 300); do # 30 s at most
		socket_answers && break
		sleep 0.1
	done
	if ! socket_answers; then
		log "mariadbd did not answer on its socket within 30s" >&2
		tail -n 20 /var/log/mysql/error.log >&2 2>/dev/null || true
		exit 1
	fi
fi

# root over TCP with an empty password, whether the server resolves
# 127.0.0.1 to localhost or not (skip-name-resolve); unix_socket stays.
log "allowing root over TCP without a password"
sql_socket "
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'root'@'::1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'::1' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
CREATE DATABASE IF NOT EXISTS \`$DB\`;
FLUSH PRIVILEGES;"

for _ in $(seq 1 300); do # 30 s at most
	if answers; then
		ensure_db
		log "answering on $HOST:$PORT"
		exit 0
	fi
	sleep 0.1
done
log "MariaDB did not answer on $HOST:$PORT within 30s as root without a password" >&2
tail -n 20 /var/log/mysql/error.log >&2 2>/dev/null || true
exit 1
