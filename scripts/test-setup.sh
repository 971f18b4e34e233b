#!/usr/bin/env bash
# Installs and starts everything the test suite needs on a fresh Debian
# machine of the project's kind. Idempotent: safe to run before every test run.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test-setup] %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Build dependencies, then the PostgreSQL client tools (psql, pgbench).
./scripts/setup
need=()
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v pgbench >/dev/null 2>&1 || need+=(postgresql-contrib)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL: start it if it is down.
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  log "starting PostgreSQL"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 -q || { log "PostgreSQL is not reachable on 127.0.0.1:5432"; exit 1; }

# Roles that make the target ask for each upstream authentication method,
# and one that may only connect over TLS.
HBA=$(psql -h 127.0.0.1 -U postgres -d postgres -Atc 'show hba_file')
if ! grep -q 'portcullis-test-begin' "$HBA"; then
  log "adding test rules to $HBA"
  tmp=$(mktemp)
  {
    echo "# portcullis-test-begin"
    echo "host    all  pc_scram    127.0.0.1/32  scram-sha-256"
    echo "host    all  pc_md5      127.0.0.1/32  md5"
    echo "host    all  pc_clear    127.0.0.1/32  password"
    echo "hostnossl all pc_tlsonly 127.0.0.1/32  reject"
    echo "hostssl all  pc_tlsonly  127.0.0.1/32  scram-sha-256"
    echo "# portcullis-test-end"
    cat "$HBA"
  } > "$tmp"
  $SUDO cp "$tmp" "$HBA"
  rm -f "$tmp"
fi
psql -h 127.0.0.1 -U postgres -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT pg_reload_conf();
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pc_scram') THEN CREATE ROLE pc_scram LOGIN SUPERUSER; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pc_md5') THEN CREATE ROLE pc_md5 LOGIN SUPERUSER; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pc_clear') THEN CREATE ROLE pc_clear LOGIN SUPERUSER; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pc_tlsonly') THEN CREATE ROLE pc_tlsonly LOGIN SUPERUSER; END IF;
END $$;
SET password_encryption = 'scram-sha-256';
ALTER ROLE pc_scram PASSWORD 'scram-secret-Upstream-7731';
ALTER ROLE pc_clear PASSWORD 'clear-secret-Upstream-7732';
ALTER ROLE pc_tlsonly PASSWORD 'tls-secret-Upstream-7733';
SET password_encryption = 'md5';
ALTER ROLE pc_md5 PASSWORD 'md5-secret-Upstream-7734';
SQL

# Client drivers from other ecosystems.
if ! python3 -c 'import psycopg' >/dev/null 2>&1; then
  log "installing psycopg"
  python3 -m pip install -q 'psycopg[binary]==3.*' >/dev/null
fi
# MCP clients: the official Python SDK and AutoGen (pins known to work together:
# autogen-ext 0.7.5 does not import with mcp 2.x).
if ! python3 - <<'PY' >/dev/null 2>&1
from importlib.metadata import version
assert version("mcp") == "1.30.0"
assert version("autogen-agentchat") == "0.7.5"
assert version("autogen-ext") == "0.7.5"
PY
then
  log "installing the MCP Python SDK and AutoGen"
  python3 -m pip install -q 'mcp==1.30.0' 'autogen-agentchat==0.7.5' 'autogen-ext[mcp]==0.7.5' >/dev/null
fi
if [ ! -d tests/clients/node/node_modules/pg ]; then
  log "installing node-postgres"
  (cd tests/clients/node && npm install --silent --no-audit --no-fund >/dev/null)
fi
if [ ! -d tests/clients/oidc/node_modules/oidc-provider ]; then
  log "installing the OIDC provider the identity tests run (node oidc-provider)"
  (cd tests/clients/oidc && npm install --silent --no-audit --no-fund >/dev/null)
fi
log "ready"
