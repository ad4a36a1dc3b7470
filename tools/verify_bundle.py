#!/usr/bin/env python3
"""The funder's reference verifier of a caseledger bundle (SPEC §15, §19), written from
the specification alone, with no code of caseledger's:

    python3 verify_bundle.py FILE.zip [--key VKEY] [--policy FILE] [--defs FILE] [--max-bytes N]

It checks all that `caseledger bundle verify` checks but the figures' re-derivation:
the strict zip, the report's hash, every event, the publication that binds the report,
its cut, the tree and signed checkpoint, the witnesses, the lineage and --defs.
Exit 0 when the bundle verifies, 3 naming the first failure (in Russian), 2 for usage.
Needs: pip install blake3 rfc8785 cryptography
"""
import argparse
import base64
import binascii
import datetime
import hashlib
import io
import json
import os
import re
import struct
import sys
import zipfile
import zlib

import blake3
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MEMBERS = ("report.json", "events.jsonl", "lineage.json", "policy.txt", "README.md", "verify_bundle.py")
FILES = ("lineage.json", "README.md", "verify_bundle.py", "policy.txt")
STORED = {"seq", "id", "type", "occurred_on", "recorded_at", "actor", "data", "prev", "hash"}
REPORT = {"period", "known_at", "ledger", "created_at", "definitions", "figures", "checkpoint", "hash"}
MAX_SAFE = 2**53 - 1
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
HEX = re.compile(r"[0-9a-f]{64}\Z")


class Failure(Exception):
    pass


def refuse_if(cond, why):
    if cond:
        raise Failure(why)


def strict_json(data, what):
    """JSON as caseledger reads it: UTF-8, no member twice, integers only (within ±2^53-1)."""
    def pairs(items):
        seen = {}
        for k, v in items:
            refuse_if(k in seen, f"{what}: поле «{k}» дважды")
            seen[k] = v
        return seen

    def refuse(s):
        raise Failure(f"{what}: {s} — не целое число")

    def integer(s):
        return int(s) if abs(int(s)) <= MAX_SAFE else refuse(s)

    def text(v):  # no lone surrogates (\ud800): they are not UTF-8
        if isinstance(v, str):
            v.encode()
        for x in [*v.keys(), *v.values()] if isinstance(v, dict) else v if isinstance(v, list) else ():
            text(x)

    try:
        v = json.loads(data.removeprefix(b"\xef\xbb\xbf").decode("utf-8"), object_pairs_hook=pairs,
                       parse_float=refuse, parse_int=integer, parse_constant=refuse)
        text(v)
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


