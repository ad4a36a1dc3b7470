#!/usr/bin/env bash
# Durable appends per second through `caseledger serve` with 1, 8 and 64 concurrent
# clients (wrk, one single-event request at a time per connection), p50/p99 latency.
# Every 200 is an append that was flushed and fsynced before the answer.
#   bash benches/serve/run.sh [SECONDS]        (needs wrk: apt-get install wrk)
#   CASELEDGER_BIN=/path/to/caseledger bash benches/serve/run.sh 10   (another build)
#   CLIENTS="64" bash benches/serve/run.sh 10                          (some client counts only)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-15}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
# CASELEDGER_BIN runs another build (an earlier commit's, for before/after pairs).
bin=${CASELEDGER_BIN:-target/release/caseledger}
[ -n "${CASELEDGER_BIN:-}" ] || cargo build --release --quiet
work=$(mktemp -d target/bench-serve.XXXX)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
$bin --ledger "$work/l" init >/dev/null
export TOKEN=$($bin --ledger "$work/l" token add bench-1 --role recorder)
CASELEDGER_LOG=info $bin --ledger "$work/l" serve --addr 127.0.0.1:0 >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$work/out")
echo "| clients | durable appends/s | p50 | p99 | max | requests | non-2xx |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
total=0
for c in ${CLIENTS:-1 8 64}; do
  t=$(( c < 2 ? 1 : 2 ))
  out=$(RUN="c$c" wrk -t$t -c$c -d${secs}s --latency -s benches/serve/append.lua "http://$addr" 2>&1)
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  max=$(awk '$1=="Latency" {print $4}' <<<"$out")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out"); bad=${bad:-0}
  total=$(( total + n - bad ))
  echo "| $c | ${rps%.*} | $p50 | $p99 | $max | $n | $bad |"
done
kill -TERM $pid; wait $pid
seq=$($bin --ledger "$work/l" verify --json | sed -n 's/.*"seq":\([0-9]*\).*/\1/p')
echo
echo "ledger after the runs: $seq events, chain verifies; 2xx answers counted by wrk: $total"
[ "$seq" -ge "$total" ] || { echo "FEWER EVENTS THAN ACKNOWLEDGED APPENDS" >&2; exit 1; }
