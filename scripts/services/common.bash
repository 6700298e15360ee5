# common.bash: helpers shared by the service scripts (sourced, never run;
# `make services` runs scripts/services/*.sh only).
#
# Where a server at the tests' address answers, but not with the tests'
# credentials, a script starts a private instance of its own instead of
# changing that server (own data directory and socket under
# $CACHIER_SERVICES_DIR, own port), and writes the address variable the
# tests read into $CACHIER_SERVICES_DIR/<service>.env, which `make test`
# sources before `go test`.

# services_dir is where private instances and their env files live: the
# build's temporary space.
services_dir=${CACHIER_SERVICES_DIR:-${TMPDIR:-/tmp}/cachier-services}

# ensure_services_dir creates it, traversable by the database users that
# private instances run as (their own directories inside are 0700).
ensure_services_dir() {
	mkdir -p "$services_dir"
	chmod 755 "$services_dir"
}

# write_env NAME VAR VALUE: tests read VAR=VALUE (make test sources the file).
write_env() {
	ensure_services_dir
	local v=${3//\'/\'\\\'\'} # ' -> '\''
	printf "export %s='%s'\n" "$2" "$v" >"$services_dir/$1.env.tmp"
	mv -f "$services_dir/$1.env.tmp" "$services_dir/$1.env"
}

# drop_env NAME: the tests use their default (or the caller's) address again.
drop_env() { rm -f "$services_dir/$1.env"; }

# port_open HOST PORT: something accepts TCP connections there.
port_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# pid_listens PID PORT: process PID itself holds a listening TCP socket on
# PORT (not merely some process: another server may hold the port).
pid_listens() {
	local pid=$1 port hex inode
	port=$(printf '%04X' "$2")
	for inode in $(awk -v p=":$port" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
		if ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "socket:\[$inode\]"; then
			return 0
		fi
	done
	return 1
}

# as_user USER CMD...: run CMD as USER when we are root (database servers
# refuse to run as root), as ourselves otherwise.
as_user() {
	local user=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
	else
		"$@"
	fi
}

# started_stock NAME WHAT: remember that this script started the stock server
# (as configured, unchanged), so that `NAME.sh stop` stops it again.
started_stock() {
	ensure_services_dir
	echo "$2" >"$services_dir/$1.stock-started"
}
