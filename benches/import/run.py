#!/usr/bin/env python3
"""Table import at a practice's scale (issue 27 targets), measured, not asserted:
(1) `import-table contracts` of 50 000 rows into an empty ledger, as CSV and as the
XLSX `table contracts` writes of them — wall time and peak resident memory
(/usr/bin/time); (2) the `/import` preview of a 10 000-row table through the web page a
curator uses (the request's time, the service warm). Prints lines for BENCHMARKS.md.
Not CI.

    python3 benches/import/run.py [target/release/caseledger] [runs]
"""
import http.cookiejar, os, random, re, shutil, subprocess, sys, tempfile, time, urllib.request  # noqa: E401
from datetime import date, timedelta

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/caseledger")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
work = tempfile.mkdtemp(prefix="caseledger-import-bench-")
OUTCOMES = ["ТЖС стабилизирована", "договор расторгнут семьёй", "договор расторгнут НКО", "передан в др. организацию"]


def journal(path, rows):
    rng = random.Random(27)
    with open(path, "w", encoding="utf-8") as f:
        f.write("Журнал регистрации договоров\n\n№;№ дела;№ договора;шифр семьи;отдел;куратор;дата заключения;дата закрытия;итог\n")
        for i in range(rows):
            program = rng.choice(["МР", "КЦ", "ДД"])
            opened = date(2015, 1, 1) + timedelta(days=rng.randrange(3000))
            closed = opened + timedelta(days=30 + rng.randrange(400)) if rng.random() < 0.8 else None
            f.write(f"{i + 1};{i + 1}/{opened.year}_{program};Д-{i + 1};Ф-{i + 1};{program};К-{rng.randrange(40):02d};"
                    f"{opened:%d.%m.%Y};{closed.strftime('%d.%m.%Y') if closed else ''};{rng.choice(OUTCOMES) if closed else ''}\n")


def timed(*args):
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    secs, kib = out.stderr.strip().splitlines()[-1].split()
    return float(secs), int(kib) / 1024, out.stdout


def import_runs(file, label):
    times, peaks = [], []
    for run in range(RUNS):
        ledger = os.path.join(work, f"l-{label}-{run}")
        subprocess.run([BIN, "--ledger", ledger, "init"], check=True, capture_output=True)
        secs, mib, out = timed(BIN, "--ledger", ledger, "import-table", "contracts", file)
        times.append(secs)
        peaks.append(mib)
        summary = out.splitlines()[0]
        if run < RUNS - 1:
            shutil.rmtree(ledger)
    times.sort()
    print(f"| import-table contracts, 50 000 rows ({label}) | p50 {times[len(times) // 2]:.2f} s (min {times[0]:.2f}, max {times[-1]:.2f}; {RUNS} runs) | {max(peaks):.0f} MiB | {summary[:90]}… |")
    return ledger


class Session:
    def __init__(self, base, user, password):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.opener.open(base + "/login").read().decode()
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
        body = urllib.parse.urlencode({"username": user, "password": password, "csrf": csrf, "next": "/cases"}).encode()
        self.opener.open(urllib.request.Request(base + "/login", data=body))

    def upload(self, path, token, data):
        req = urllib.request.Request(self.base + path, data=data, headers={"X-CSRF-Token": token, "Content-Type": "application/octet-stream"})
        return self.opener.open(req, timeout=600).read().decode()


csv50 = os.path.join(work, "journal-50000.csv")
journal(csv50, 50_000)
print("| what | time | peak memory | result |")
print("|---|---|---|---|")
full = import_runs(csv50, "CSV")
xlsx50 = os.path.join(work, "journal-50000.xlsx")
subprocess.run([BIN, "--ledger", full, "table", "contracts", "--from", "2015-01-01", "--to", "2030-12-31", "--out", xlsx50], check=True, capture_output=True)
import_runs(xlsx50, "XLSX")

# The /import preview of 10 000 rows, CSV and XLSX.
csv10 = os.path.join(work, "journal-10000.csv")
journal(csv10, 10_000)
source = os.path.join(work, "source-10000")
subprocess.run([BIN, "--ledger", source, "init"], check=True, capture_output=True)
subprocess.run([BIN, "--ledger", source, "import-table", "contracts", csv10], check=True, capture_output=True)
xlsx10 = os.path.join(work, "journal-10000.xlsx")
subprocess.run([BIN, "--ledger", source, "table", "contracts", "--from", "2015-01-01", "--to", "2030-12-31", "--out", xlsx10], check=True, capture_output=True)
ledger = os.path.join(work, "served")
subprocess.run([BIN, "--ledger", ledger, "init"], check=True, capture_output=True)
subprocess.run([BIN, "--ledger", ledger, "user", "add", "К-01", "--role", "recorder"], input=b"parol-kuratora-01\n", check=True, capture_output=True)
server = subprocess.Popen([BIN, "--ledger", ledger, "serve", "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "CASELEDGER_LOG": "error"})
base = "http://" + server.stdout.readline().decode().split()[-1]
try:
    time.sleep(0.5)
    curator = Session(base, "К-01", "parol-kuratora-01")
    token = re.search(r'data-csrf="([0-9a-f]{64})"', curator.opener.open(base + "/import").read().decode()).group(1)
    for label, path in (("CSV", csv10), ("XLSX", xlsx10)):
        data, times = open(path, "rb").read(), []
        for _ in range(RUNS):
            started = time.time()
            answer = curator.upload(f"/import/preview?name=contracts&file=j.{label.lower()}", token, data)
            times.append(time.time() - started)
        assert "будет добавлено" in answer, answer[:2000]
        times.sort()
        said = re.sub(r"<[^>]+>", " ", answer).split("Лист")[1].split("ничего не записано")[0]
        print(f"| /import preview, 10 000 rows ({label}, {len(data) / 1e6:.1f} MB) | p50 {times[len(times) // 2]:.2f} s (min {times[0]:.2f}, max {times[-1]:.2f}; {RUNS} runs) | — | Лист{said[:80]}… |")
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(work)
