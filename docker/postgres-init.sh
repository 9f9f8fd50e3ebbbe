#!/bin/bash
# Database per service: each service owns one database, as its own role with its own
# password (from docker/.env), and can reach no other. Run once, by the postgres image,
# on an empty data directory.
set -euo pipefail
for service in users inventory orders; do
  password_variable="${service^^}_DB_PASSWORD"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$service" -v password="${!password_variable:?}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
