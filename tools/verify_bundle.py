#!/usr/bin/env python3
"""The funder's reference verifier of a caseledger bundle (SPEC §15, §19), written from
the specification alone, with no code of caseledger's:

    python3 verify_bundle.py FILE.zip [--key VKEY] [--policy FILE] [--defs FILE] [--max-bytes N]

It checks all `caseledger bundle verify` checks but what re-deriving the figures does
(their numbers, the definitions' grammar, the events' meaning). Exit 0 when the bundle
verifies, 3 naming the first failure (in Russian), 2 for usage.
Needs: pip install blake3 rfc8785 cryptography
"""
import argparse, base64, binascii, datetime, hashlib, json, os, re, struct, sys, zlib  # noqa: E401 (stdlib only)

import blake3
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MEMBERS = ("report.json", "events.jsonl", "lineage.json", "policy.txt", "README.md", "verify_bundle.py")
FILES = ("lineage.json", "README.md", "verify_bundle.py", "policy.txt")
STORED = {"seq", "id", "type", "occurred_on", "recorded_at", "actor", "data", "prev", "hash"}
REPORT = {"period", "known_at", "ledger", "created_at", "definitions", "figures", "checkpoint", "hash"}
MAX_SAFE, ZERO = 2**53 - 1, "0" * 64
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z", re.ASCII)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)
HEX = re.compile(r"[0-9a-f]{64}\Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


class Failure(Exception):
    pass


def refuse_if(cond, why):
    if cond:
        raise Failure(why)


def strict_json(data, what):
    """JSON as caseledger reads it: UTF-8, no member twice, integers only (within ±2^53-1),
    no lone surrogate, at most 128 levels deep."""
    def pairs(items):
        seen = {}
        for k, v in items:
            refuse_if(k in seen, f"{what}: поле «{k}» дважды")
            seen[k] = v
        return seen

    def refuse(s):
        raise Failure(f"{what}: число {s} — не целое или слишком большое")

    def integer(s):
        return int(s) if s != "-0" and abs(int(s)) <= MAX_SAFE else refuse(s)

    def walk(v, depth):
        refuse_if(depth > 128, f"{what}: вложенность глубже 128")
        if isinstance(v, str):
            v.encode()
        for x in [*v.keys(), *v.values()] if isinstance(v, dict) else v if isinstance(v, list) else ():
            walk(x, depth + 1)

    try:
        v = json.loads(data.removeprefix(b"\xef\xbb\xbf").decode("utf-8"), object_pairs_hook=pairs,
                       parse_float=refuse, parse_int=integer, parse_constant=refuse)
        walk(v, 0)
        return v
    except (ValueError, UnicodeError, RecursionError) as e:
        raise Failure(f"{what} не читается: {e}")


def b3(data):
    return blake3.blake3(data).hexdigest()


def sha256(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def stamp(s):  # YYYY-MM-DDTHH:MM:SSZ → seconds since the epoch, else None
    try:
        t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ") if STAMP.match(s) else None
        return int(t.replace(tzinfo=datetime.timezone.utc).timestamp()) if t else None
    except (ValueError, TypeError):
        return None


def is_date(s):  # YYYY-MM-DD, a day of the calendar
    return isinstance(s, str) and bool(DATE.match(s)) and stamp(s + "T00:00:00Z") is not None


def read_zip(path, max_bytes):
    """The six members, read as SPEC §19 says: the central directory and every local header
    agree field for field, entries lie back to back, nothing else is in the file."""
    refuse_if(os.path.getsize(path) > max_bytes + (1 << 20), f"файл больше {max_bytes >> 20} МиБ (больший предел — --max-bytes)")
    with open(path, "rb") as f: raw = f.read()  # noqa: E701
    end, c = len(raw) - 22, raw.rfind(b"PK\x05\x06", max(0, len(raw) - 22 - 65535), max(0, len(raw) - 18))
    if end < 0 or c != end:  # no end record at the end: after a comment, or none at all
        refuse_if(c >= 0 and c + 22 + struct.unpack("<H", raw[c + 20:c + 22])[0] == len(raw), "у архива есть комментарий: у пакета его не бывает")
        raise Failure("файл не читается как zip-архив пакета: нет оглавления архива в его конце")
    disk, cd_disk, here, total, cd_size, cd_offset, comment = struct.unpack("<HHHHIIH", raw[end + 4:end + 22])
    refuse_if(end >= 20 and raw[end - 20:end - 16] == b"PK\x06\x07" or total == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset), "архив в формате ZIP64 (больше 4 ГиБ или 65 535 файлов): пакет таким не бывает")
    refuse_if(disk or cd_disk or here != total, "архив разбит на части: пакет — один файл")
    refuse_if(comment, "у архива есть комментарий: у пакета его не бывает")
    refuse_if(cd_offset + cd_size != end, "оглавление архива не там, где сказано: между ним и концом архива есть лишние данные")
    entries, at = [], cd_offset
    for i in range(total):
        refuse_if(raw[at:at + 4] != b"PK\x01\x02" or at + 46 > end, f"запись № {i + 1} оглавления архива не читается")
        version, flags, method, _, _, crc, csize, size, n, x, c, d = struct.unpack("<HHHHHIIIHHHH", raw[at + 6:at + 36])
        local = struct.unpack("<I", raw[at + 42:at + 46])[0]
        refuse_if(at + 46 + n > end, f"запись № {i + 1} оглавления архива выходит за оглавление")
        raw_name = raw[at + 46:at + 46 + n]
        try:
            name = raw_name.decode("utf-8")
        except UnicodeError:
            raise Failure(f"запись № {i + 1} оглавления архива называет файл не в UTF-8")
        refuse_if(any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in name), f"запись № {i + 1} оглавления архива называет файл с управляющим символом")
        at += 46 + n
        refuse_if(x or c or d, f"у файла «{name}» в оглавлении архива есть дополнительные поля или комментарий")
        refuse_if(flags & 0x41, f"файл «{name}» в архиве зашифрован")
        refuse_if(flags & ~0x0806 or version > 20, f"файл «{name}» записан в архив с необычными флагами ({flags:#06x}, версия {version})")
        refuse_if(method not in (0, 8), f"файл «{name}» сжат способом {method}: пакет сжимают только deflate")
        refuse_if(raw[local:local + 4] != b"PK\x03\x04" or local + 30 > end, f"у файла «{name}» нет заголовка там, где его называет оглавление архива")
        lv, lf, lm, _, _, lcrc, lcsize, lsize, ln, lx = struct.unpack("<HHHHHIIIHH", raw[local + 4:local + 30])
        refuse_if(raw[local + 30:local + 30 + ln] != raw_name, f"имя файла в оглавлении архива («{name}») и в его заголовке («{raw[local + 30:local + 30 + ln].decode('utf-8', 'replace')}») различаются")
        refuse_if((lv, lf, lm, lcrc, lcsize, lsize, lx) != (version, flags, method, crc, csize, size, 0), f"оглавление архива и заголовок файла «{name}» расходятся (размер, контрольная сумма, сжатие или доп. поля)")
        entries.append((local, local + 30 + ln, csize, size, crc, method, name))
    refuse_if(at != end, "в оглавлении архива больше записей, чем сказано в его конце")
    following = 0
    for local, data, csize, _, _, _, name in sorted(entries):
        refuse_if(local < following, f"файл «{name}» в архиве наложен на другой файл")
        refuse_if(local > following, "перед первым файлом архива лишние данные" if following == 0 else f"перед файлом «{name}» в архиве лишние данные")
        following = data + csize
    refuse_if(following != cd_offset, "между последним файлом архива и его оглавлением лишние данные")
    names = [e[6] for e in entries]
    for name in names:
        refuse_if(names.count(name) > 1, f"файл «{name}» дважды в пакете")
        refuse_if(name not in MEMBERS, f"в пакете лишний файл «{name}»: пакет изменён после выпуска")
    for m in MEMBERS:
        refuse_if(m not in names, f"в пакете нет файла «{m}»")
    refuse_if(sum(e[3] for e in entries) > max_bytes, f"пакет распаковывается больше чем в {max_bytes >> 20} МиБ: такой не проверяется (больший предел — --max-bytes)")
    files = {}
    for _, data, csize, size, crc, method, name in entries:
        body = raw[data:data + csize]
        try:
            out = body if method == 0 else zlib.decompressobj(-15).decompress(body, size + 1)
        except zlib.error as e:
            raise Failure(f"файл «{name}» пакета повреждён: {e}")
        refuse_if(len(out) != size, f"файл «{name}» распаковывается не в заявленный в архиве размер")
        refuse_if(zlib.crc32(out) != crc, f"файл «{name}» пакета повреждён: контрольная сумма не совпадает")
        files[name] = out
    return files


