#!/usr/bin/env python3
"""Memory bombs against `caseledger serve` (issue 28), measured: the service's peak
resident memory (VmHWM of /proc/PID/status) while it refuses, through the web pages a
curator and a methodist use, (1) an XLSX of ~2 MB whose one inline-string cell expands
to 2 GiB, uploaded to /import/preview three times at once; (2) the same with its
declared size patched down (it lies); (3) a bundle whose lineage.json expands to
~1.9 GiB, uploaded to /reports/verify. Prints lines for BENCHMARKS.md. Not CI.

    python3 benches/bombs/run.py [target/release/caseledger]
"""
import http.cookiejar, os, re, struct, subprocess, sys, tempfile, threading, time, urllib.request, zipfile  # noqa: E401

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/caseledger")
work = tempfile.mkdtemp(prefix="caseledger-bombs-")
ledger = os.path.join(work, "ledger")


def cl(*args, stdin=None):
    return subprocess.run([BIN, "--ledger", ledger, *args], input=stdin, capture_output=True, check=True).stdout


def xlsx_bomb(path, mib, declare=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>')
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=mib >= 2048) as f:
            f.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>')
            block = b"x" * (1 << 24)
            for _ in range(mib // 16):
                f.write(block)
            f.write(b"</t></is></c></row></sheetData></worksheet>")
    if declare is not None:
        raw = bytearray(open(path, "rb").read())
        at = raw.find(b"PK\x01\x02")
        while at >= 0:
            n = struct.unpack("<H", raw[at + 28:at + 30])[0]
            if raw[at + 46:at + 46 + n] == b"xl/worksheets/sheet1.xml":
                local = struct.unpack("<I", raw[at + 42:at + 46])[0]
                raw[at + 24:at + 28] = struct.pack("<I", declare)
                raw[local + 22:local + 26] = struct.pack("<I", declare)
            at = raw.find(b"PK\x01\x02", at + 4)
        open(path, "wb").write(raw)


class Session:
    def __init__(self, base, user, password):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.opener.open(base + "/login").read().decode()
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
        body = urllib.parse.urlencode({"username": user, "password": password, "csrf": csrf, "next": "/cases"}).encode()
        self.opener.open(urllib.request.Request(base + "/login", data=body))

    def csrf(self, path):
        page = self.opener.open(self.base + path).read().decode()
        return re.search(r'data-csrf="([0-9a-f]{64})"', page).group(1)

    def upload(self, path, token, data):
        req = urllib.request.Request(self.base + path, data=data, headers={"X-CSRF-Token": token, "Content-Type": "application/octet-stream"})
        return self.opener.open(req, timeout=600).read().decode()


def peak(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1


cl("init")
cl("user", "add", "К-01", "--role", "recorder", stdin=b"parol-kuratora-01\n")
cl("user", "add", "М-01", "--role", "analyst", stdin=b"parol-metodista-1\n")
genuine = os.path.join(work, "genuine.zip")
cl("key", "init")
cl("append", stdin='{"type":"expense_recorded","occurred_on":"2021-01-01","data":{"program":"КЦ","amount":"1"}}\n'.encode())
cl("report", "bundle", "--year", "2021", "--out", genuine)
server = subprocess.Popen([BIN, "--ledger", ledger, "serve", "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "CASELEDGER_LOG": "error"})
base = "http://" + server.stdout.readline().decode().split()[-1]
try:
    time.sleep(0.5)
    print(f"service at start: peak {peak(server.pid)} MiB")
    bomb, liar = os.path.join(work, "bomb.xlsx"), os.path.join(work, "liar.xlsx")
    xlsx_bomb(bomb, 2048)
    xlsx_bomb(liar, 1920, declare=1000)
    curator = Session(base, "К-01", "parol-kuratora-01")
    token = curator.csrf("/import")
    for name, path in (("2 GiB XLSX bomb, declared", bomb), ("1.9 GiB XLSX bomb, lying about its size", liar)):
        data = open(path, "rb").read()
        answers, started = [], time.time()
        threads = [threading.Thread(target=lambda: answers.append(curator.upload("/import/preview?name=contracts&file=b.xlsx", token, data))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        refused = sum("Файл «b.xlsx»" in a and ("распаковывается" in a or "повреждена" in a) for a in answers)
        why = re.sub(r"<[^>]+>", " ", answers[0]).split("Файл «b.xlsx»")[-1].strip()[:110]
        print(f"{name} ({len(data) / 1e6:.1f} MB), three uploads at once: {refused} of 3 refused in {time.time() - started:.1f} s («{why}»); service peak so far {peak(server.pid)} MiB")
    # A bundle bomb through /reports/verify (a methodist).
    out = os.path.join(work, "bundle-bomb.zip")
    with zipfile.ZipFile(genuine) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as o:
        for info in z.infolist():
            if info.filename != "lineage.json":
                o.writestr(info.filename, z.read(info))
                continue
            i = zipfile.ZipInfo("lineage.json")
            i.compress_type = zipfile.ZIP_DEFLATED
            with o.open(i, "w", force_zip64=False) as f:
                for _ in range(120):
                    f.write(b" " * (1 << 24))
                f.write(z.read(info))
    methodist = Session(base, "М-01", "parol-metodista-1")
    answer = methodist.upload("/reports/verify", methodist.csrf("/reports"), open(out, "rb").read())
    print(f"bundle bomb ({os.path.getsize(out) / 1e6:.1f} MB, 1.9 GiB unpacked) on /reports/verify: {'refused' if 'больше чем в 256 МиБ' in answer else 'NOT refused'}; service peak {peak(server.pid)} MiB")
finally:
    server.terminate()
    server.wait()
