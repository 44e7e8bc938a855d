#!/bin/bash
# Initialises PGDATA on first start (user, password and database from
# POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB, as the official image
# does; UTF-8, as its locale gives it), then runs the server as the postgres user.
set -euo pipefail
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=${POSTGRES_USER}}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "${PGDATA}" /run/postgresql
chown postgres:postgres "${PGDATA}" /run/postgresql
chmod 700 "${PGDATA}"
if [[ ! -s "${PGDATA}/PG_VERSION" ]]; then
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD}" >"${pwfile}"
  chown postgres "${pwfile}"
  as_postgres initdb --username="${POSTGRES_USER}" --pwfile="${pwfile}" \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
    -D "${PGDATA}" >/dev/null
  rm -f "${pwfile}"
  printf '%s\n' "host all all all scram-sha-256" >>"${PGDATA}/pg_hba.conf"
  if [[ "${POSTGRES_DB}" != postgres ]]; then
    as_postgres postgres --single -D "${PGDATA}" -c listen_addresses= postgres \
      <<<"CREATE DATABASE \"${POSTGRES_DB}\" OWNER \"${POSTGRES_USER}\";" >/dev/null
  fi
fi
[[ "$1" == postgres ]] && exec setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres -D "${PGDATA}" -c listen_addresses='*'
exec "$@"