def tree_root(leaves):
    """RFC 9162 §2.1.1: MTH of n > 1 leaves splits them at the largest power of two below n."""
    if len(leaves) <= 1:
        return sha256(b"\x00", leaves[0]) if leaves else sha256()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha256(b"\x01", tree_root(leaves[:k]), tree_root(leaves[k:]))


def b64(s, what):
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise Failure(f"{what} — не base64")
    refuse_if(base64.b64encode(raw).decode() != s, f"{what} — не base64")
    return raw


def parse_vkey(vkey, alg):
    """C2SP verifier key NAME+KEYID+BASE64(alg ‖ key) → (name, key id, key)."""
    parts = vkey.strip().split("+", 2)
    refuse_if(len(parts) != 3, f"«{vkey}» — не ключ NAME+KEYID+BASE64")
    name, keyid, raw = parts[0], parts[1], b64(parts[2], f"ключ «{vkey}»")
    refuse_if(len(raw) != 33 or raw[0] != alg, f"«{vkey}» — не ключ {'журнала (тип 0x01)' if alg == 1 else 'свидетеля (тип 0x04)'}")
    kid = sha256(name.encode(), b"\n", raw)[:4]
    refuse_if(kid.hex() != keyid, f"«{vkey}»: номер ключа не совпадает с ключом")
    return name, kid, Ed25519PublicKey.from_public_bytes(raw[1:])