def read_zip(path, max_bytes):
    """The six members, read as SPEC §19 says: anything a zip could say two ways is refused."""
    refuse_if(os.path.getsize(path) > max_bytes + (1 << 20), f"файл больше {max_bytes >> 20} МиБ (больший предел — --max-bytes)")
    with open(path, "rb") as f:
        raw = f.read()
    end = raw.rfind(b"PK\x05\x06", max(0, len(raw) - 22 - 65535))
    refuse_if(end < 0 or end + 22 + struct.unpack("<H", raw[end + 20:end + 22])[0] != len(raw), "файл не читается как zip-архив пакета: нет оглавления архива")
    disk, cd_disk, here, total, cd_size, cd_offset = struct.unpack("<HHHHII", raw[end + 4:end + 20])
    refuse_if(end >= 20 and raw[end - 20:end - 16] == b"PK\x06\x07" or 0xFFFF in (total,) or 0xFFFFFFFF in (cd_size, cd_offset), "архив в формате ZIP64 (больше 4 ГиБ или 65 535 файлов): пакет таким не бывает")
    refuse_if(disk or cd_disk or here != total, "архив разбит на части: пакет — один файл")
    refuse_if(cd_offset + cd_size != end, "оглавление архива не там, где сказано: между ним и концом архива есть лишние данные")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as e:
        raise Failure(f"файл не читается как zip-архив пакета: {e}")
    infos = zf.infolist()
    refuse_if(len(infos) != total, "в оглавлении архива больше записей, чем сказано в его конце")
    spans, seen = [], set()
    for i in infos:
        name = i.filename
        refuse_if(i.flag_bits & 0x41, f"файл «{name}» в архиве зашифрован")
        refuse_if(i.compress_type not in (0, 8), f"файл «{name}» сжат способом {i.compress_type}: пакет сжимают только deflate")
        off = i.header_offset
        refuse_if(raw[off:off + 4] != b"PK\x03\x04", f"у файла «{name}» нет заголовка там, где его называет оглавление архива")
        method, = struct.unpack("<H", raw[off + 8:off + 10])
        n, e = struct.unpack("<HH", raw[off + 26:off + 30])
        local = raw[off + 30:off + 30 + n].decode("utf-8" if i.flag_bits & 0x800 else "cp437", "replace")
        refuse_if(local != i.orig_filename, f"имя файла в оглавлении архива («{name}») и в его заголовке («{local}») различаются")
        refuse_if(method != i.compress_type, f"способ сжатия файла «{name}» в оглавлении и в заголовке архива различается")
        spans.append((off, off + 30 + n + e + i.compress_size, name))
    spans.sort()
    for k, (off, stop, name) in enumerate(spans):
        refuse_if(k == 0 and off != 0, "перед первым файлом архива лишние данные")
        refuse_if(k and off < spans[k - 1][1], f"файл «{name}» в архиве наложен на другой файл")
        refuse_if(stop > cd_offset, f"файл «{name}» в архиве заходит на его оглавление")
    for i in infos:
        refuse_if(i.filename in seen, f"файл «{i.filename}» дважды в пакете")
        seen.add(i.filename)
        refuse_if(i.filename not in MEMBERS, f"в пакете лишний файл «{i.filename}»: пакет изменён после выпуска")
    for m in MEMBERS:
        refuse_if(m not in seen, f"в пакете нет файла «{m}»")
    refuse_if(sum(i.file_size for i in infos) > max_bytes, f"пакет распаковывается больше чем в {max_bytes >> 20} МиБ: такой не проверяется (больший предел — --max-bytes)")
    files, left = {}, max_bytes
    for i in infos:
        try:
            with zf.open(i) as f:
                data = f.read(min(left, i.file_size) + 1)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
            raise Failure(f"файл «{i.filename}» пакета повреждён: {e}")
        refuse_if(len(data) != i.file_size, f"файл «{i.filename}» распаковывается не в заявленный в архиве размер")
        left -= len(data)
        files[i.filename] = data
    return files


def tree_root(leaves):
    """RFC 9162 §2.1.1 Merkle tree hash, from the right edge of perfect subtrees."""
    stack = []
    for leaf in leaves:
        node, height = sha256(b"\x00", leaf), 0
        while stack and stack[-1][0] == height:
            node, height = sha256(b"\x01", stack.pop()[1], node), height + 1
        stack.append((height, node))
    if not stack:
        return sha256()
    root = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        root = sha256(b"\x01", left, root)
    return root


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
    """A checkpoint as C2SP signed-note and tlog-checkpoint write it, exactly."""
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
    out = []
    for line in sigs[:-1].split("\n"):
        m = re.fullmatch(r"— ([^ +]+) (\S+)", line)
        refuse_if(not m or line in [o[2] for o in out], bad + (f"строка «{line}» — не подпись «— ИМЯ BASE64»" if not m else f"подпись «{line}» повторена"))
        blob = b64(m.group(2), bad + f"строка подписи «{line}»")
        refuse_if(len(blob) <= 4, bad + f"строка подписи «{line}»")
        out.append((m.group(1), blob, line))
    return body + "\n", origin, int(size), base64.b64decode(root), out


def read_policy(text):
    witnesses, quorum = {}, None
    for k, line in enumerate(text.splitlines(), 1):
        w = line.split()
        if not w or w[0].startswith("#") or w[0] == "log" and len(w) in (2, 3):
            continue
        if len(w) == 4 and w[0] == "witness":
            name, kid, key = parse_vkey(w[2], 0x04)
            refuse_if(name != w[1] or any(n == name for n, _ in witnesses), f"политика свидетелей не читается: строка {k}: «{line}»")
            witnesses[(name, kid)] = key
        elif len(w) == 2 and w[0] == "quorum" and w[1].isdigit():
            quorum = int(w[1])
        else:
            raise Failure(f"политика свидетелей не читается: строка {k}: «{line}»")
    quorum = len(witnesses) if quorum is None else quorum
    refuse_if(quorum > len(witnesses), f"политика свидетелей не читается: кворум {quorum}, а свидетелей {len(witnesses)}")
    return witnesses, quorum


