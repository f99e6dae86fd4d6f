# Sourced by .ci/run: install and start a real PostgreSQL on 127.0.0.1 for the governance and JDBC
# source tests (plus the PostgreSQL JDBC driver),
# and export AURORA_TEST_POSTGRES_URL (a user that may CREATE DATABASE; each test makes its own).
# Idempotent: an installed package, a running cluster or an existing role are reused.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
# The JDBC driver for Spark's `jdbc` sources (lake/spark.py puts it on the classpath).
if [ ! -f /usr/share/java/postgresql.jar ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpostgresql-jdbc-java >/dev/null
fi
PG_VERSION="$(ls /usr/lib/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | grep -q "^${PG_VERSION} main"; then
  pg_createcluster "$PG_VERSION" main >/dev/null
fi
if ! pg_lsclusters -h | grep -q "^${PG_VERSION} main .* online"; then
  pg_ctlcluster "$PG_VERSION" main start
fi
PG_PORT="$(pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $3}')"
_pg() { runuser -u postgres -- psql -p "$PG_PORT" -qtAc "$1"; }
if [ "$(_pg "SELECT 1 FROM pg_roles WHERE rolname = 'aurora'")" != 1 ]; then
  _pg "CREATE ROLE aurora LOGIN CREATEDB PASSWORD 'aurora'"
fi
if [ "$(_pg "SELECT 1 FROM pg_database WHERE datname = 'aurora'")" != 1 ]; then
  _pg "CREATE DATABASE aurora OWNER aurora"
fi
export AURORA_TEST_POSTGRES_URL="postgresql+psycopg://aurora:aurora@127.0.0.1:${PG_PORT}/aurora"
echo "PostgreSQL ${PG_VERSION} on 127.0.0.1:${PG_PORT} (AURORA_TEST_POSTGRES_URL set)"
