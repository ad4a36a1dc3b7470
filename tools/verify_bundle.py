#!/usr/bin/env python3
"""The funder's reference verifier of a caseledger bundle (SPEC §15), written from the
specification alone, with no code of caseledger's:

    python3 tools/verify_bundle.py FILE.zip [--key VKEY] [--policy FILE]

It checks the report's hash (BLAKE3 over RFC 8785), every event's hash and link, that
the Merkle tree of the events (RFC 9162, SHA-256) with the report's consistency proof
gives the signed checkpoint's root, the checkpoint's Ed25519 signature (C2SP
signed-note) against --key (else the bundle's own policy.txt, saying so), the
witnesses' cosignatures (C2SP tlog-cosignature/v1) and quorum of --policy (your own
witness policy; else the bundle's, saying so), that no signature comes from an unlisted
key, and that the lineage names only the bundle's events. It does not re-derive the
figures (`caseledger bundle verify` does). Exit 0 when the bundle verifies, 3 naming
the first failure, 2 for a usage error.

Needs: pip install blake3 rfc8785 cryptography
"""
import base64
import hashlib
import json
import sys
import zipfile
import zlib

import blake3
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MEMBERS = {"report.json", "events.jsonl", "lineage.json", "policy.txt", "README.md"}
MAX_MEMBER = 2 << 30  # bytes unpacked, per member


def no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"duplicate member «{k}»")
        seen[k] = v
    return seen


def strict_json(data):
    """JSON with duplicate members refused (as caseledger refuses them)."""
    return json.loads(data, object_pairs_hook=no_duplicates)


class Failure(Exception):
    pass


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def tree_root(leaves):
    """RFC 9162 §2.1.1 Merkle tree hash, from the right edge of perfect subtrees."""
    stack = []  # (height, hash), heights strictly decreasing
    for leaf in leaves:
        node, height = sha256(b"\x00", leaf), 0
        while stack and stack[-1][0] == height:
            node = sha256(b"\x01", stack.pop()[1], node)
            height += 1
        stack.append((height, node))
    if not stack:
        return sha256()
    root = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        root = sha256(b"\x01", left, root)
    return root


def check_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 §2.1.4.2."""
    if first == second:
        return not path and first_hash == second_hash
    if first == 0:
        return not path  # every tree extends the empty one
    if first > second or not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = sha256(b"\x01", c, fr), sha256(b"\x01", c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = sha256(b"\x01", sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_hash and sr == second_hash


def parse_vkey(vkey, alg):
    """C2SP signed-note verifier key NAME+KEYID+BASE64(alg ‖ key) → (name, id, key)."""
    try:
        name, keyid, b64 = vkey.strip().split("+", 2)
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        raise Failure(f"«{vkey}» is not a verifier key NAME+KEYID+BASE64")
    if len(raw) != 33 or raw[0] != alg:
        raise Failure(f"«{vkey}» is not a key of type {alg:#04x}")
    kid = sha256(name.encode(), b"\n", raw)[:4]
    if kid.hex() != keyid:
        raise Failure(f"«{vkey}»: the key ID does not match the key")
    return name, kid, Ed25519PublicKey.from_public_bytes(raw[1:])


def ed25519_ok(key, sig, msg):
    try:
        key.verify(sig, msg)
        return True
    except InvalidSignature:
        return False


def read_events(data, seq, head):
    """Every event's hash, place and link; returns the 32-byte hashes and the ids."""
    hashes, ids, prev = [], [], "0" * 64
    lines = [line for line in data.split(b"\n") if line.strip()]
    for n, line in enumerate(lines, start=1):
        try:
            event = strict_json(line)
            claimed = event.pop("hash")
            computed = blake3.blake3(rfc8785.dumps(event)).hexdigest()
        except (ValueError, KeyError, TypeError, AttributeError, rfc8785.CanonicalizationError) as e:
            raise Failure(f"line {n} of events.jsonl is not a stored event: {e}")
        if event.get("seq") != n:
            raise Failure(f"line {n} of events.jsonl holds event {event.get('seq')}: events dropped, reordered or inserted")
        if computed != claimed:
            raise Failure(f"event {n} was changed: its hash does not match")
        if event.get("prev") != prev:
            raise Failure(f"event {n} does not link to event {n - 1}: events dropped, reordered or inserted")
        prev = claimed
        hashes.append(bytes.fromhex(claimed))
        ids.append(event.get("id"))
    if len(hashes) > seq:
        raise Failure(f"the bundle holds events after the report's cut: the report is of events 1–{seq}, the bundle has {len(hashes)}")
    if len(hashes) < seq or (seq and hashes[seq - 1].hex() != head):
        raise Failure(f"the events are not the history the report was made from (event {seq}, hash {head})")
    return hashes, ids


def check_lineage(node, hashes, ids):
    if isinstance(node, list):
        for x in node:
            check_lineage(x, hashes, ids)
    elif isinstance(node, dict):
        seq, h = node.get("seq"), node.get("hash")
        if isinstance(seq, int) and isinstance(h, str):
            ok = 1 <= seq <= len(hashes) and hashes[seq - 1].hex() == h and node.get("id", ids[seq - 1]) == ids[seq - 1]
            if not ok:
                raise Failure(f"the lineage names event {seq}, which is not in the bundle")
        for x in node.values():
            check_lineage(x, hashes, ids)


