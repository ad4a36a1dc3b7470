#!/usr/bin/env bash
# Claims that bind (issue 26, SPEC §19), measured: a ~100 000-event ledger with a
# witness on loopback; `report bundle` (publish: compute, append report_published,
# sign, witness, zip), `bundle verify` by the binary and by tools/verify_bundle.py, RUNS
# times each (wall seconds, median); then two zip bombs of ~2 GiB — one that declares its
# size, one that lies about it — and the peak memory `bundle verify` and the Python tool
# reach refusing them (/usr/bin/time -v). Prints lines for BENCHMARKS.md. Not CI.
#   bash benches/bundle/run.sh [FAMILIES] (default 12 000 ≈ 100 000 events)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/target/release/caseledger
families=${1:-12000}
runs=${RUNS:-5}
work=$(mktemp -d)
trap 'kill $wpid 2>/dev/null || true; rm -rf "$work"' EXIT
l="$work/ledger"
"$bin" --ledger "$l" init >/dev/null
"$bin" gen --families "$families" --from 2019 --to 2022 --seed 11 | "$bin" --ledger "$l" append >/dev/null
vkey=$("$bin" --ledger "$l" key init --origin bench.example/ledger)
wkey=$("$bin" witness init --dir "$work/w" --name bench.example/witness)
"$bin" witness serve --dir "$work/w" --addr 127.0.0.1:0 --log "$vkey" >"$work/w.out" 2>/dev/null &
wpid=$!
for _ in $(seq 50); do grep -q listening "$work/w.out" 2>/dev/null && break; sleep 0.1; done
printf 'witness bench.example/witness %s http://%s\nquorum 1\n' "$wkey" "$(sed -n 's/^listening on //p' "$work/w.out")" >"$l/witnesses"
events=$("$bin" --ledger "$l" verify --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
echo "ledger: $events events, one witness on loopback, $runs runs each"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
for i in $(seq "$runs"); do timed "$bin" --ledger "$l" report bundle --year 2021 --out "$work/b$i.zip"; done | median >"$work/t.publish"
for i in $(seq "$runs"); do timed "$bin" bundle verify "$work/b1.zip" --key "$vkey"; done | median >"$work/t.verify"
for i in $(seq "$runs"); do timed python3 tools/verify_bundle.py "$work/b1.zip" --key "$vkey"; done | median >"$work/t.python"
"$bin" bundle verify "$work/b$runs.zip" --key "$vkey" >/dev/null
python3 tools/verify_bundle.py "$work/b$runs.zip" --key "$vkey" >/dev/null 2>&1
printf 'report bundle (publish, %s events): %.2f s median\n' "$events" "$(cat "$work/t.publish")"
printf 'bundle verify (binary, figures re-derived): %.2f s median\n' "$(cat "$work/t.verify")"
printf 'tools/verify_bundle.py: %.2f s median; bundle %s bytes\n' "$(cat "$work/t.python")" "$(stat -c %s "$work/b1.zip")"

# Two bombs from the genuine bundle: lineage.json grown by 1 920 MiB of spaces (deflated to a
# few MB); then the same with its declared sizes patched down to what it had.
python3 - "$work/b1.zip" "$work/bomb.zip" "$work/liar.zip" <<'PY'
import struct, sys, zipfile
src, bomb, liar = sys.argv[1:]
with zipfile.ZipFile(src) as z, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
    for info in z.infolist():
        data = z.read(info)
        if info.filename != "lineage.json":
            out.writestr(info.filename, data)
            continue
        info = zipfile.ZipInfo("lineage.json")
        info.compress_type = zipfile.ZIP_DEFLATED
        with out.open(info, "w", force_zip64=False) as f:
            block = b" " * (1 << 24)
            for _ in range(120):  # 1 920 MiB and the lineage: under what a zip holds without ZIP64
                f.write(block)
            f.write(data)
raw = bytearray(open(bomb, "rb").read())
at = raw.find(b"PK\x01\x02")
while at >= 0:
    n = struct.unpack("<H", raw[at + 28:at + 30])[0]
    if raw[at + 46:at + 46 + n] == b"lineage.json":
        local = struct.unpack("<I", raw[at + 42:at + 46])[0]
        raw[at + 24:at + 28] = struct.pack("<I", 1000)
        raw[local + 22:local + 26] = struct.pack("<I", 1000)
    at = raw.find(b"PK\x01\x02", at + 4)
open(liar, "wb").write(raw)
PY
peak() { # command…: exit code, then peak RSS in MiB
  /usr/bin/time -v "$@" >/dev/null 2>"$work/time" && rc=0 || rc=$?
  echo "exit $rc, peak $(awk -F: '/Maximum resident/ {printf "%.0f", $2/1024}' "$work/time") MiB"
}
echo "bomb: $(stat -c %s "$work/bomb.zip") bytes, lineage.json unpacks to 1 920 MiB and declares it"
echo "  bundle verify: $(peak "$bin" bundle verify "$work/bomb.zip" --key "$vkey")"
echo "  verify_bundle.py: $(peak python3 tools/verify_bundle.py "$work/bomb.zip" --key "$vkey")"
echo "  bundle verify --max-bytes 4 GiB (unpacked, then refused as edited): $(peak "$bin" bundle verify "$work/bomb.zip" --key "$vkey" --max-bytes 4294967296)"
echo "liar: the same bytes, lineage.json declaring 1000 bytes"
echo "  bundle verify: $(peak "$bin" bundle verify "$work/liar.zip" --key "$vkey")"
echo "  verify_bundle.py: $(peak python3 tools/verify_bundle.py "$work/liar.zip" --key "$vkey")"
