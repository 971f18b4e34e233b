#!/usr/bin/env bash
# What recording result rows costs: pgbench through Portcullis with
# `record = "full"` (request and response events with the masked result
# rows) against the same gateway with `record = "off"` (session open and
# close only), in one run.
#
#   bench/recording.sh
#   DURATION=30 CLIENTS=8 SCALE=10 ROUNDS=5 bench/recording.sh
#
# Runs pgbench select-only (-S) and the default TPC-B-like mix with CLIENTS
# clients, ROUNDS times each, alternating off and full (and which goes
# first) so drift on a shared machine hits both alike. Prints every run and,
# per mode, the median TPS of each level and the median of the per-round
# full/off ratios. Target: full within 10% of off.
set -euo pipefail
cd "$(dirname "$0")/.."

export PGSSLMODE=disable
DURATION=${DURATION:-15}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-8}
ROUNDS=${ROUNDS:-3}
DB=${DB:-pc_recbench}
GW_PORT=${GW_PORT:-25433}
work=$(mktemp -d /tmp/portcullis-recbench.XXXXXX)
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
pgbench -h 127.0.0.1 -U postgres -i -q -s "$SCALE" "$DB" >/dev/null 2>&1

{
  cat <<TOML
[store]
path = "$work/state.db"
[listen]
postgres = "127.0.0.1:$GW_PORT"
[[identity]]
name = "bench"
[[grant]]
identity = "bench"
connections = ["rec-full", "rec-off"]
TOML
  for level in full off; do
    cat <<TOML
[[connection]]
name = "rec-$level"
kind = "postgres"
address = "127.0.0.1:5432"
database = "$DB"
user = "postgres"
tls = "disable"
policy = "rec_$level"
[policy.rec_$level]
record = "$level"
TOML
  done
} > "$work/portcullis.toml"

PORTCULLIS_LOG=warn "$BIN" --config "$work/portcullis.toml" serve 2>"$work/gateway.log" &
pids+=($!)
TOKEN=$("$BIN" --config "$work/portcullis.toml" token create --identity bench 2>/dev/null)
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p "$GW_PORT" && break; sleep 0.1; done
pg_isready -q -h 127.0.0.1 -p "$GW_PORT" || { echo "the gateway did not start:" >&2; cat "$work/gateway.log" >&2; exit 1; }

# run DB MODE -> "tps avg_ms"
run() {
  local db=$1 mode=$2
  local flags=()
  [ "$mode" = select-only ] && flags+=(-S)
  local out
  out=$(PGPASSWORD=$TOKEN pgbench -h 127.0.0.1 -p "$GW_PORT" -U bench -n "${flags[@]}" \
        -c "$CLIENTS" -j 2 -T "$DURATION" "$db" 2>&1)
  echo "$(awk '/^tps = /{print $3}' <<<"$out") $(awk '/^latency average = /{print $4}' <<<"$out")"
}

median() { sort -g | awk '{a[NR]=$1} END{if(NR%2) print a[(NR+1)/2]; else printf "%.6f\n", (a[NR/2]+a[NR/2+1])/2}'; }

printf '# Portcullis recording overhead: %s s per run, scale %s, %s clients, %s rounds, %s, %s cores\n' \
  "$DURATION" "$SCALE" "$CLIENTS" "$ROUNDS" "$(date -u +%Y-%m-%d)" "$(nproc)"
printf '%-12s %-6s %-8s %10s %9s\n' mode round record tps avg_ms
summary=()
for mode in select-only tpcb; do
  offs=(); fulls=(); ratios=()
  for round in $(seq 1 "$ROUNDS"); do
    order="off full"; [ $((round % 2)) -eq 0 ] && order="full off"
    for level in $order; do
      read -r tps avg < <(run "rec-$level" "$mode")
      printf '%-12s %-6s %-8s %10.0f %9.3f\n' "$mode" "$round" "$level" "$tps" "$avg"
      if [ "$level" = off ]; then o=$tps; offs+=("$tps"); else f=$tps; fulls+=("$tps"); fi
    done
    ratios+=("$(echo "$f / $o" | bc -l)")
  done
  m_off=$(printf '%s\n' "${offs[@]}" | median)
  m_full=$(printf '%s\n' "${fulls[@]}" | median)
  m_ratio=$(printf '%s\n' "${ratios[@]}" | median)
  summary+=("$(printf '%-12s %10.0f %10.0f %15.3f' "$mode" "$m_off" "$m_full" "$m_ratio")")
done
printf '# medians\n%-12s %10s %10s %15s\n' mode off_tps full_tps full/off_ratio
printf '%s\n' "${summary[@]}"
events=$(sqlite3 "$work/state.db" "SELECT count(*) FROM events" 2>/dev/null || echo "?")
printf '# events recorded during the run (record = "full" only): %s\n' "$events"
