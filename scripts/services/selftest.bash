#!/usr/bin/env bash
# selftest.bash tests the service scripts for real, on ports and directories
# of its own, leaving the servers the tests use (5432, 3306, 6379, 27017)
# alone. Run it as root on a machine with PostgreSQL and MariaDB installed:
#
#	bash scripts/services/selftest.bash
#
# It checks that
#   - postgres.sh, pointed (CACHIER_TEST_PG_DSN) at a PostgreSQL server that
#     asks for a scram password, starts a private instance, writes the env
#     file that points the tests at it, leaves that server's pg_hba.conf
#     byte for byte as it was, reuses the instance on a second run, serves
#     the sqlstore conformance tests, and `stop` stops it;
#   - mariadb.sh does the same against a MariaDB whose root has a password,
#     leaving its users and password hashes as they were;
#   - mongo.sh, whose port another server takes while it builds the helper,
#     fails saying so instead of reporting the exited helper as running;
#     and on a free port starts a helper that serves the mongostore tests,
#     and `stop` stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD

work=$(mktemp -d /tmp/cachier-selftest.XXXXXX)
chmod 755 "$work"
export CACHIER_SERVICES_DIR=$work/services
export CACHIER_PRIVATE_PG_PORT=${SELFTEST_PG_PORT:-55498}
export CACHIER_PRIVATE_MYSQL_PORT=${SELFTEST_MYSQL_PORT:-53398}
PG_PW_PORT=${SELFTEST_PG_PW_PORT:-55499}
MY_PW_PORT=${SELFTEST_MYSQL_PW_PORT:-53399}
FDB_PORT=${SELFTEST_FERRETDB_PORT:-27099}
TAKEN_PORT=${SELFTEST_TAKEN_PORT:-27098}
unset CACHIER_TEST_PG_DSN CACHIER_TEST_MYSQL_DSN CACHIER_TEST_MONGO_URI

pids=()
cleanup() {
	set +e
	bash scripts/services/postgres.sh stop >/dev/null 2>&1
	bash scripts/services/mariadb.sh stop >/dev/null 2>&1
	MONGO_ADDR=127.0.0.1:$FDB_PORT FERRETDB_DATA=$work/fdb bash scripts/services/mongo.sh stop >/dev/null 2>&1
	[ -f "$work/pgpw/data/postmaster.pid" ] &&
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$pgbin/pg_ctl" -D "$work/pgpw/data" -m fast -w stop >/dev/null 2>&1
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -f "$work/mypw/pid" ] && kill "$(cat "$work/mypw/pid")" 2>/dev/null
	[ -f "$work/listener.pid" ] && kill "$(cat "$work/listener.pid")" 2>/dev/null
	sleep 1
	rm -rf "$work"
}
trap cleanup EXIT

fails=0
ok() { echo "ok   $*"; }
fail() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
open_port() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# --- PostgreSQL -------------------------------------------------------------
pgbin=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -V | tail -n 1)/bin
mkdir -p "$work/pgpw"
echo secret >"$work/pgpw/pw"
chown -R postgres "$work/pgpw"
setpriv --reuid=postgres --regid=postgres --init-groups -- "$pgbin/initdb" -D "$work/pgpw/data" -U postgres \
	-A scram-sha-256 --pwfile="$work/pgpw/pw" >/dev/null
setpriv --reuid=postgres --regid=postgres --init-groups -- "$pgbin/pg_ctl" -D "$work/pgpw/data" -l "$work/pgpw/log" -w \
	-o "-c listen_addresses=127.0.0.1 -p $PG_PW_PORT -k $work/pgpw" start >/dev/null
hba_before=$(sha256sum <"$work/pgpw/data/pg_hba.conf")
if PGCONNECT_TIMEOUT=3 psql -w -X -h 127.0.0.1 -p "$PG_PW_PORT" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	fail "postgres: the password server lets postgres in without a password"
fi

pwdsn="postgres://postgres@127.0.0.1:$PG_PW_PORT/test?sslmode=disable"
private="postgres://postgres@127.0.0.1:$CACHIER_PRIVATE_PG_PORT/test?sslmode=disable"
for run in first second; do
	if CACHIER_TEST_PG_DSN=$pwdsn bash scripts/services/postgres.sh; then
		ok "postgres: $run run against a password server exits 0"
	else
		fail "postgres: $run run against a password server"
	fi
