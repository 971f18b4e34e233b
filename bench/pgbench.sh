#!/usr/bin/env bash
# Throughput and latency of PostgreSQL through Portcullis, against the same
# pgbench run direct and (if installed) through pgbouncer, in one run.
#
#   bench/pgbench.sh                 # 15 s per measurement
#   DURATION=30 SCALE=10 bench/pgbench.sh
#
# Measures pgbench select-only (-S) and the default TPC-B-like mix with 1
# and 8 clients, for: direct, pgbouncer (session pooling), Portcullis with
# the allow-all policy, and Portcullis with the `production` policy
# (guardrails on). Every Portcullis run records every statement.
# Prints TPS, average and p99 latency, and ratios against direct and pgbouncer.
set -euo pipefail
cd "$(dirname "$0")/.."

export PGSSLMODE=disable  # every path in plaintext, as pgbouncer runs here
DURATION=${DURATION:-15}
SCALE=${SCALE:-10}
DB=pc_bench
GW_PORT=${GW_PORT:-25432}
BOUNCER_PORT=${BOUNCER_PORT:-26432}
work=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

./scripts/setup
cargo build --release -q -p portcullis
BIN=${CARGO_TARGET_DIR:-target}/release/portcullis

psql -h 127.0.0.1 -U postgres -d postgres -Atq -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -q -c "CREATE DATABASE $DB"
pgbench -h 127.0.0.1 -U postgres -i -q -s "$SCALE" "$DB" >/dev/null 2>&1

cat > "$work/portcullis.toml" <<TOML
[store]
path = "$work/state.db"
[listen]
postgres = "127.0.0.1:$GW_PORT"
[[connection]]
name = "bench"
kind = "postgres"
address = "127.0.0.1:5432"
database = "$DB"
user = "postgres"
tls = "disable"
policy = "allow-all"
[[connection]]
name = "bench-prod"
kind = "postgres"
address = "127.0.0.1:5432"
database = "$DB"
user = "postgres"
tls = "disable"
policy = "production"
[[identity]]
name = "bench"
[[grant]]
identity = "bench"
connections = ["bench", "bench-prod"]
TOML
PORTCULLIS_LOG=warn "$BIN" --config "$work/portcullis.toml" serve 2>"$work/gateway.log" &
pids+=($!)
TOKEN=$("$BIN" --config "$work/portcullis.toml" token create --identity bench 2>/dev/null)
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p "$GW_PORT" && break; sleep 0.1; done
pg_isready -q -h 127.0.0.1 -p "$GW_PORT" || { echo "the gateway did not start:" >&2; cat "$work/gateway.log" >&2; exit 1; }

have_bouncer=0
if command -v pgbouncer >/dev/null 2>&1; then
  cat > "$work/pgbouncer.ini" <<INI
[databases]
$DB = host=127.0.0.1 port=5432 dbname=$DB user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
auth_type = trust
auth_file = $work/users.txt
pool_mode = session
max_client_conn = 100
default_pool_size = 20
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
  echo '"postgres" ""' > "$work/users.txt"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$work" "$work"/*
    pgbouncer -d -u postgres "$work/pgbouncer.ini" >/dev/null 2>&1 || true
  else
    pgbouncer -d "$work/pgbouncer.ini" >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p "$BOUNCER_PORT" && { have_bouncer=1; break; }; sleep 0.1; done
fi

# run NAME PORT USER DB PASSWORD MODE CLIENTS -> "tps avg_ms p99_ms"
run() {
  local name=$1 port=$2 user=$3 db=$4 pw=$5 mode=$6 clients=$7
  local jobs=$(( clients < 2 ? clients : 2 ))
  local flags=()
  [ "$mode" = select-only ] && flags+=(-S)
  rm -f "$work"/lat.*
  local out
  out=$(cd "$work" && PGPASSWORD=$pw pgbench -h 127.0.0.1 -p "$port" -U "$user" -n "${flags[@]}" \
        -c "$clients" -j "$jobs" -T "$DURATION" -l --log-prefix=lat "$db" 2>&1)
  local tps avg p99
  tps=$(awk '/^tps = /{print $3}' <<<"$out")
  avg=$(awk '/^latency average = /{print $4}' <<<"$out")
  p99=$(cat "$work"/lat.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END{i=int(NR*0.99); if(i<1)i=1; printf "%.3f", a[i]/1000}')
  echo "$tps $avg $p99"
}

printf '# Portcullis pgbench: %s s per run, scale %s, %s, %s cores\n' "$DURATION" "$SCALE" "$(date -u +%Y-%m-%d)" "$(nproc)"
printf '%-12s %-7s %-22s %10s %9s %9s %9s %11s\n' mode clients target tps avg_ms p99_ms vs_direct vs_pgbouncer
for mode in select-only tpcb; do
  for clients in 1 8; do
    read -r d_tps d_avg d_p99 < <(run direct 5432 postgres "$DB" "" "$mode" "$clients")
    printf '%-12s %-7s %-22s %10.0f %9.3f %9.3f %9s %11s\n' "$mode" "$clients" direct "$d_tps" "$d_avg" "$d_p99" 1.00 -
    b_tps=""
    if [ "$have_bouncer" = 1 ]; then
      read -r b_tps b_avg b_p99 < <(run pgbouncer "$BOUNCER_PORT" postgres "$DB" "" "$mode" "$clients")
      printf '%-12s %-7s %-22s %10.0f %9.3f %9.3f %9.2f %11s\n' "$mode" "$clients" pgbouncer "$b_tps" "$b_avg" "$b_p99" \
        "$(echo "$b_tps / $d_tps" | bc -l)" 1.00
    fi
    for target in bench bench-prod; do
      label="portcullis"; [ "$target" = bench-prod ] && label="portcullis+production"
      read -r g_tps g_avg g_p99 < <(run "$label" "$GW_PORT" bench "$target" "$TOKEN" "$mode" "$clients")
      vb="-"; [ -n "$b_tps" ] && vb=$(printf '%.2f' "$(echo "$g_tps / $b_tps" | bc -l)")
      printf '%-12s %-7s %-22s %10.0f %9.3f %9.3f %9.2f %11s\n' "$mode" "$clients" "$label" "$g_tps" "$g_avg" "$g_p99" \
        "$(echo "$g_tps / $d_tps" | bc -l)" "$vb"
    done
  done
done
printf '# added latency at 1 client = portcullis avg_ms - direct avg_ms\n'