def read_events(data, want):
    """Each line exactly a stored event: hash, place, link. (hashes, ids, recorded_at, publication)."""
    refuse_if(data and not data.endswith(b"\n"), "events.jsonl не кончается переводом строки: файл обрезан")
    hashes, ids, times, prev, publication = [], [], [], "0" * 64, None
    for n, line in enumerate(data.split(b"\n")[:-1], start=1):
        ev = strict_json(line, f"событие № {n} в events.jsonl")
        refuse_if(not isinstance(ev, dict) or set(ev) != STORED, f"событие № {n} в events.jsonl не читается: не те поля")
        claimed, t = ev.pop("hash"), stamp(ev["recorded_at"])
        if not (isinstance(claimed, str) and HEX.match(claimed) and isinstance(ev["prev"], str) and t is not None
                and isinstance(ev["data"], dict) and isinstance(ev["type"], str) and isinstance(ev["id"], str)):
            raise Failure(f"событие № {n} в events.jsonl не читается")
        refuse_if(ev["seq"] != n or type(ev["seq"]) is not int, f"на месте события № {n} в events.jsonl стоит событие № {ev['seq']}: события пропущены, переставлены или вставлены")
        canonical = rfc8785.dumps(ev)
        refuse_if(b3(canonical) != claimed, f"событие № {n} изменено: хеш не совпадает")
        refuse_if(ev["prev"] != prev, f"событие № {n} не продолжает цепочку (его prev — не хеш события № {n - 1}): события пропущены, переставлены или вставлены")
        refuse_if(line != canonical[:-1] + b',"hash":"' + claimed.encode() + b'"}', f"событие № {n} в events.jsonl записано не в том виде, в каком его хранит журнал")
        if publication is None and ev["type"] == "report_published" and ev["data"].get("report") == want:
            publication = (n, ev["data"])
        prev = claimed
        hashes.append(bytes.fromhex(claimed))
        ids.append(ev["id"])
        times.append(t)
    return hashes, ids, times, publication


def check_lineage(node, hashes, ids):
    if isinstance(node, list):
        for x in node:
            check_lineage(x, hashes, ids)
    elif isinstance(node, dict):
        seq, h = node.get("seq"), node.get("hash")
        if type(seq) is int and isinstance(h, str):
            refuse_if(not (1 <= seq <= len(hashes) and hashes[seq - 1].hex() == h and node.get("id", ids[seq - 1]) == ids[seq - 1]), f"расшифровка показателей называет событие № {seq}, которого нет в срезе отчёта")
        for x in node.values():
            check_lineage(x, hashes, ids)


def same_definitions(theirs, mine):
    theirs = {d.get("id"): rfc8785.dumps(d) for d in (theirs if isinstance(theirs, list) else []) if isinstance(d, dict)}
    mine_list = mine
    for d in mine_list:
        refuse_if(d.get("id") not in theirs, f"в пакете нет показателя «{d.get('id')}» из ваших определений (--defs)")
        refuse_if(theirs[d["id"]] != rfc8785.dumps(d), f"определение показателя «{d['id']}» в пакете отличается от вашего (--defs)")
    extra = [i for i in theirs if i not in {d.get("id") for d in mine_list}]
    if extra:
        raise Failure(f"в пакете показатель «{extra[0]}», которого нет в ваших определениях (--defs)")


