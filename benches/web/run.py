#!/usr/bin/env python3
"""Latency of the web workspace's pages on a big ledger (issue 15's targets).

    python3 benches/web/run.py LEDGER_DIR [REQUESTS] [figures]

LEDGER_DIR must hold a ledger (e.g. one bulk-appended from `caseledger gen`); the script
adds a user, serves it on 127.0.0.1, logs in like a browser, and times, one request at
a time: /cases pages of 50 rows (filters, sorts, pages), /cases/{case} of random cases,
and recorded forms (POST /events, each durable before its answer). With `figures`
(issue 18's targets) it times instead: /indicators cold (the first question of a cut),
repeated and with "changed since", the charts fragment, /explain/P1, and /audit pages of 100 rows (unfiltered, by actor, by type,
by recorded days). Prints p50, p95 and max in milliseconds. Uses only Python's standard library; the binary is
target/release/caseledger (or $CASELEDGER_BIN).
"""
import http.client, os, random, re, statistics, subprocess, sys, time, urllib.parse

ledger = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
bin_ = os.environ.get("CASELEDGER_BIN", "target/release/caseledger")
env = {k: v for k, v in os.environ.items() if k != "CASELEDGER_DIR"}
subprocess.run([bin_, "--ledger", ledger, "user", "remove", "bench-web"], capture_output=True, env=env)
subprocess.run([bin_, "--ledger", ledger, "user", "add", "bench-web", "--role", "admin"], input=b"bench-web-password\n", check=True, capture_output=True, env=env)
srv = subprocess.Popen([bin_, "--ledger", ledger, "serve", "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**env, "CASELEDGER_LOG": "warn"})
addr = srv.stdout.readline().decode().split()[-1]
host, port = addr.split(":")
conn = http.client.HTTPConnection(host, int(port), timeout=600)
cookie = ""

def req(method, path, body=None):
    global cookie
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Origin"] = f"http://{addr}"
    t = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read().decode()
    ms = (time.perf_counter() - t) * 1000
    sc = r.getheader("Set-Cookie")
    if sc:
        cookie = sc.split(";")[0]
    return r.status, data, ms, r.getheader("Location")

def csrf(html):
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)

try:
    _, page, _, _ = req("GET", "/login")
    status, _, ms, loc = req("POST", "/login", urllib.parse.urlencode({"username": "bench-web", "password": "bench-web-password", "csrf": csrf(page), "next": "/cases"}))
    assert status == 303, status
    status, page, first, _ = req("GET", "/cases")
    assert status == 200, status
    token = csrf(page)
    total = int(re.search(r"из ([\d\u202f ]+) случа", page).group(1).replace("\u202f", "").replace(" ", ""))
    print(f"ledger: {total} cases; first /cases after start (builds the list from the events): {first:.0f} ms")
    cases = re.findall(r'<td><a href="(/cases/[^"]+)">', page)
    pages = max(1, total // 50)
    def stats(name, times):
        times = sorted(times)
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"| {name} | {len(times)} | {statistics.median(times):.1f} | {p95:.1f} | {times[-1]:.1f} |")
    print("| request | n | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    if sys.argv[3:] == ["figures"]:
        def timed(path, k):
            out = []
            for _ in range(k):
                status, _, ms, _ = req("GET", path)
                assert status == 200, (path, status)
                out.append(ms)
            return out
        for year in (2019, 2020):
            stats(f"/indicators?year={year} (cold: first question of this cut)", timed(f"/indicators?year={year}", 1))
        stats("/indicators?year=2023 (repeated)", timed("/indicators?year=2023", n))
        stats("/indicators?year=2018&known_at=31.01.2019 (cold, a cut in the past)", timed("/indicators?year=2018&known_at=31.01.2019", 1))
        stats("/indicators?year=2022&since=31.01.2023 (cold: two cuts, 'changed since')", timed("/indicators?year=2022&since=31.01.2023", 1))
        stats("/indicators/charts?year=2021 (cold: ratios by quarter and ЕФО, as known now)", timed("/indicators/charts?year=2021", 1))
        stats("/indicators/charts?year=2021 (again)", timed("/indicators/charts?year=2021", 5))
        stats("/indicators/charts?year=2018&known_at=31.01.2019 (a cut in the past)", timed("/indicators/charts?year=2018&known_at=31.01.2019", 1))
        stats("/explain/P1?year=2023", timed("/explain/P1?year=2023", 5))
        stats("/audit (newest 100 events)", timed("/audit", n))
        stats("/audit?page=50 (events 5,001–5,100 from the newest)", timed("/audit?page=50", 5))
        stats("/audit?type=event_amended", timed("/audit?type=event_amended", 5))
        stats("/audit?from=01.06.2023&to=30.06.2023", timed("/audit?from=01.06.2023&to=30.06.2023", 5))
        stats("/audit?actor=К-07 (a user who recorded nothing here: the whole ledger scanned)", timed("/audit?actor=" + urllib.parse.quote("К-07"), 3))
        sys.exit(0)
    rng = random.Random(7)
    queries = [lambda: f"/cases?page={rng.randint(1, pages)}",
               lambda: f"/cases?status=open&page={rng.randint(1, max(1, pages // 3))}",
               lambda: f"/cases?sort=-opened&page={rng.randint(1, 20)}",
               lambda: "/cases?q=" + urllib.parse.quote(str(rng.randint(1, 999))),
               lambda: "/cases?idle_days=365&sort=last"]
    t_list = []
    for i in range(n):
        q = queries[i % len(queries)]()
        status, page, ms, _ = req("GET", q)
        assert status == 200, (q, status)
        t_list.append(ms)
        cases += re.findall(r'<td><a href="(/cases/[^"]+)">', page)[:3]
    stats("/cases (a page of 50 rows; filters, sorts, pages)", t_list)
    t_case = []
    for i in range(n):
        status, _, ms, _ = req("GET", rng.choice(cases))
        assert status == 200, status
        t_case.append(ms)
    stats("/cases/{case}", t_case)
    # Issue 31: what is due (all cases: an administrator's list, the longest) and a
    # curator's own open cases (the list a curator's /cases opens on).
    _, listing, _, _ = req("GET", "/cases")
    curators = sorted(set(re.findall(r'<option value="([^"]+)"', listing.split('id="curator"', 1)[-1].split("</select>", 1)[0])) - {""})
    t_due, t_mine = [], []
    for i in range(n):
        status, _, ms, _ = req("GET", "/due")
        assert status == 200, status
        t_due.append(ms)
        q = "/cases?status=open&curator=" + urllib.parse.quote(curators[i % len(curators)] if curators else "")
        status, _, ms, _ = req("GET", q)
        assert status == 200, (q, status)
        t_mine.append(ms)
    stats("/due (every case and signal: an administrator's list)", t_due)
    stats("/cases?status=open&curator=… (a curator's own open cases)", t_mine)
    t_post = []
    for i in range(n):
        body = urllib.parse.urlencode({"csrf": token, "type": "signal_received", "occurred_on": "01.03.2026", "signal": f"BENCH-{time.time_ns()}-{i}", "channel": "phone"})
        status, _, ms, loc = req("POST", "/events", body)
        assert status == 303, status
        t_post.append(ms)
    stats("POST /events (a recorded form, durable before the answer)", t_post)
    status, page, ms, _ = req("GET", "/cases")
    print(f"/cases after {n} new events (the list brought up to date from them): {ms:.0f} ms")
finally:
    srv.terminate()
    srv.wait()