def signed(key, sig, msg):
    try:
        return key.verify(sig, msg) is None
    except InvalidSignature:
        return False


def read_note(note):
    """A checkpoint as C2SP signed-note and tlog-checkpoint write it, exactly: one line per key."""
    bad = "контрольная точка записана не по правилам C2SP: "
    refuse_if("\r" in note, bad + "в ней есть возврат каретки (CR)")
    refuse_if("\n\n" not in note, bad + "нет строк подписей")
    body, sigs = note.split("\n\n", 1)
    lines = body.split("\n")
    refuse_if(len(lines) != 3, bad + f"в теле {len(lines)} строк, а должно быть три")
    origin, size, root = lines
    refuse_if(not origin or re.search(r"[\s+]", origin), bad + f"имя журнала «{origin}»")
    refuse_if(not re.fullmatch(r"0|[1-9][0-9]*", size), bad + f"размер «{size}» — не десятичное число без лишних нулей")
    refuse_if(len(b64(root, bad + "корень дерева")) != 32, bad + "корень дерева — не base64 32 байт")
    refuse_if(not sigs.endswith("\n"), bad + "последняя строка подписи не кончается переводом строки")
    out, keys = [], set()
    for line in sigs[:-1].split("\n"):
        m = re.fullmatch(r"— ([^ +]+) (\S+)", line)
        refuse_if(not m, bad + f"строка «{line}» — не подпись «— ИМЯ BASE64»")
        blob = b64(m.group(2), bad + f"строка подписи «{line}»")
        refuse_if(len(blob) <= 4, bad + f"строка подписи «{line}»")
        refuse_if((m.group(1), blob[:4]) in keys, bad + f"подпись ключа «{m.group(1)}» повторена")
        keys.add((m.group(1), blob[:4]))
        out.append((m.group(1), blob))
    return body + "\n", origin, int(size), base64.b64decode(root), out


def read_policy(text, what):
    witnesses, quorum, log = {}, None, None
    for k, line in enumerate(text.split("\n"), 1):
        refuse_if(any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in line), f"{what}, строка {k}: управляющий символ (строки политики разделяет только перевод строки)")
        w = line.split()
        if not w or w[0].startswith("#"):
            continue
        if w[0] == "log" and len(w) in (2, 3):
            log = log or w[1]
        elif len(w) == 4 and w[0] == "witness":
            name, kid, key = parse_vkey(w[2], 0x04)
            refuse_if(name != w[1] or any(n == name for n, _ in witnesses), f"политика свидетелей не читается: строка {k}: «{line}»")
            witnesses[(name, kid)] = key
        elif len(w) == 2 and w[0] == "quorum" and re.fullmatch(r"[0-9]+", w[1], re.ASCII):
            quorum = int(w[1])
        else:
            raise Failure(f"политика свидетелей не читается: строка {k}: «{line}»")
    quorum = len(witnesses) if quorum is None else quorum
    refuse_if(quorum > len(witnesses), f"политика свидетелей не читается: кворум {quorum}, а свидетелей {len(witnesses)}")
    return witnesses, quorum, log


