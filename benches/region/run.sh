#!/usr/bin/env bash
# A region's scale (issue 20): ORGS organisations (default 100) of ~10 000 generated
# events each — ledger, signing key, 2021 bundle — then `caseledger aggregate` over all
# bundles with --facts, then DuckDB over the partitioned facts for the region's P1 per
# organisation, beside caseledger's own figures. Prints timings for BENCHMARKS.md.
# Needs: target/release/caseledger, python3 with duckdb. Not CI. Then, for Spark:
#   python3 docs/sql/spark.py WORK/facts WORK/region.json
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/target/release/caseledger
orgs=${ORGS:-100}
work=$(mktemp -d)
# KEEP=1 leaves the bundles, region.json and facts/ in the work dir (for docs/sql/spark.py).
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
echo "work dir $work, $orgs organisations"
t0=$(now)
bundles=()
for i in $(seq 1 "$orgs"); do
  d="$work/org$i"
  "$bin" --ledger "$d" init >/dev/null
  "$bin" gen --families 1300 --from 2020 --to 2021 --seed "$i" | "$bin" --ledger "$d" append >/dev/null
  "$bin" --ledger "$d" key init --origin "ngo$i.region.example/ledger" >/dev/null
  "$bin" --ledger "$d" report bundle --year 2021 --out "$work/org$i.zip" >/dev/null
  bundles+=("$work/org$i.zip")
done
t1=$(now)
events=$(for i in $(seq 1 "$orgs"); do "$bin" --ledger "$work/org$i" verify --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])'; done | awk '{s+=$1} END {print s}')
bytes=$(du -cb "${bundles[@]}" | tail -1 | cut -f1)
t2=$(now)
"$bin" aggregate "${bundles[@]}" --out "$work/region.json" --facts "$work/facts" >/dev/null
t3=$(now)
"$bin" aggregate "${bundles[@]}" --out "$work/region2.json" >/dev/null
t4=$(now)
python3 - "$work" "$t0" "$t1" "$t2" "$t3" "$t4" "$orgs" "$events" "$bytes" <<'PY'
import json, sys, time
import duckdb
work, t0, t1, t2, t3, t4, orgs, events, size = sys.argv[1], *map(float, sys.argv[2:7]), int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
q = """
SELECT origin,
       COUNT(DISTINCT family) FILTER (WHERE closed_in_period AND outcome = 'stabilized') AS numerator,
       COUNT(DISTINCT family) FILTER (WHERE active_in_period) AS denominator
FROM read_parquet('{d}/facts/*/cases.parquet', hive_partitioning = true)
GROUP BY origin ORDER BY origin"""
runs = []
for _ in range(5):
    con = duckdb.connect()
    s = time.perf_counter()
    rows = con.execute(q.format(d=work)).fetchall()
    runs.append(time.perf_counter() - s)
runs.sort()
agg = json.load(open(f"{work}/region.json"))
p1 = next(t for t in agg["indicators"] if t["id"] == "P1")
ours = {o["origin"]: (o["numerator"], o["denominator"]) for o in p1["organisations"]}
theirs = {o: (n, d) for o, n, d in rows}
assert ours == theirs, "DuckDB's P1 per organisation differs from aggregate's"
tn = sum(n for n, _ in theirs.values()); td = sum(d for _, d in theirs.values())
assert (tn, td) == (p1["total"]["numerator"], p1["total"]["denominator"])
print(f"| organisations | {orgs} (events {events:,}, {events // orgs:,} each; bundles {size / 1e6:.1f} MB) |")
print(f"| make ledgers and bundles (gen, append, key, report bundle) | {t1 - t0:.1f} s ({(t1 - t0) / orgs:.2f} s per organisation) |")
print(f"| `aggregate` of all bundles, verified, with `--facts` | {t3 - t2:.1f} s ({(t3 - t2) / orgs:.3f} s per organisation) |")
print(f"| `aggregate` without `--facts` | {t4 - t3:.1f} s ({(t4 - t3) / orgs:.3f} s per organisation) |")
print(f"| DuckDB {duckdb.__version__}: the region's P1 per organisation over the partitioned facts | p50 {runs[2] * 1000:.0f} ms (min {runs[0] * 1000:.0f}, max {runs[-1] * 1000:.0f}; 5 runs) |")
print(f"| P1 of the region, both ways | {tn} of {td} (DuckDB per organisation = aggregate per organisation) |")
PY
