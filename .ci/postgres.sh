#!/usr/bin/env bash
# A throwaway PostgreSQL for the JDBC source tests. Idempotent: when a server already answers on
# the port it only prints the connection settings. Prints `export ...` lines for eval on stdout;
# everything else goes to stderr.
#   eval "$(bash .ci/postgres.sh)"      install if missing, start, create role + database
#   bash .ci/postgres.sh stop           stop the server this script started on the port
set -euo pipefail
PORT="${AURORA_PG_PORT:-55432}"
DATA="${AURORA_PG_DATA:-/tmp/aurora-postgres-$PORT}"
DB="${AURORA_PG_DATABASE:-aurora_test}"
ROLE="${AURORA_PG_USER:-aurora}"
PASSWORD="${AURORA_PG_PASSWORD:-aurora}"
log() { echo "postgres.sh: $*" >&2; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
# The server refuses to run as root: run its tools as the `postgres` user then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${1:-start}" = stop ]; then
  if [ -f "$DATA/postmaster.pid" ]; then as_pg "$(bindir)/pg_ctl" -D "$DATA" -m fast -w stop >&2; fi
  exit 0
fi

if [ -z "$(bindir)" ] || [ ! -f /usr/share/java/postgresql.jar ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing postgresql and libpostgresql-jdbc-java"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql libpostgresql-jdbc-java >&2
  else
    log "PostgreSQL binaries or JDBC jar missing and cannot install (not root)"; exit 1
  fi
fi
BIN="$(bindir)"

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
    chmod 700 "$DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$PORT ($DATA)"
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1" start >&2
  as_pg "$BIN/psql" -h "$DATA" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -q >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SQL
  if ! as_pg "$BIN/psql" -h "$DATA" -p "$PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_pg "$BIN/createdb" -h "$DATA" -p "$PORT" -U postgres -O "$ROLE" "$DB"
  fi
else
  log "a server already answers on 127.0.0.1:$PORT"
fi

echo "export AURORA_TEST_POSTGRES_URL=jdbc:postgresql://127.0.0.1:$PORT/$DB"
echo "export AURORA_TEST_POSTGRES_USER=$ROLE"
echo "export AURORA_TEST_POSTGRES_PASSWORD=$PASSWORD"