def verify(path, key, policy_file):
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise Failure(f"not a readable zip: {e}")
    names = zf.namelist()
    for n in names:
        if n not in MEMBERS:
            raise Failure(f"the bundle has an extra member «{n}»")
    for n in sorted(MEMBERS):
        if names.count(n) != 1:
            raise Failure(f"the bundle lacks the member «{n}»" if n not in names else f"«{n}» is in the bundle twice")
    for info in zf.infolist():
        if info.file_size > MAX_MEMBER:
            raise Failure(f"«{info.filename}» unpacks to more than {MAX_MEMBER >> 30} GiB")
    try:
        files = {n: zf.read(n) for n in MEMBERS}
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, OSError) as e:
        raise Failure(f"a member of the zip cannot be read: {e}")

    report = strict_json(files["report.json"])
    if not isinstance(report, dict):
        raise Failure("report.json is not a JSON object")
    claimed = report.pop("hash", None)
    if blake3.blake3(rfc8785.dumps(report)).hexdigest() != claimed:
        raise Failure("the report was edited: its hash does not match its content")
    seq, head = report["ledger"]["seq"], report["ledger"]["head"]
    hashes, ids = read_events(files["events.jsonl"], seq, head)

    note = report.get("checkpoint")
    if not isinstance(note, str) or "\n\n" not in note:
        raise Failure("the report has no signed checkpoint")
    text, sigs = note.split("\n\n", 1)
    text += "\n"
    lines = text.split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2])
    proof = [base64.b64decode(h) for h in report.get("consistency") or []]
    if size < seq or not check_consistency(seq, size, tree_root(hashes), root, proof):
        raise Failure(f"the events do not match the signed checkpoint of size {size}: the consistency proof fails")

    if policy_file is None:
        policy = files["policy.txt"].decode()
        print("note: the witnesses and quorum are the bundle's own policy.txt (give yours with --policy)", file=sys.stderr)
    else:
        with open(policy_file, encoding="utf-8") as f:
            policy = f.read()
    if key is None:
        key = next((line.split()[1] for line in policy.splitlines() if line.startswith("log ") and len(line.split()) >= 2), None)
        if key is None:
            raise Failure("no --key, and the policy names no log key")
        print(f"note: the log's key is the bundle's own ({key}); compare it with the key the organisation gave you", file=sys.stderr)
    log_name, log_id, log_key = parse_vkey(key, 0x01)
    if origin != log_name:
        raise Failure(f"the checkpoint is of log «{origin}», the key of log «{log_name}»")
    witnesses, quorum = {}, None
    for line in policy.splitlines():
        w = line.split()
        if len(w) == 4 and w[0] == "witness":
            name, kid, pub = parse_vkey(w[2], 0x04)
            witnesses[(name, kid)] = pub
        elif len(w) == 2 and w[0] == "quorum":
            quorum = int(w[1])
    quorum = len(witnesses) if quorum is None else quorum

    signed, cosigned = False, set()
    for line in sigs.splitlines():
        if not line.startswith("— "):
            continue
        name, b64 = line[2:].split(" ", 1)
        blob = base64.b64decode(b64)
        kid = blob[:4]
        if (name, kid) == (log_name, log_id):
            if not ed25519_ok(log_key, blob[4:], text.encode()):
                raise Failure(f"the checkpoint's signature is not from the key {key}")
            signed = True
        elif (name, kid) in witnesses:
            if len(blob) != 76:
                raise Failure(f"the cosignature of {name} is not a cosignature/v1")
            t = int.from_bytes(blob[4:12], "big")
            msg = f"cosignature/v1\ntime {t}\n{text}".encode()
            if not ed25519_ok(witnesses[(name, kid)], blob[12:], msg):
                raise Failure(f"the cosignature of witness {name} does not verify")
            cosigned.add(name)
        else:
            raise Failure(f"the checkpoint carries a signature «{name}» from an unknown key {kid.hex()}")
    if not signed:
        raise Failure(f"the checkpoint's signature is not from the key {key}")
    if len(cosigned) < quorum:
        raise Failure(f"{len(cosigned)} of the {quorum} witnesses needed cosigned the checkpoint")

    check_lineage(strict_json(files["lineage.json"]), hashes, ids)
    return seq, size, sorted(cosigned)


def main(argv):
    args, opts = [], {"--key": None, "--policy": None}
    it = iter(argv)
    for a in it:
        if a in opts:
            opts[a] = next(it, None)
            if opts[a] is None:
                args = []
                break
        else:
            args.append(a)
    if len(args) != 1:
        print("usage: verify_bundle.py FILE.zip [--key VKEY] [--policy FILE]", file=sys.stderr)
        return 2
    try:
        seq, size, cosigned = verify(args[0], opts["--key"], opts["--policy"])
    except Failure as e:
        print(f"{args[0]}: does not verify: {e}", file=sys.stderr)
        return 3
    except OSError as e:
        print(f"cannot read: {e}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError, UnicodeDecodeError) as e:
        print(f"{args[0]}: does not verify: malformed bundle ({type(e).__name__}: {e})", file=sys.stderr)
        return 3
    print(json.dumps({"ok": True, "seq": seq, "checkpoint_size": size, "cosigned": cosigned,
                      "figures": "not re-derived here: caseledger bundle verify does that"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
