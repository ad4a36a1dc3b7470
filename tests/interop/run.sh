#!/usr/bin/env bash
# Go's own golang.org/x/mod/sumdb/note and …/sumdb/tlog (Debian: golang-go,
# golang-golang-x-mod-dev; no module download) check caseledger's checkpoint, proofs
# and tree on a ledger of a few thousand events, and refuse tampered ones.
#   bash tests/interop/run.sh [target/release/caseledger]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/caseledger}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tmp/gocache"
go build -o "$tmp/check" tests/interop/check.go

l="$tmp/ledger"
"$bin" --ledger "$l" init >/dev/null
"$bin" gen --families 400 --from 2021 --to 2022 --seed 7 --out "$tmp/gen.jsonl"
"$bin" --ledger "$l" append "$tmp/gen.jsonl" >/dev/null
vkey=$("$bin" --ledger "$l" key init --origin ledger.interop.example/go)
"$bin" --ledger "$l" checkpoint >"$tmp/checkpoint"
size=$(sed -n 2p "$tmp/checkpoint")
echo "ledger of $size events; vkey $vkey"
[ "$size" -ge 2000 ] || { echo "want a few thousand events, have $size"; exit 1; }
"$bin" --ledger "$l" proof inclusion $((size * 2 / 3)) --json >"$tmp/inc.json"
"$bin" --ledger "$l" proof consistency $((size / 3)) --json >"$tmp/con.json"
"$bin" --ledger "$l" export "$tmp/export.jsonl"
"$tmp/check" "$vkey" "$tmp/checkpoint" "$tmp/inc.json" "$tmp/con.json" "$tmp/export.jsonl"

refused() { # what, then the check's arguments: the check must fail
  local what=$1; shift
  if "$tmp/check" "$@" 2>"$tmp/why"; then echo "Go accepted $what"; exit 1; fi
  echo "refused, $what: $(cat "$tmp/why")"
}
python3 - "$tmp" <<'PY'
import base64, json, sys
t = sys.argv[1]
def flip(b64):
    raw = bytearray(base64.b64decode(b64)); raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()
cp = open(f"{t}/checkpoint").read().split("\n")
cp[2] = flip(cp[2])
open(f"{t}/checkpoint.root", "w").write("\n".join(cp))
for name in ("inc", "con"):
    p = json.load(open(f"{t}/{name}.json"))
    p["hashes"][len(p["hashes"]) // 2] = flip(p["hashes"][len(p["hashes"]) // 2])
    json.dump(p, open(f"{t}/{name}.bad.json", "w"))
inc = json.load(open(f"{t}/inc.json")); inc["index"] += 1
json.dump(inc, open(f"{t}/inc.index.json", "w"))
lines = open(f"{t}/export.jsonl").read().splitlines(True)
ev = json.loads(lines[10]); ev["hash"] = ("0" if ev["hash"][0] != "0" else "1") + ev["hash"][1:]
lines[10] = json.dumps(ev, ensure_ascii=False) + "\n"
open(f"{t}/export.bad.jsonl", "w").writelines(lines)
PY
other=$("$bin" --ledger "$tmp/other" init >/dev/null && "$bin" --ledger "$tmp/other" key init --origin ledger.interop.example/go)
refused "a checkpoint whose root was changed" "$vkey" "$tmp/checkpoint.root" "$tmp/inc.json" "$tmp/con.json" "$tmp/export.jsonl"
refused "a checkpoint checked with another key of the same name" "$other" "$tmp/checkpoint" "$tmp/inc.json" "$tmp/con.json" "$tmp/export.jsonl"
refused "an inclusion proof with a changed hash" "$vkey" "$tmp/checkpoint" "$tmp/inc.bad.json" "$tmp/con.json" "$tmp/export.jsonl"
refused "an inclusion proof for another event" "$vkey" "$tmp/checkpoint" "$tmp/inc.index.json" "$tmp/con.json" "$tmp/export.jsonl"
refused "a consistency proof with a changed hash" "$vkey" "$tmp/checkpoint" "$tmp/inc.json" "$tmp/con.bad.json" "$tmp/export.jsonl"
refused "an export with a changed event hash" "$vkey" "$tmp/checkpoint" "$tmp/inc.json" "$tmp/con.json" "$tmp/export.bad.jsonl"
# A report published (SPEC §19): the bundle's checkpoint covers the report_published
# event; Go checks that checkpoint, an inclusion proof of the publication in it, and
# that the checkpoint above is a prefix of it.
"$bin" --ledger "$l" report bundle --year 2021 --out "$tmp/bundle.zip" >/dev/null
python3 - "$tmp" <<'PY'
import json, sys, zipfile
t = sys.argv[1]
z = zipfile.ZipFile(f"{t}/bundle.zip")
report = json.loads(z.read("report.json"))
open(f"{t}/bundle.checkpoint", "w").write(report["checkpoint"])
events = z.read("events.jsonl")
open(f"{t}/bundle.events.jsonl", "wb").write(events)
m = [e for e in map(json.loads, events.splitlines()) if e["type"] == "report_published" and e["data"]["report"] == report["hash"]]
assert len(m) == 1, "one publication of the report"
open(f"{t}/publication", "w").write(f"{m[0]['seq']} {m[0]['hash']}\n")
PY
read -r m mhash <"$tmp/publication"
bsize=$(sed -n 2p "$tmp/bundle.checkpoint")
"$bin" --ledger "$l" proof inclusion "$m" --size "$bsize" --json >"$tmp/inc.m.json"
"$bin" --ledger "$l" proof consistency "$size" --size "$bsize" --json >"$tmp/con.m.json"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["leaf"] == sys.argv[2] and p["index"] == int(sys.argv[3]) - 1, p' \
  "$tmp/inc.m.json" "$mhash" "$m"
"$tmp/check" "$vkey" "$tmp/bundle.checkpoint" "$tmp/inc.m.json" "$tmp/con.m.json" "$tmp/bundle.events.jsonl"
echo "the publication (event $m) is in the bundle's checkpoint of size $bsize, which extends the one of size $size"
echo "Go's sumdb/note and sumdb/tlog: all checks as expected"