def read_events(data, want):
    """Each line exactly a stored event: hash, place, link, time forward. (hashes, ids, recorded_at, publication)."""
    refuse_if(data and not data.endswith(b"\n"), "events.jsonl не кончается переводом строки: файл обрезан")
    hashes, ids, times, prev, publication = [], [], [], ZERO, None
    for n, line in enumerate(data.split(b"\n")[:-1], start=1):
        ev = strict_json(line, f"событие № {n} в events.jsonl")
        refuse_if(not isinstance(ev, dict) or set(ev) != STORED, f"событие № {n} в events.jsonl не читается: не те поля")
        claimed, t = ev.pop("hash"), stamp(ev["recorded_at"])
        fields = (isinstance(claimed, str) and HEX.match(claimed) and isinstance(ev["prev"], str) and HEX.match(ev["prev"])
                  and t is not None and is_date(ev["occurred_on"]) and isinstance(ev["data"], dict) and type(ev["seq"]) is int
                  and all(isinstance(ev[k], str) and ev[k] for k in ("type", "actor", "id")))
        refuse_if(not fields, f"событие № {n} в events.jsonl не читается")
        refuse_if(ev["seq"] != n, f"на месте события № {n} в events.jsonl стоит событие № {ev['seq']}: события пропущены, переставлены или вставлены")
        canonical = rfc8785.dumps(ev)
        refuse_if(b3(canonical) != claimed, f"событие № {n} изменено: хеш не совпадает")
        refuse_if(ev["prev"] != prev, f"событие № {n} не продолжает цепочку (его prev — не хеш события № {n - 1}): события пропущены, переставлены или вставлены")
        exact = line == canonical[:-1] + b',"hash":"' + claimed.encode() + b'"}' and UUID.match(ev["id"])
        refuse_if(not exact, f"событие № {n} в events.jsonl записано не в том виде, в каком его хранит журнал")
        refuse_if(times and times[-1] > t, f"событие № {n} записано раньше события № {n - 1}: время записи идёт назад")
        refuse_if(ev["occurred_on"] > ev["recorded_at"][:10], f"событие № {n} произошло позже, чем записано")
        if publication is None and ev["type"] == "report_published" and ev["data"].get("report") == want:
            publication = (n, ev["data"])
        prev = claimed
        hashes.append(bytes.fromhex(claimed))
        ids.append(ev["id"])
        times.append(t)
    return hashes, ids, times, publication


def check_lineage(node, hashes, ids):
    """An object with both `seq` and `hash` names an event of the cut: its hash, and its id when given."""
    if isinstance(node, list):
        for x in node:
            check_lineage(x, hashes, ids)
    elif isinstance(node, dict):
        if "seq" in node and "hash" in node:
            seq = node["seq"]
            ok = type(seq) is int and 1 <= seq <= len(hashes) and node["hash"] == hashes[seq - 1].hex()
            refuse_if(not (ok and node.get("id", ids[seq - 1]) == ids[seq - 1]), f"расшифровка показателей называет событие № {seq}, которого нет в срезе отчёта")
        for x in node.values():
            check_lineage(x, hashes, ids)


def same_definitions(theirs, mine):
    theirs = {d.get("id"): rfc8785.dumps(d) for d in (theirs if isinstance(theirs, list) else []) if isinstance(d, dict)}
    for d in mine:
        refuse_if(d.get("id") not in theirs, f"в пакете нет показателя «{d.get('id')}» из ваших определений (--defs)")
        refuse_if(theirs[d["id"]] != rfc8785.dumps(d), f"определение показателя «{d['id']}» в пакете отличается от вашего (--defs)")
    for extra in [i for i in theirs if i not in {d.get("id") for d in mine}]:
        raise Failure(f"в пакете показатель «{extra}», которого нет в ваших определениях (--defs)")


