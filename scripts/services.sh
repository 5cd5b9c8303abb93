#!/usr/bin/env bash
# Make sure PostgreSQL and Redis are running on loopback, starting (or installing) them if
# needed, and that the `stormchat` database exists. Used by `make test` and CI.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pg_ctlcluster >/dev/null || ! command -v redis-server >/dev/null; then
  echo "services: installing PostgreSQL and Redis from Debian packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "services: starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "services: starting Redis"
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

psql_cmd() { psql -h 127.0.0.1 -U postgres -tAc "$1" postgres; }
if [ "$(psql_cmd "SELECT 1 FROM pg_database WHERE datname='stormchat'")" != "1" ]; then
  psql_cmd "CREATE DATABASE stormchat" >/dev/null
fi
echo "services: PostgreSQL and Redis are up"