def verify(path, key, policy_file, defs_file, max_bytes):
    files = read_zip(path, max_bytes)
    report = strict_json(files["report.json"], "report.json")
    refuse_if(not isinstance(report, dict) or "checkpoint" not in report or "consistency" in report, "отчёт пакета не опубликован в журнале (пакет старого образца или изменён): такой пакет не связывает отчёт с подписанным журналом — попросите организацию выпустить пакет заново")
    body = {k: v for k, v in report.items() if k not in ("hash", "checkpoint")}
    refuse_if(b3(rfc8785.dumps(body)) != report.get("hash"), "отчёт изменён после выпуска: его хеш не совпадает с содержимым")
    refuse_if(set(report) - {"cut"} != REPORT or report.get("cut", "seq") != "seq", "в отчёте не те поля")
    known_at, ledger, by_seq = stamp(report["known_at"]), report["ledger"], "cut" in report
    refuse_if(known_at is None, "у опубликованного отчёта нет среза known_at (момент в виде ГГГГ-ММ-ДДTЧЧ:ММ:ССZ)")
    refuse_if(not isinstance(ledger, dict) or type(ledger.get("seq")) is not int or not HEX.match(str(ledger.get("head"))), "в отчёте нет ledger.seq и ledger.head")
    n, head = ledger["seq"], ledger["head"]
    hashes, ids, times, publication = read_events(files["events.jsonl"], report["hash"])
    note = report["checkpoint"]
    refuse_if(not isinstance(note, str), "в отчёте нет подписанной контрольной точки")
    text, origin, size, root, sigs = read_note(note)
    refuse_if(size != len(hashes), f"в пакете {len(hashes)} событий, а контрольная точка подписана для {size}: история пакета укорочена или дополнена")
    refuse_if(tree_root(hashes) != root, f"события пакета не сходятся с подписанной контрольной точкой (размер {size})")
    refuse_if(n >= len(hashes) or n > 0 and hashes[n - 1].hex() != head, f"события пакета — не та история, по которой сделан отчёт (он назван событием № {n} с хешем {head})")
    refuse_if(n > 0 and (times[n - 1] > known_at or by_seq and times[n - 1] != known_at), f"событие № {n} записано позже среза отчёта")
    refuse_if(times[n] < known_at or times[n] == known_at and not by_seq, f"событие № {n + 1} записано не позже среза отчёта, а в отчёт не вошло: срез сдвинут")
    refuse_if(publication is None, "в пакете нет события публикации этого отчёта (report_published с его хешем): отчёт не опубликован")
    m, data = publication
    refuse_if(m <= n, f"событие публикации № {m} стоит до среза отчёта (№ {n})")
    refuse_if(times[m - 1] < known_at, "отчёт опубликован раньше своего среза")
    refuse_if(data.get("definitions") != b3(rfc8785.dumps(report["definitions"])), "определения показателей не те, что опубликованы: их хеш не совпадает с названным в событии публикации")
    refuse_if(data.get("period") != report["period"], "период отчёта не тот, что опубликован")
    refuse_if(data.get("known_at") != report["known_at"], "срез отчёта (known_at) не тот, что опубликован")
    refuse_if(data.get("seq") != n, f"отчёт сделан по событиям 1–{n}, а опубликован другой срез: {data.get('seq')}")
    listed = data.get("files")
    refuse_if(not isinstance(listed, dict), "событие публикации не называет файлы")
    for name in sorted(FILES):
        refuse_if(name not in listed, f"файл «{name}» не назван в событии публикации")
        refuse_if(listed[name] != b3(files[name]), f"файл «{name}» изменён после публикации: его хеш не совпадает")
    for name in sorted(set(listed) - set(FILES)):
        raise Failure(f"в пакете нет файла «{name}», названного в событии публикации")
    own = files["policy.txt"].decode("utf-8")  # not UTF-8: a failure, as below
    if policy_file is None:
        print("примечание: свидетели и кворум — из policy.txt самого пакета (своя политика: --policy FILE)", file=sys.stderr)
    if key is None:
        key = next((ln.split()[1] for ln in own.splitlines() if ln.startswith("log ") and len(ln.split()) >= 2), None)
        refuse_if(key is None, "policy.txt не называет ключ журнала (строка `log VKEY`), и --key не дан")
        print(f"примечание: ключ журнала взят из самого пакета ({key}); сверьте его с ключом, полученным от организации", file=sys.stderr)
    log_name, log_id, log_key = parse_vkey(key, 0x01)
    refuse_if(origin != log_name, f"контрольная точка журнала «{origin}», а ключ — журнала «{log_name}»")
    if policy_file is None:
        policy = own
    else:
        with open(policy_file, encoding="utf-8") as f:
            policy = f.read()
    witnesses, quorum = read_policy(policy)
    ours = [b for name, b, _ in sigs if (name, b[:4]) == (log_name, log_id)]
    refuse_if(not ours or not signed(log_key, ours[0][4:], text.encode()), f"подпись контрольной точки не от ключа {key}")
    cosigned = {}
    for name, blob, _ in sigs:
        if (name, blob[:4]) == (log_name, log_id):
            continue
        elif (name, blob[:4]) in witnesses:
            t = int.from_bytes(blob[4:12], "big")
            refuse_if(len(blob) != 76 or not signed(witnesses[(name, blob[:4])], blob[12:], f"cosignature/v1\ntime {t}\n{text}".encode()), f"подпись свидетеля не проходит проверку: {name}")
            cosigned[name] = t
        else:
            raise Failure(f"контрольная точка несёт подпись «{name}» от неизвестного ключа {blob[:4].hex()}")
    refuse_if(len(cosigned) < quorum, f"контрольную точку заверили свидетелей: {len(cosigned)} из {quorum} нужных")
    early = [w for w, t in cosigned.items() if t < known_at]
    for w in early:
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
    p.add_argument("bundle")
    p.add_argument("--key")
    p.add_argument("--policy")
    p.add_argument("--defs")
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
            struct.error, rfc8785.CanonicalizationError) as e:
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
