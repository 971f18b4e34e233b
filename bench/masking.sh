#!/usr/bin/env bash
# Masking on versus off, end to end through the gateway, against direct.
#
#   bench/masking.sh                   # ROWS=200000, 5 runs, 15 s pgbench
#   ROWS=1000000 RUNS=3 DURATION=30 bench/masking.sh
#
# 1. Large SELECT: psql fetches a customers table (id, name, email, card,
#    status, amount, note) to /dev/null: direct, through Portcullis with no
#    mask rules, and with column rules masking email and card (2 of 7
#    columns). Best of RUNS, in MB/s of result text.
# 2. pgbench, 8 clients, a point SELECT of one customer row (all columns):
#    TPS with masking off and on, RUNS alternating runs (medians), and the
#    gateway's CPU time per transaction.
# Prints ratios masked/unmasked and masked/direct.
set -euo pipefail
cd "$(dirname "$0")/.."

export PGSSLMODE=disable
ROWS=${ROWS:-200000}
RUNS=${RUNS:-5}
DURATION=${DURATION:-15}
DB=pc_bench
GW_PORT=${GW_PORT:-25433}
work=$(mktemp -d /tmp/portcullis-maskbench.XXXXXX)
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
psql -h 127.0.0.1 -U postgres -d "$DB" -q <<SQL
DROP SCHEMA IF EXISTS mask_bench CASCADE;
CREATE SCHEMA mask_bench;
CREATE TABLE mask_bench.customers AS
SELECT i AS id, 'Customer ' || i AS name, 'customer.' || i || '@example.com' AS email,
       '4111 1111 1111 ' || lpad((i % 10000)::text, 4, '0') AS card, 'settled' AS status,
       (i * 3.17)::numeric(12,2) AS amount, 'order note number ' || i || ' shipped' AS note
FROM generate_series(1, $ROWS) i;
ALTER TABLE mask_bench.customers ADD PRIMARY KEY (id);
VACUUM ANALYZE mask_bench.customers;
SQL

conn() {
  cat <<TOML
[[connection]]
name = "$1"
kind = "postgres"
address = "127.0.0.1:5432"
database = "$DB"
user = "postgres"
tls = "disable"
policy = "$2"
TOML
}
{
  cat <<TOML
[store]
path = "$work/state.db"
[listen]
postgres = "127.0.0.1:$GW_PORT"
[policy.clear]
[policy.masked]
[[policy.masked.mask]]
column = "*.customers.email"
style = "partial"
[[policy.masked.mask]]
column = "*.customers.card"
style = "partial"
[[identity]]
name = "bench"
[[grant]]
identity = "bench"
connections = ["clear", "masked"]
TOML
  conn clear clear
  conn masked masked
} > "$work/portcullis.toml"
PORTCULLIS_LOG=warn "$BIN" --config "$work/portcullis.toml" serve 2>"$work/gateway.log" &
pids+=($!)
TOKEN=$("$BIN" --config "$work/portcullis.toml" token create --identity bench 2>/dev/null)
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p "$GW_PORT" && break; sleep 0.1; done
sleep 0.2
kill -0 "${pids[0]}" 2>/dev/null || { echo "the gateway did not start (port $GW_PORT taken?):" >&2; cat "$work/gateway.log" >&2; exit 1; }

direct="host=127.0.0.1 port=5432 dbname=$DB user=postgres"
via() { echo "host=127.0.0.1 port=$GW_PORT dbname=$1 user=bench password=$TOKEN"; }
query="SELECT * FROM mask_bench.customers"
bytes=$(psql "$direct" -XAtc "$query" | wc -c)
# The masked run must really mask.
psql "$(via masked)" -XAtc "SELECT email FROM mask_bench.customers WHERE id = 1" | grep -q '\*\*\*\*@' \
  || { echo "masking is not active" >&2; exit 1; }

best() {  # best wall time in seconds of RUNS fetches
  local dsn=$1 best=999999 t
  for _ in $(seq 1 "$RUNS"); do
    t=$( { /usr/bin/time -f %e psql "$dsn" -XAtc "$query" >/dev/null; } 2>&1 )
    best=$(echo "$t $best" | awk '{print ($1 < $2) ? $1 : $2}')
  done
  echo "$best"
}
d=$(best "$direct"); c=$(best "$(via clear)"); m=$(best "$(via masked)")
mbps() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.1f", b / 1e6 / t }'; }
echo "large SELECT: $ROWS rows, $((bytes / 1000000)) MB of text, best of $RUNS"
printf "  %-28s %8s s %8s MB/s\n" direct "$d" "$(mbps "$d")" \
  "portcullis, no mask rules" "$c" "$(mbps "$c")" "portcullis, 2 column rules" "$m" "$(mbps "$m")"
awk -v c="$c" -v m="$m" -v d="$d" 'BEGIN { printf "  masked/unmasked throughput %.3f, masked/direct %.3f\n", c / m, d / m }'

cat > "$work/point.sql" <<SQL
\set id random(1, $ROWS)
SELECT * FROM mask_bench.customers WHERE id = :id;
SQL
# Alternating short runs (the machine's load drifts), median of each side,
# and the gateway's own CPU per transaction from /proc (stable where TPS on a
# shared 2-core machine is not).
GW_PID=${pids[0]}
ticks() { awk '{ print $14 + $15 }' "/proc/$GW_PID/stat"; }
hz=$(getconf CLK_TCK)
bench_run() {  # prints "tps cpu_us_per_tx"
  local before after out
  before=$(ticks)
  out=$(pgbench "$1" -n -c 8 -j 2 -T "$DURATION" -f "$work/point.sql" 2>/dev/null)
  after=$(ticks)
  echo "$out" | awk -v t=$((after - before)) -v hz="$hz" '
    /^number of transactions actually processed/ { n = $NF; sub(/\/.*/, "", n) }
    /^tps/ { tps = $3 }
    END { printf "%s %.2f\n", tps, t * 1e6 / hz / n }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: > "$work/clear.txt"; : > "$work/masked.txt"
for _ in $(seq 1 "$RUNS"); do
  bench_run "$(via clear)" >> "$work/clear.txt"
  bench_run "$(via masked)" >> "$work/masked.txt"
done
pc=$(cut -d' ' -f1 "$work/clear.txt" | median); pm=$(cut -d' ' -f1 "$work/masked.txt" | median)
cc=$(cut -d' ' -f2 "$work/clear.txt" | median); cm=$(cut -d' ' -f2 "$work/masked.txt" | median)
echo "pgbench point SELECT of a whole row, 8 clients, $RUNS alternating runs of ${DURATION}s (medians)"
printf "  %-28s %10s tps %8s gateway CPU us/tx\n" "portcullis, no mask rules" "$pc" "$cc" "portcullis, 2 column rules" "$pm" "$cm"
awk -v c="$pc" -v m="$pm" -v cc="$cc" -v cm="$cm" 'BEGIN { printf "  masked/unmasked TPS %.3f; gateway CPU per transaction +%.1f%%\n", m / c, (cm / cc - 1) * 100 }'