def verify(path, key, policy_file, defs_file, max_bytes):
    files = read_zip(path, max_bytes)
    report = strict_json(files["report.json"], "report.json")
    refuse_if(not isinstance(report, dict) or "checkpoint" not in report or "consistency" in report, "отчёт пакета не опубликован в журнале (пакет старого образца или изменён): такой пакет не связывает отчёт с подписанным журналом — попросите организацию выпустить пакет заново")
    body = {k: v for k, v in report.items() if k not in ("hash", "checkpoint")}
    refuse_if(b3(rfc8785.dumps(body)) != report.get("hash"), "отчёт изменён после выпуска: его хеш не совпадает с содержимым")
    refuse_if(set(report) - {"cut"} != REPORT or report.get("cut", "seq") != "seq", "в отчёте не те поля")
    period, ledger = report["period"], report["ledger"]
    refuse_if(not isinstance(period, dict) or set(period) != {"from", "to"} or not all(map(is_date, period.values())), "период отчёта — не даты")
    known_at, by_seq = stamp(report["known_at"]), "cut" in report
    refuse_if(known_at is None, "у опубликованного отчёта нет среза known_at (момент в виде ГГГГ-ММ-ДДTЧЧ:ММ:ССZ)")
    refuse_if(not isinstance(ledger, dict) or type(ledger.get("seq")) is not int or ledger["seq"] < 0 or not HEX.match(str(ledger.get("head"))), "в отчёте нет ledger.seq и ledger.head")
    n, head = ledger["seq"], ledger["head"]
    hashes, ids, times, publication = read_events(files["events.jsonl"], report["hash"])
    note = report["checkpoint"]
    refuse_if(not isinstance(note, str), "в отчёте нет подписанной контрольной точки")
    text, origin, size, root, sigs = read_note(note)
    refuse_if(size != len(hashes), f"в пакете {len(hashes)} событий, а контрольная точка подписана для {size}: история пакета укорочена или дополнена")
    refuse_if(tree_root(hashes) != root, f"события пакета не сходятся с подписанной контрольной точкой (размер {size})")
    refuse_if(n >= len(hashes) or (hashes[n - 1].hex() if n else ZERO) != head, f"события пакета — не та история, по которой сделан отчёт (он назван событием № {n} с хешем {head})")
    refuse_if(n > 0 and (times[n - 1] > known_at or by_seq and times[n - 1] != known_at), f"событие № {n} записано позже среза отчёта")
    refuse_if(times[n] < known_at or times[n] == known_at and not by_seq, f"событие № {n + 1} записано не позже среза отчёта, а в отчёт не вошло: срез сдвинут")
    refuse_if(publication is None, "в пакете нет события публикации этого отчёта (report_published с его хешем): отчёт не опубликован")
    m, data = publication
    refuse_if(set(data) != {"report", "definitions", "period", "known_at", "seq", "files"}, "в событии публикации не те поля")
    refuse_if(m <= n, f"событие публикации № {m} стоит до среза отчёта (№ {n})")
    refuse_if(times[m - 1] < known_at, "отчёт опубликован раньше своего среза")
    refuse_if(data.get("definitions") != b3(rfc8785.dumps(report["definitions"])), "определения показателей не те, что опубликованы: их хеш не совпадает с названным в событии публикации")
    refuse_if(data.get("period") != period, "период отчёта не тот, что опубликован")
    refuse_if(data.get("known_at") != report["known_at"], "срез отчёта (known_at) не тот, что опубликован")
    refuse_if(data.get("seq") != n, f"отчёт сделан по событиям 1–{n}, а опубликован другой срез: {data.get('seq')}")
    listed = data.get("files")
    refuse_if(not isinstance(listed, dict), "событие публикации не называет файлы")
    for name in sorted(FILES):
        refuse_if(name not in listed, f"файл «{name}» не назван в событии публикации")
        refuse_if(listed[name] != b3(files[name]), f"файл «{name}» изменён после публикации: его хеш не совпадает")
    refuse_if(set(listed) - set(FILES), "в событии публикации названы лишние файлы")
    own = files["policy.txt"].decode("utf-8")  # not UTF-8: a failure, as below
    witnesses, quorum, own_log = read_policy(own, "policy.txt")
    funders = None
    if policy_file is None:
        print("примечание: свидетели и кворум — из policy.txt самого пакета (своя политика: --policy FILE)", file=sys.stderr)
    else:
        with open(policy_file, encoding="utf-8", newline="") as f:
            witnesses, quorum, funders = read_policy(f.read(), "--policy")
    refuse_if(key and funders and key.strip() != funders, f"ключ журнала в --key ({key}) и в вашей политике --policy ({funders}) различаются")
    if key is None:
        key = funders or own_log
        refuse_if(key is None, "policy.txt не называет ключ журнала (строка `log VKEY`), и --key не дан")
        if not funders:
            print(f"примечание: ключ журнала взят из самого пакета ({key}); сверьте его с ключом, полученным от организации", file=sys.stderr)
    log_name, log_id, log_key = parse_vkey(key, 0x01)
    refuse_if(origin != log_name, f"контрольная точка журнала «{origin}», а ключ — журнала «{log_name}»")
    ours = [b for name, b in sigs if (name, b[:4]) == (log_name, log_id)]
    refuse_if(not ours or not signed(log_key, ours[0][4:], text.encode()), f"подпись контрольной точки не от ключа {key}")
    cosigned = {}
    for name, blob in sigs:
        if (name, blob[:4]) == (log_name, log_id):
            continue
        refuse_if((name, blob[:4]) not in witnesses, f"контрольная точка несёт подпись «{name}» от неизвестного ключа {blob[:4].hex()}")
        t = int.from_bytes(blob[4:12], "big")
        refuse_if(len(blob) != 76 or not signed(witnesses[(name, blob[:4])], blob[12:], f"cosignature/v1\ntime {t}\n{text}".encode()), f"подпись свидетеля не проходит проверку: {name}")
        cosigned[name] = t
    refuse_if(len(cosigned) < quorum, f"контрольную точку заверили свидетелей: {len(cosigned)} из {quorum} нужных")
    for w in [w for w, t in cosigned.items() if t < known_at]:
        raise Failure(f"свидетель {w} заверил контрольную точку раньше среза отчёта {report['known_at']}")
    check_lineage(strict_json(files["lineage.json"], "lineage.json"), hashes[:n], ids[:n])
    if defs_file is not None:
        with open(defs_file, "rb") as f:
            mine = strict_json(f.read(), defs_file)
        refuse_if(not isinstance(mine, list) or not all(isinstance(d, dict) for d in mine), f"{defs_file}: файл определений — JSON-массив показателей")
        same_definitions(report["definitions"], mine)
    return {"ok": True, "seq": n, "checkpoint_size": size, "cosigned": sorted(cosigned),
            "published": {"seq": m, "recorded_at": times[m - 1], "cosigned_at": min(cosigned.values(), default=None)},
            "figures": "not re-derived here: caseledger bundle verify does that"}


