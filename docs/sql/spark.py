#!/usr/bin/env python3
"""docs/sql/ in Spark (issue 20, item 4): the dataset `caseledger aggregate … --facts DIR`
writes, read with spark.read.parquet, and every default definition's SQL run per
organisation, compared with the figures `aggregate --out region.json` gave.

    python3 docs/sql/spark.py DIR region.json [ORGS]

Runs Spark in local mode (pip install pyspark; Java 17). Not part of CI; the result is in
BENCHMARKS.md. Differences from DuckDB: Spark reads "case" as a string literal unless
ANSI mode with double-quoted identifiers is on, which this script turns on (the SQL
files then run unchanged)."""

import json
import pathlib
import sys
import time
from decimal import Decimal

from pyspark.sql import SparkSession

facts, region = pathlib.Path(sys.argv[1]), json.loads(pathlib.Path(sys.argv[2]).read_text())
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 5
sql = pathlib.Path(__file__).resolve().parent

t0 = time.perf_counter()
spark = (
    SparkSession.builder.master("local[2]")
    .appName("caseledger-region")
    .config("spark.sql.ansi.enabled", "true")
    .config("spark.sql.ansi.doubleQuotedIdentifiers", "true")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.ui.enabled", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
t1 = time.perf_counter()

# The region's P1 per organisation over the whole partitioned dataset.
for table in ["cases", "children", "signals", "expenses"]:
    df = spark.read.option("basePath", str(facts)).parquet(*[str(p / f"{table}.parquet") for p in sorted(facts.glob("origin=*"))])
    df.createOrReplaceTempView(f"all_{table}")
runs = []
for _ in range(3):
    s = time.perf_counter()
    rows = spark.sql(
        """SELECT origin,
                  COUNT(DISTINCT family) FILTER (WHERE closed_in_period AND outcome = 'stabilized') AS numerator,
                  COUNT(DISTINCT family) FILTER (WHERE active_in_period) AS denominator
           FROM all_cases GROUP BY origin ORDER BY origin"""
    ).collect()
    runs.append(time.perf_counter() - s)
p1 = next(t for t in region["indicators"] if t["id"] == "P1")
ours = {o["origin"]: (o["numerator"], o["denominator"]) for o in p1["organisations"]}
theirs = {r["origin"]: (r["numerator"], r["denominator"]) for r in rows}
assert ours == theirs, f"Spark's P1 per organisation differs: {set(ours.items()) ^ set(theirs.items())}"

# Every docs/sql file, unchanged, for the first organisations.
compared, s = 0, time.perf_counter()
by_id = {t["id"]: {o["origin"]: o for o in t["organisations"]} for t in region["indicators"]}
for origin in sorted(ours)[:limit]:
    for table in ["cases", "children", "signals", "expenses"]:
        spark.sql(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM all_{table} WHERE origin = '{origin}'")
    for f in sorted(sql.glob("*.sql")):
        num, den = spark.sql(f.read_text().strip().rstrip(";")).collect()[0]
        want = by_id[f.stem][origin]
        got = (Decimal(str(num)), None if den is None else Decimal(str(den)))
        exp = (Decimal(str(want["numerator"])), None if "denominator" not in want else Decimal(str(want["denominator"])))
        assert got == exp, f"{origin} {f.stem}: Spark {got}, aggregate {exp}"
        compared += 1
t2 = time.perf_counter()
runs.sort()
print(f"| Spark {spark.version} local[2]: start | {t1 - t0:.1f} s |")
print(f"| Spark: the region's P1 per organisation over the partitioned facts ({len(rows)} organisations) | p50 {runs[1]:.2f} s (min {runs[0]:.2f}, max {runs[-1]:.2f}; 3 runs) |")
print(f"| Spark: docs/sql unchanged, {compared} figures of {min(limit, len(ours))} organisations | {t2 - s:.1f} s, all equal to `aggregate` |")
spark.stop()
