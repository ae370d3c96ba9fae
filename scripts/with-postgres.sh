#!/usr/bin/env bash
# with-postgres.sh CMD [ARGS...]
#
# Runs CMD with MINT_TEST_POSTGRES_URL pointing at a throw-away PostgreSQL 15 cluster (superuser
# "postgres", trust auth, 127.0.0.1 only, fsync on), then stops the cluster and deletes it. If
# MINT_TEST_POSTGRES_URL is already set, CMD runs against that server instead.
#
#   scripts/with-postgres.sh go test ./internal/store/...
#
# PostgreSQL refuses to run as root, so as root (as in CI) the cluster runs as the postgres user.
# PGBIN overrides where initdb and pg_ctl are found.
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: $0 CMD [ARGS...]" >&2
	exit 2
fi
if [[ -n "${MINT_TEST_POSTGRES_URL:-}" ]]; then
	exec "$@"
fi

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
for tool in initdb pg_ctl pg_isready; do
	if [[ ! -x "$PGBIN/$tool" ]]; then
		echo "with-postgres: $PGBIN/$tool not found (install PostgreSQL 15 or set PGBIN)" >&2
		exit 1
	fi
done

if [[ $(id -u) -eq 0 ]]; then
	# The cluster directory must be reachable by postgres, so not under a private TMPDIR.
	dir=$(mktemp -d /tmp/mint-pg.XXXXXX)
	chown postgres: "$dir"
	as_postgres() {
		if command -v runuser >/dev/null; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
		fi
	}
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/mint-pg.XXXXXX")
	as_postgres() { "$@"; }
fi

started=
cleanup() {
	if [[ -n "$started" ]]; then
		as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --no-sync only skips flushing initdb's own files: the cluster is thrown away. The server
# itself runs with fsync on.
as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log" >&2
	exit 1
}

# A port nobody answers on; if another process takes it before the server binds, try again.
free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

for attempt in 1 2 3 4 5; do
	port=$(free_port)
	if as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o \
		"-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=on -c max_connections=200" \
		start >/dev/null; then
		started=1
		break
	fi
	if [[ $attempt -eq 5 ]]; then
		echo "with-postgres: PostgreSQL did not start:" >&2
		cat "$dir/server.log" >&2 || true
		exit 1
	fi
done

for _ in $(seq 100); do
	if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
		break
	fi
	sleep 0.1
done
"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres

export MINT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "with-postgres: PostgreSQL 15 listening on 127.0.0.1:$port ($dir), MINT_TEST_POSTGRES_URL=$MINT_TEST_POSTGRES_URL" >&2
"$@"
