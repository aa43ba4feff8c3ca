#!/usr/bin/env bash
# Runs a command with the services the test suite needs: a throwaway PostgreSQL
# cluster and a redis-server, both on loopback, both removed afterwards.
# Their URLs reach the tests as MARKWATCH_TEST_PG and MARKWATCH_TEST_REDIS.
set -uo pipefail

work=$(mktemp -d /tmp/markwatch-services.XXXXXX)
chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
pg_pid=""; redis_pid=""
cleanup() {
  if [ -n "$pg_pid" ]; then
    su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $work/pg -m immediate stop" >/dev/null 2>&1 || kill "$pg_pid" 2>/dev/null
  fi
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "$pg_bin" ] && id postgres >/dev/null 2>&1; then
  port=$(free_port)
  chown postgres "$work"
  if su postgres -s /bin/sh -c "$pg_bin/initdb -D $work/pg -A trust -U markwatch >/dev/null" &&
     su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $work/pg -o '-k $work -p $port -c listen_addresses=127.0.0.1 -c fsync=off' -l $work/pg.log -w start >/dev/null"; then
    pg_pid=$(head -1 "$work/pg/postmaster.pid")
    su postgres -s /bin/sh -c "$pg_bin/createdb -h 127.0.0.1 -p $port -U markwatch markwatch_test"
    export MARKWATCH_TEST_PG="postgresql+psycopg://markwatch@127.0.0.1:$port/markwatch_test"
    echo "PostgreSQL test cluster on 127.0.0.1:$port"
  else
    echo "PostgreSQL could not be started; see $work/pg.log" >&2
  fi
fi

if command -v redis-server >/dev/null; then
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export MARKWATCH_TEST_REDIS="redis://127.0.0.1:$port/0"
  echo "Redis on 127.0.0.1:$port"
fi

"$@"