def moment(t):
    try:
        from zoneinfo import ZoneInfo
        return datetime.datetime.fromtimestamp(t, ZoneInfo("Europe/Moscow")).strftime("%d.%m.%Y %H:%M")
    except Exception:  # no time zone database: UTC, said so
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%d.%m.%Y %H:%M UTC")


def main(argv):
    p = argparse.ArgumentParser(description="Проверка пакета отчёта caseledger (SPEC §15, §19)")
    for name in ("bundle", "--key", "--policy", "--defs"):
        p.add_argument(name)
    p.add_argument("--max-bytes", type=int, default=256 << 20)
    a = p.parse_args(argv)
    try:
        v = verify(a.bundle, a.key, a.policy, a.defs, a.max_bytes)
    except Failure as e:
        print(f"{a.bundle}: пакет не проходит проверку: {e}", file=sys.stderr)
        return 3
    except OSError as e:
        print(f"не читается: {e}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError, UnicodeError,
            NotImplementedError, OverflowError, struct.error, rfc8785.CanonicalizationError) as e:
        print(f"{a.bundle}: пакет не проходит проверку: пакет не читается ({type(e).__name__}: {e})", file=sys.stderr)
        return 3
    pub = v["published"]
    words = f"Отчёт опубликован {moment(pub['recorded_at'])} (событие № {pub['seq']})"
    words += f", заверен свидетелями не позднее {moment(pub['cosigned_at'])}" if pub["cosigned_at"] is not None else "; свидетелей у журнала нет"
    print(words + ".", file=sys.stderr)
    print(json.dumps(v, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
