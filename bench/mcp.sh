#!/usr/bin/env bash
# MCP `query` tool latency: one point SELECT per call, N calls in a row from
# the official MCP Python SDK over streamable HTTP (/mcp) and over stdio
# (`portcullis mcp`), next to psycopg through the gateway and direct.
#
#   bench/mcp.sh            # N=500
#   N=2000 bench/mcp.sh
#
# Every path runs the same guardrails (no-destructive), masking (2 column
# rules) and recording. Prints per-call milliseconds and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

export PGSSLMODE=disable
N=${N:-500}
DB=pc_bench
GW_PORT=${GW_PORT:-25434}
API_PORT=${API_PORT:-25480}
work=$(mktemp -d /tmp/portcullis-mcpbench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

./scripts/setup
cargo build --release -q -p portcullis
BIN=${CARGO_TARGET_DIR:-target}/release/portcullis

psql -h 127.0.0.1 -U postgres -d postgres -Atq -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -q -c "CREATE DATABASE $DB"
psql -h 127.0.0.1 -U postgres -d "$DB" -q <<'SQL'
DROP SCHEMA IF EXISTS mcp_bench CASCADE;
CREATE SCHEMA mcp_bench;
CREATE TABLE mcp_bench.customers AS
SELECT i AS id, 'Customer ' || i AS name, 'customer.' || i || '@example.com' AS email,
       '4111 1111 1111 ' || lpad((i % 10000)::text, 4, '0') AS card, 'settled' AS status
FROM generate_series(1, 10000) i;
ALTER TABLE mcp_bench.customers ADD PRIMARY KEY (id);
SQL

cat > "$work/portcullis.toml" <<TOML
[store]
path = "$work/state.db"
[listen]
postgres = "127.0.0.1:$GW_PORT"
api = "127.0.0.1:$API_PORT"
[policy.agent]
presets = ["no-destructive"]
[[policy.agent.mask]]
column = "*.customers.email"
style = "partial"
[[policy.agent.mask]]
column = "*.customers.card"
style = "partial"
[[identity]]
name = "agent"
[[grant]]
identity = "agent"
connections = ["db"]
[[connection]]
name = "db"
kind = "postgres"
address = "127.0.0.1:5432"
database = "$DB"
user = "postgres"
tls = "disable"
policy = "agent"
TOML
PORTCULLIS_LOG=warn "$BIN" --config "$work/portcullis.toml" serve 2>"$work/gateway.log" &
pids+=($!)
TOKEN=$("$BIN" --config "$work/portcullis.toml" token create --identity agent 2>/dev/null)
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p "$GW_PORT" && break; sleep 0.1; done
sleep 0.2
kill -0 "${pids[0]}" 2>/dev/null || { echo "the gateway did not start (port $GW_PORT taken?):" >&2; cat "$work/gateway.log" >&2; exit 1; }

SQL="SELECT * FROM mcp_bench.customers WHERE id = 42"
run() { python3 bench/mcp_client.py --sql "$SQL" -n "$N" "$@" | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["per_call_ms"])'; }
direct=$(run --transport psycopg --dsn "host=127.0.0.1 port=5432 dbname=$DB user=postgres")
gateway=$(run --transport psycopg --dsn "host=127.0.0.1 port=$GW_PORT dbname=db user=agent password=$TOKEN")
http=$(run --transport http --url "http://127.0.0.1:$API_PORT/mcp" --token "$TOKEN" --connection db)
stdio=$(run --transport stdio --binary "$BIN" --config "$work/portcullis.toml" --token "$TOKEN" --connection db)
echo "one point SELECT per call, $N calls in a row (ms per call)"
printf "  %-34s %8s\n" "psycopg, direct" "$direct" "psycopg, through Portcullis" "$gateway" \
  "MCP query tool, streamable HTTP" "$http" "MCP query tool, stdio" "$stdio"
awk -v h="$http" -v s="$stdio" -v g="$gateway" 'BEGIN { printf "  MCP HTTP / psycopg via gateway %.1fx, stdio %.1fx\n", h / g, s / g }'
