#!/usr/bin/env python3
"""docs/sql/ checked in DuckDB (issue 20): for several cuts of generated histories and
of the seed replays, every default definition's SQL, run by DuckDB over the Parquet
files of `caseledger facts`, must give the numerator and denominator that
`caseledger indicators --json` gives. Usage: check_duckdb.py path/to/caseledger
Exits 1 naming every difference."""

import json
import pathlib
import subprocess
import sys
import tempfile
from decimal import Decimal

import duckdb

ROOT = pathlib.Path(__file__).resolve().parents[2]
SQL = ROOT / "docs" / "sql"
BIN = sys.argv[1]


def run(*args, stdin=None):
    r = subprocess.run([BIN, *args], input=stdin, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"caseledger {' '.join(args)}: exit {r.returncode}: {r.stderr.decode()}")
    return r.stdout


def number(v):
    return None if v is None else Decimal(str(v))


def check(ledger, cut, tmp):
    out = tmp / ("facts-" + "-".join(a.strip("-") for a in cut))
    run("--ledger", ledger, "facts", *cut, "--out", str(out))
    ours = json.loads(run("--ledger", ledger, "--json", "indicators", *cut))["indicators"]
    con = duckdb.connect()
    for table in ["cases", "children", "signals", "expenses"]:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{out / (table + '.parquet')}')")
    bad, compared, nonzero = [], 0, 0
    for fig in ours:
        sql = (SQL / f"{fig['id']}.sql").read_text()
        num, den = con.execute(sql).fetchone()
        want = (number(fig.get("numerator")), number(fig.get("denominator")))
        got = (number(num), number(den))
        compared += 1
        nonzero += bool(got[0])
        if want != got:
            bad.append(f"{ledger} {' '.join(cut)} {fig['id']}: indicators {want}, DuckDB {got}")
    return compared, nonzero, bad


def main(tmp):
    defs = [d["id"] for d in json.loads((ROOT / "indicators" / "default.json").read_text())]
    missing = [d for d in defs if not (SQL / f"{d}.sql").exists()]
    if missing:
        sys.exit(f"docs/sql has no query for {missing}")
    scenarios = []
    for seed, families, years in [("5", "400", ("2019", "2021")), ("8", "300", ("2020", "2022"))]:
        ledger = str(tmp / f"gen-{seed}")
        run("--ledger", ledger, "init")
        events = run("gen", "--families", families, "--from", years[0], "--to", years[1], "--seed", seed)
        run("--ledger", ledger, "append", stdin=events)
        mid = f"{years[0]}-01-01"
        scenarios.append((ledger, [
            ["--year", str(int(years[0]) + 1)],
            ["--year", years[1]],
            ["--quarter", f"{int(years[0]) + 1}Q2"],
            ["--from", mid, "--to", f"{years[1]}-12-31"],
            ["--year", years[1], "--known-at", f"{years[1]}-06-30"],
        ]))
    for replay, cuts in [
        ("mama-ryadom-2019-2020", [["--year", "2019"], ["--year", "2020"], ["--year", "2020", "--known-at", "2020-09-30"]]),
        ("seed004-cost", [["--year", "2019"], ["--year", "2020"]]),
        ("seed000-efo", [["--from", "2021-06-01", "--to", "2022-12-31"], ["--year", "2021"]]),
    ]:
        ledger = str(tmp / replay)
        run("--ledger", ledger, "init")
        run("--ledger", ledger, "append", str(ROOT / "replay" / replay / "events.jsonl"))
        scenarios.append((ledger, cuts))
    total, problems, nonzero = 0, [], 0
    for ledger, cuts in scenarios:
        for cut in cuts:
            n, nz, bad = check(ledger, cut, tmp)
            total += n
            nonzero += nz
            problems += bad
    if nonzero < total // 2:
        problems.append(f"only {nonzero} of {total} numerators are not zero: the cuts say too little")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"docs/sql in DuckDB {duckdb.__version__}: {total} figures ({nonzero} with a numerator above zero) over {sum(len(c) for _, c in scenarios)} cuts agree with `indicators --json`")


with tempfile.TemporaryDirectory(prefix="caseledger-sql-") as d:
    main(pathlib.Path(d))