done
# shellcheck disable=SC1091
if (. "$CACHIER_SERVICES_DIR/postgres.env" && [ "$CACHIER_TEST_PG_DSN" = "$private" ]); then
	ok "postgres: postgres.env points at the private instance"
else
	fail "postgres: postgres.env: $(cat "$CACHIER_SERVICES_DIR/postgres.env" 2>&1)"
fi
[ "$(sha256sum <"$work/pgpw/data/pg_hba.conf")" = "$hba_before" ] &&
	ok "postgres: the password server's pg_hba.conf is unchanged" ||
	fail "postgres: the password server's pg_hba.conf changed"
PGCONNECT_TIMEOUT=3 psql -w -X -h 127.0.0.1 -p "$PG_PW_PORT" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1 &&
	fail "postgres: the password server now lets postgres in without a password" ||
	ok "postgres: the password server still asks for a password"
if (set -a && . "$CACHIER_SERVICES_DIR/postgres.env" && set +a &&
	CACHIER_REQUIRE_SERVICES=1 go test -count=1 -run 'TestConformance/postgres' ./store/sqlstore/ >"$work/pg-test.log" 2>&1); then
	ok "postgres: sqlstore conformance passes on the private instance"
else
	fail "postgres: sqlstore conformance on the private instance: $(tail -n 5 "$work/pg-test.log")"
fi
bash scripts/services/postgres.sh stop >/dev/null
! open_port "$CACHIER_PRIVATE_PG_PORT" && [ ! -f "$CACHIER_SERVICES_DIR/postgres.env" ] &&
	ok "postgres: stop stops the private instance and drops postgres.env" ||
	fail "postgres: stop left the private instance or postgres.env"
open_port "$PG_PW_PORT" && ok "postgres: stop left the password server running" ||
	fail "postgres: stop stopped the password server"

# --- MariaDB ----------------------------------------------------------------
mkdir -p "$work/mypw/data"
chown -R mysql "$work/mypw"
setpriv --reuid=mysql --regid=mysql --init-groups -- mariadb-install-db --no-defaults --datadir="$work/mypw/data" \
	--auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
setpriv --reuid=mysql --regid=mysql --init-groups -- setsid nohup /usr/sbin/mariadbd --no-defaults \
	--datadir="$work/mypw/data" --port="$MY_PW_PORT" --bind-address=127.0.0.1 --socket="$work/mypw/sock" \
	--pid-file="$work/mypw/pid" --log-error="$work/mypw/err.log" >/dev/null 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 1 300); do
	mariadb --no-defaults -S "$work/mypw/sock" -uroot --password= -e 'SELECT 1' >/dev/null 2>&1 && break
	sleep 0.1
done
mariadb --no-defaults -S "$work/mypw/sock" -uroot --password= -e "
	ALTER USER root@localhost IDENTIFIED BY 'secret';
	ALTER USER root@'127.0.0.1' IDENTIFIED BY 'secret';
	ALTER USER root@'::1' IDENTIFIED BY 'secret';"
users() {
	mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$MY_PW_PORT" -uroot --password=secret -N -B \
		-e 'SELECT user, host, authentication_string FROM mysql.user ORDER BY 1, 2'
}
users_before=$(users)

pwdsn="root@tcp(127.0.0.1:$MY_PW_PORT)/test"
private="root@tcp(127.0.0.1:$CACHIER_PRIVATE_MYSQL_PORT)/test"
for run in first second; do
	if CACHIER_TEST_MYSQL_DSN=$pwdsn bash scripts/services/mariadb.sh; then
		ok "mariadb: $run run against a password server exits 0"
	else
		fail "mariadb: $run run against a password server"
	fi
done
if (. "$CACHIER_SERVICES_DIR/mariadb.env" && [ "$CACHIER_TEST_MYSQL_DSN" = "$private" ]); then
	ok "mariadb: mariadb.env points at the private instance"
else
	fail "mariadb: mariadb.env: $(cat "$CACHIER_SERVICES_DIR/mariadb.env" 2>&1)"
fi
[ "$(users)" = "$users_before" ] && ok "mariadb: the password server's users and passwords are unchanged" ||
	fail "mariadb: the password server's users changed"
mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$MY_PW_PORT" -uroot --password= -e 'SELECT 1' >/dev/null 2>&1 &&
	fail "mariadb: the password server now lets root in without a password" ||
	ok "mariadb: the password server still asks root for a password"
if (set -a && . "$CACHIER_SERVICES_DIR/mariadb.env" && set +a &&
	CACHIER_REQUIRE_SERVICES=1 go test -count=1 -run 'TestConformance/mysql' ./store/sqlstore/ >"$work/my-test.log" 2>&1); then
	ok "mariadb: sqlstore conformance passes on the private instance"
else
	fail "mariadb: sqlstore conformance on the private instance: $(tail -n 5 "$work/my-test.log")"
fi
bash scripts/services/mariadb.sh stop >/dev/null
! open_port "$CACHIER_PRIVATE_MYSQL_PORT" && [ ! -f "$CACHIER_SERVICES_DIR/mariadb.env" ] &&
	ok "mariadb: stop stops the private instance and drops mariadb.env" ||
	fail "mariadb: stop left the private instance or mariadb.env"
open_port "$MY_PW_PORT" && ok "mariadb: stop left the password server running" ||
	fail "mariadb: stop stopped the password server"

# --- FerretDB ---------------------------------------------------------------
# A `go` that lets another (non-MongoDB) server take the port before it
# builds: the port taken between mongo.sh's check and its helper's start.
cat >"$work/go" <<EOF
#!/usr/bin/env bash
python3 -c '
import os, socket, time
s = socket.socket()
s.bind(("127.0.0.1", $TAKEN_PORT))
s.listen(16)
if os.fork() == 0:
    os.setsid()
    open("$work/listener.pid", "w").write(str(os.getpid()))
    time.sleep(300)
'
until [ -f "$work/listener.pid" ]; do sleep 0.1; done
exec go "\$@"
EOF
chmod +x "$work/go"
if MONGO_ADDR=127.0.0.1:$TAKEN_PORT FERRETDB_DATA=$work/fdb-taken GO=$work/go bash scripts/services/mongo.sh >"$work/taken.log" 2>&1; then
	fail "mongo: reported success with its port taken by another server: $(tail -n 3 "$work/taken.log")"
elif grep -q "exited" "$work/taken.log" && grep -q "held by another process" "$work/taken.log"; then
	ok "mongo: a helper that exited (port taken) is reported as exited, the port's holder named"
else
	fail "mongo: port taken: $(cat "$work/taken.log")"
fi
kill "$(cat "$work/listener.pid")" 2>/dev/null || true

if MONGO_ADDR=127.0.0.1:$FDB_PORT FERRETDB_DATA=$work/fdb bash scripts/services/mongo.sh >"$work/fdb.log" 2>&1 &&
	grep -q "FerretDB answers on 127.0.0.1:$FDB_PORT (pid" "$work/fdb.log"; then
	ok "mongo: starts a helper on a free port"
else
	fail "mongo: start on a free port: $(cat "$work/fdb.log")"
fi
if CACHIER_REQUIRE_SERVICES=1 CACHIER_TEST_MONGO_URI=mongodb://127.0.0.1:$FDB_PORT \
	go test -count=1 -run 'TestConformance' ./store/mongostore/ >"$work/fdb-test.log" 2>&1; then
	ok "mongo: mongostore conformance passes on it"
else
	fail "mongo: mongostore conformance: $(tail -n 5 "$work/fdb-test.log")"
fi
MONGO_ADDR=127.0.0.1:$FDB_PORT FERRETDB_DATA=$work/fdb bash scripts/services/mongo.sh stop >/dev/null
! open_port "$FDB_PORT" && ok "mongo: stop stops the helper" || fail "mongo: stop left the helper running"

echo
if [ "$fails" -eq 0 ]; then
	echo "selftest: all passed"
else
	echo "selftest: $fails failed"
	exit 1
fi
