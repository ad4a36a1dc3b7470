#!/usr/bin/env python3
"""Writes events.jsonl for the «Мама рядом» 2019–2020 golden replay.

Source: ../shared/seeds/001_7dfdf2e4fbcbaab7.txt (ХКОО «Чужих детей не бывает»,
Хабаровск), section «Данные о достижении социальных результатов», lines 200–306.
README.md says which seed sentence each group below comes from and what was chosen
where the seed is silent. Pseudonymous codes only: families «Ф-…», children «Р-…»,
signals «С-…», cases «N/ГГГГ_МР|КЦ», contracts «Д-…», staff «К-0n», «методист».

Run: python3 build.py            (writes events.jsonl next to this file)
     python3 build.py -          (prints to stdout)
Deterministic: no clock, no randomness; ids are numbered by position in the file.
"""
import datetime as dt
import json
import os
import sys

D = dt.date.fromisoformat


def plus(day, n):
    return (D(day) + dt.timedelta(days=n)).isoformat()


# ---------------------------------------------------------------------------
# Event collection. Each event gets `rec` = the day it was recorded (default: the
# day it happened). The file is ordered by (rec, occurred_on, creation order), and
# recorded_at = rec + 09:00 + one minute per earlier event recorded that day, so
# recorded_at never decreases and is never before occurred_on.
# ---------------------------------------------------------------------------
EVENTS = []


def ev(kind, day, data, actor, rec=None):
    e = {"type": kind, "occurred_on": day, "actor": actor, "data": data,
         "_rec": rec or day, "_n": len(EVENTS)}
    assert e["_rec"] >= day, (kind, day, rec)
    EVENTS.append(e)
    return e


CHANNELS = ["phone", "messenger", "social_media", "walk_in", "referral", "phone", "messenger"]
SIGNAL_NO = {}  # year -> running number, assigned in order of reception at the end


def signal(day, family, channel, actor="К-05"):
    """signal_received; the code «С-ГГ-NNN» is filled in at the end (by date order)."""
    data = {"signal": None}
    if family is not None:
        data["family"] = family
    data["channel"] = channel
    return ev("signal_received", day, data, actor)


def resolve(sig, day, resolution, actor="К-05", **extra):
    data = {"signal": sig["data"], "resolution": resolution}  # the code is filled in at the end
    data.update(extra)
    return ev("signal_resolved", day, data, actor)


# ЕФО: the 8 domains of SPEC §4.5, weak sides spread by fixed weights.
DOMAINS = ["housing_income", "health_safety", "self_care", "education",
           "identity", "emotional", "family_relations", "behaviour"]
WEIGHTS = [4, 3, 1, 1, 1, 3, 4, 2]


def domains(total):
    parts = [total * w // sum(WEIGHTS) for w in WEIGHTS]
    for i in range(total - sum(parts)):
        parts[(i * 3) % 8] += 1
    assert sum(parts) == total
    return dict(zip(DOMAINS, parts))


def efo(case, day, stage, total, levels, actor, form="both", rec=None):
    """efo_scored. form: both = domains + weak_total, domains = domains only,
    total = weak_total only (the three shapes SPEC §4 allows)."""
    data = {"case": case, "stage": stage}
    if form in ("both", "domains"):
        data["domains"] = domains(total)
    if form in ("both", "total"):
        data["weak_total"] = total
    if levels:
        data["children"] = [{"code": c, "level": l} for c, l in levels]
    return ev("efo_scored", day, data, actor, rec)


AID = [("food", "2500.00"), ("baby_food", "1800.00"), ("diapers", "1400.00"),
       ("hygiene", "900.00"), ("clothes", "3000.00"), ("certificate", "5000.00")]


def shelter(case, admitted, left, actor):
    """Crisis-centre stay: admitted for 3 months (until), extended by 3 months five
    days before each `until` that falls before the day of leaving, then left."""
    until = plus(admitted, 91)
    ev("shelter_admitted", admitted, {"case": case, "until": until}, actor)
    while left is not None and until < left:
        day, until = plus(until, -5), plus(until, 91)
        ev("shelter_extended", day, {"case": case, "until": until}, actor)
    if left is not None:
        ev("shelter_left", left, {"case": case}, actor)


CASE_NO = {}


def open_case(row, year_no):
    """Signal → case_opened → signal resolved as case_opened, ИПР, aid, a service.
    Returns the case code."""
    fam, prog, opened, kids, cur = row["family"], row["program"], row["opened"], row["children"], row["curator"]
    year = opened[:4]
    case = f"{year_no}/{year}_{prog}"
    CASE_NO[fam + opened] = case
    sig = signal(plus(opened, -6), fam, CHANNELS[year_no % len(CHANNELS)])
    children = [{"code": c, "born": b} for c, b in kids]
    ev("case_opened", opened, {"case": case, "family": fam, "program": prog, "children": children,
                               "curator": cur, "signal": sig["data"], "contract": f"Д-{year[2:]}/{year_no:02d}"}, cur)
    resolve(sig, opened, "case_opened", actor=cur, case=case)
    return case


def run_case(row, year_no):
    """All events of one case from the row of a table below."""
    cur = row["curator"]
    case = open_case(row, year_no)
    opened, closed = row["opened"], row.get("closed")
    kids = [c for c, _ in row["children"]]
    goals = row["_goals"] = 3 + year_no % 3
    if row["program"] == "КЦ":
        shelter(case, opened, row.get("left", closed), cur)
    for code, born in row.get("added", []):  # a child born during the case (pregnancy at opening)
        ev("child_added", born, {"case": case, "child": {"code": code, "born": born}}, cur)
        kids.append(code)
    ev("plan_set", plus(opened, 14), {"case": case, "goals": goals, "achieved": 0}, cur)
    kind, value = AID[year_no % len(AID)]
    ev("aid_issued", plus(opened, 10), {"case": case, "kind": kind, "quantity": 1, "value": value}, cur)
    ev("service_provided", plus(opened, 21), {"case": case, "kind": "psychological", "sessions": 4}, cur)
    if "curator_change" in row:
        day, new = row["curator_change"]
        ev("curator_assigned", day, {"case": case, "curator": new}, cur)
        cur = new
    if "efo" in row:  # ЕФО (only from 01.03.2020)
        e = row["efo"]
        entry_levels = list(zip(kids, e["entry_levels"]))
        efo(case, e["entry_day"], "entry", e["entry"], entry_levels, cur, form=e.get("form", "both"))
        if "interim" in e:
            day, total, lv = e["interim"]
            efo(case, day, "interim", total, list(zip(kids, lv)), cur, form="domains")
    if closed is None:
        return case
    outcome = row["outcome"]
    close_day = row.get("closed_as", closed)  # the day first entered (see case B)
    close_rec = row.get("closed_rec")
    achieved = goals if outcome == "stabilized" else 1
    ev("plan_set", row.get("plan_final", plus(closed, -2)), {"case": case, "goals": goals, "achieved": achieved}, cur)
    if "efo" in row and "exit" in row["efo"]:
        e = row["efo"]
        efo(case, closed, "exit", e["exit"], list(zip(kids, e["exit_levels"])), cur, rec=close_rec)
    closing = ev("case_closed", close_day,
                 {"case": case, "outcome": outcome,
                  "children": [{"code": c, "in_family": True} for c in kids]}, cur, rec=close_rec)
    row["_closing"] = closing
    if "follow_up" in row:  # мониторинговая анкета ЕФО через 6 месяцев после закрытия
        f = row["follow_up"]
        removed = f.get("removed")
        day, rec = f["day"], f.get("rec")
        stay = [(c, l) for c, l in zip(kids, f["levels"]) if c != removed]
        efo(case, day, "follow_up", f["total"], stay, "К-06", form="total", rec=rec)
        ev("follow_up_done", day,
           {"case": case, "months": 6, "stable": removed is None,
            "children": [{"code": c, "in_family": c != removed} for c in kids]}, "К-06", rec)
    return case


def kids(fam, *born):
    """Child codes of a family: Ф-19-017 → Р-19-017-1, Р-19-017-2 …"""
    return [(f"Р-{fam[2:]}-{i}", b) for i, b in enumerate(born, 1)]


def row(fam, prog, opened, born, cur, closed=None, outcome=None, **more):
    r = {"family": fam, "program": prog, "opened": opened, "children": kids(fam, *born),
         "curator": cur, "closed": closed, "outcome": outcome}
    r.update(more)
    return r


S, TF, TO = "stabilized", "terminated_by_family", "terminated_by_org"

# ===========================================================================
# 2019. Seed line 222: «В 2019 г. … получили 47 семей, из них 36 семей были взяты на
# комплексное сопровождение, 7 семьям были оказаны срочные социальные услуги, 4 семьи
# были переадресованы». Line 223: «Из 36 семей … 17 … сняты с сопровождения; 7 случаев
# были закрыты как не успешные …; 12 случаев были перенесены на следующий период».
# 36 = 8 cases opened in 2018 and still open on 01.01.2019 (our choice) + 28 opened in 2019.
# ===========================================================================

# 8 cases carried into 2019 from 2018: 6 stabilised + 2 unsuccessful in 2019.
CASES_2018 = [
    row("Ф-18-001", "МР", "2018-05-14", ["2016-03"], "К-01", "2019-02-15", S),
    row("Ф-18-002", "КЦ", "2018-07-02", ["2018-04"], "К-02", "2019-03-20", S),
    row("Ф-18-003", "МР", "2018-08-20", ["2015", "2017-09"], "К-01", "2019-04-30", S),
    row("Ф-18-004", "МР", "2018-09-10", ["2017-01"], "К-03", "2019-05-27", S),
    row("Ф-18-005", "КЦ", "2018-10-01", ["2018-08"], "К-02", "2019-01-25", TO),  # left КЦ against its rules
    row("Ф-18-006", "МР", "2018-10-22", ["2016-06", "2018-02"], "К-03", "2019-06-28", S),
    row("Ф-18-007", "КЦ", "2018-11-12", ["2018-10"], "К-02", "2019-03-05", TF, left="2019-03-01"),
    row("Ф-18-008", "МР", "2018-12-03", ["2014", "2017-11"], "К-01", "2019-09-16", S),
]

# 28 cases opened in 2019. Closed in 2019: 11 stabilised + 5 unsuccessful.
CASES_2019_CLOSED = [
    row("Ф-19-001", "МР", "2019-01-21", ["2017-05"], "К-01", "2019-06-14", S),
    row("Ф-19-002", "КЦ", "2019-02-04", ["2018-12"], "К-02", "2019-05-31", S),
    row("Ф-19-003", "МР", "2019-02-18", ["2016-02", "2018-07"], "К-03", "2019-04-12", TF),
    row("Ф-19-004", "МР", "2019-03-11", ["2017-10"], "К-04", "2019-08-30", S),
    # pregnant at opening (children []), the child is born in the КЦ: child_added
    {**row("Ф-19-005", "КЦ", "2019-03-25", [], "К-02", "2019-08-09", S), "added": [("Р-19-005-1", "2019-04-15")]},
    row("Ф-19-006", "МР", "2019-04-08", ["2015-08", "2018-03"], "К-01", "2019-10-18", S),
    row("Ф-19-007", "МР", "2019-04-22", ["2018-01"], "К-03", "2019-07-05", TO),
    row("Ф-19-008", "МР", "2019-05-13", ["2016-11"], "К-04", "2019-11-29", S),
    row("Ф-19-009", "КЦ", "2019-05-27", ["2019-02"], "К-02", "2019-07-19", TF),
    row("Ф-19-010", "МР", "2019-06-10", ["2017-04", "2019-01"], "К-01", "2019-12-13", S),
    row("Ф-19-011", "МР", "2019-06-24", ["2018-06"], "К-03", "2019-12-20", S),
    row("Ф-19-012", "МР", "2019-07-08", ["2014-09", "2016-12", "2018-10"], "К-04", "2019-09-27", TF),
    row("Ф-19-013", "КЦ", "2019-07-22", ["2019-05"], "К-05", "2019-11-15", S),
    row("Ф-19-014", "МР", "2019-08-12", ["2017-07"], "К-03", "2019-12-06", S),
    row("Ф-19-015", "МР", "2019-08-26", ["2018-09"], "К-04", "2019-10-25", TO),
    row("Ф-19-016", "МР", "2019-09-09", ["2016-05"], "К-01", "2019-12-27", S),
]


# ===========================================================================
# 2020. Seed line 224: «В 2020 г. 89 семей получили разные услуги …, из них 48 семьям
# были оказаны разовые, срочные социальные услуги …, 12 сигналов были переадресованы …,
# 29 семей получили весь комплекс услуг». 29 = the 12 cases carried over from 2019
# (line 223) + 17 cases opened in 2020.
#
# ЕФО (lines 256–266, 292–293): «С 01.03.2020 используется ЕФО»; 20 of the 29
# families have one (criteria: a child under 3, parents reachable); «14 семей проживали
# в кризисном центре; 6 семей не проживали»; 10 of the 20 (16 children) were closed in
# 2020 and had the monitoring ЕФО 6 months after closing: 8 stable, in 2 «дети были
# изъяты (по 1 ребенку в семье)». The other 10 ЕФО families have no exit ЕФО in 2020:
# 6 contracts terminated early (the family left, no closing assessment possible) and
# 4 still supported on 31.12.2020 (exit ЕФО in 2021).
#
# Group F below: the 10 monitored families (P2, P3.1, P3.2, follow-up figures).
# Entry levels crisis/unsatisfactory, exit and monitoring satisfactory/prosperous
# (P3.1 16 of 16); weak sides fall from entry to the latest ЕФО in all 10 (P3.2).
# In the 2 «изъят» families the monitoring form lists only the child still at home.
# ===========================================================================


def F(entry_day, entry, ent_lv, exit_, ex_lv, fu_day, fu_total, fu_lv, removed=None, fu_rec=None):
    return {"efo": {"entry_day": entry_day, "entry": entry, "entry_levels": ent_lv,
                    "exit": exit_, "exit_levels": ex_lv},
            "follow_up": {"day": fu_day, "total": fu_total, "levels": fu_lv, "removed": removed, "rec": fu_rec}}


C, U, SA, P = "crisis", "unsatisfactory", "satisfactory", "prosperous"

# 12 cases opened in 2019 and carried over into 2020 (line 223: «12 случаев были
# перенесены на следующий период»). Their 2020 outcomes:
CASES_2019_CARRIED = [
    # F: ЕФО introduced 01.03.2020 and filled for the families then in support
    {**row("Ф-19-017", "КЦ", "2019-09-16", ["2019-06", "2017-12"], "К-02", "2020-04-24", S),
     **F("2020-03-03", 31, [C, U], 14, [SA, SA], "2020-10-26", 12, [SA, P])},
    {**row("Ф-19-018", "КЦ", "2019-09-30", ["2019-08"], "К-05", "2020-05-15", S),
     **F("2020-03-04", 27, [C], 11, [SA], "2020-11-16", 11, [SA])},
    # not ЕФО: closed before 01.03.2020
    row("Ф-19-019", "КЦ", "2019-10-07", ["2019-03"], "К-02", "2020-01-24", S),
    # F, one child removed at the monitoring (Р-19-020-2)
    {**row("Ф-19-020", "КЦ", "2019-10-21", ["2019-07", "2017-09"], "К-05", "2020-05-29", S),
     **F("2020-03-05", 35, [C, C], 16, [SA, SA], "2020-12-01", 23, [SA, None], removed="Р-19-020-2")},
    {**row("Ф-19-021", "КЦ", "2019-10-28", ["2019-09", "2018-02"], "К-02", "2020-06-05", S),
     **F("2020-03-06", 22, [U, U], 9, [P, SA], "2020-12-07", 8, [P, SA])},
    # not ЕФО: contract terminated by the family before 01.03.2020
    row("Ф-19-022", "МР", "2019-11-05", ["2017-02"], "К-03", "2020-02-14", TF),
    {**row("Ф-19-023", "КЦ", "2019-11-11", ["2019-10"], "К-05", "2020-06-19", S),
     **F("2020-03-10", 29, [C], 13, [SA], "2020-12-21", 12, [SA])},
    {**row("Ф-19-024", "МР", "2019-11-18", ["2018-11", "2016-04"], "К-01", "2020-04-30", S),
     **F("2020-03-11", 18, [U, U], 8, [SA, P], "2020-11-02", 7, [SA, P])},
    # not ЕФО: closed before 01.03.2020
    row("Ф-19-025", "МР", "2019-11-25", ["2015-01", "2012-06"], "К-04", "2020-02-28", S),
    # F, one child removed at the monitoring (Р-19-026-1)
    {**row("Ф-19-026", "МР", "2019-12-02", ["2015-10", "2019-04"], "К-03", "2020-05-22", S),
     **F("2020-03-12", 24, [U, C], 12, [SA, SA], "2020-11-23", 19, [None, SA], removed="Р-19-026-1")},
    # ЕФО family, contract terminated by the organisation (left the КЦ against its
    # rules): no exit ЕФО
    {**row("Ф-19-027", "КЦ", "2019-12-09", ["2019-09"], "К-02", "2020-08-14", TO),
     "efo": {"entry_day": "2020-03-13", "entry": 30, "entry_levels": [C], "form": "domains"}},
    # not ЕФО: no child under 3 (born 2014 and 2016; the ЕФО sample took families
    # with a child under 3, line 256)
    {**row("Ф-19-028", "МР", "2019-12-16", ["2014-05", "2016-08"], "К-04", "2020-09-25", S),
     "curator_change": ("2020-03-02", "К-06")},
]

# 17 cases opened in 2020. Outcomes as known now: 8 stabilised (3 in group F, 5 without
# ЕФО), 5 unsuccessful (all ЕФО families without an exit ЕФО), 4 carried over into 2021. Cases A (Ф-20-008) and B (Ф-20-010) are the two closings
# that the report of 31.01.2021 did not know (README: «P1 16 of 29 → 18 of 29»).
A_FAMILY, B_FAMILY = "Ф-20-008", "Ф-20-010"
CASES_2020 = [
    # F, opened in January/February, entry ЕФО in March, monitored in December
    {**row("Ф-20-001", "КЦ", "2020-01-20", ["2019-11", "2018-05"], "К-05", "2020-06-12", S),
     **F("2020-03-02", 26, [C, U], 12, [SA, SA], "2020-12-14", 10, [SA, SA])},
    # not ЕФО: no child under 3 (born 2014 and 2016)
    row("Ф-20-002", "МР", "2020-01-27", ["2014-03", "2016-10"], "К-01", "2020-09-11", S),
    {**row("Ф-20-003", "КЦ", "2020-02-10", ["2020-01"], "К-02", "2020-06-26", S),
     **F("2020-03-04", 33, [C], 15, [SA], "2020-12-28", 14, [SA], fu_rec="2021-01-11")},
    {**row("Ф-20-004", "МР", "2020-02-17", ["2018-09"], "К-03", "2020-06-30", S),
     **F("2020-03-06", 20, [U], 10, [SA], "2020-12-30", 9, [P], fu_rec="2021-01-11")},
    # not ЕФО (no child < 3); the family was redirected in 2019 (REDIRECTED_2019) and
    # came back in 2020
    row("Ф-19-202", "МР", "2020-03-16", ["2015-06"], "К-04", "2020-10-30", S),
    # ЕФО, terminated early, no exit ЕФО
    {**row("Ф-20-005", "КЦ", "2020-03-23", ["2020-02"], "К-05", "2020-08-21", TO),
     "efo": {"entry_day": "2020-03-25", "entry": 28, "entry_levels": [C], "form": "domains"}},
    row("Ф-20-006", "МР", "2020-04-13", ["2013-11", "2015-12"], "К-01", "2020-11-27", S),  # not ЕФО (no child < 3)
    {**row("Ф-20-007", "МР", "2020-04-20", ["2019-07", "2017-05"], "К-03", "2020-09-18", TF),
     "efo": {"entry_day": "2020-04-24", "entry": 21, "entry_levels": [U, U], "form": "domains"}},
    # case A — not ЕФО (no child < 3); closed 24.12.2020, entered only on 15.03.2021 (late entry)
    row(A_FAMILY, "МР", "2020-05-18", ["2016-02"], "К-04", "2020-12-24", S,
        closed_rec="2021-03-15", plan_final="2020-12-22"),
    {**row("Ф-20-009", "КЦ", "2020-05-25", ["2020-04"], "К-02", "2020-10-09", TF, left="2020-10-02"),
     "efo": {"entry_day": "2020-05-27", "entry": 32, "entry_levels": [C], "form": "domains"}},
    # case B — not ЕФО (no child < 3); closed 29.12.2020, entered on 20.01.2021 dated 14.01.2021,
    # amended on 20.04.2021 to 29.12.2020 (event_amended below)
    row(B_FAMILY, "МР", "2020-06-08", ["2012-04", "2014-07", "2016-09"], "К-01", "2020-12-29", S,
        closed_as="2021-01-14", closed_rec="2021-01-20", plan_final="2020-12-25"),
    {**row("Ф-20-011", "КЦ", "2020-06-22", ["2018-12"], "К-05", "2020-11-13", TO),
     "efo": {"entry_day": "2020-06-24", "entry": 25, "entry_levels": [U], "form": "domains"}},
    {**row("Ф-20-012", "МР", "2020-07-13", ["2019-10"], "К-03", "2020-12-04", TF),
     "efo": {"entry_day": "2020-07-17", "entry": 19, "entry_levels": [U], "form": "domains"}},
    # ЕФО, still in support on 31.12.2020 (carried over into 2021); two have an
    # interim ЕФО in December 2020 (not an exit: does not count for P3.1/P3.2)
    {**row("Ф-20-013", "КЦ", "2020-09-07", ["2020-07"], "К-02", None, None, left="2021-02-26"),
     "efo": {"entry_day": "2020-09-09", "entry": 34, "entry_levels": [C], "form": "domains",
             "interim": ("2020-12-08", 22, [SA])}},
    {**row("Ф-20-014", "МР", "2020-09-28", ["2018-04", "2020-05"], "К-01", None, None),
     "efo": {"entry_day": "2020-10-01", "entry": 23, "entry_levels": [U, C], "form": "domains",
             "interim": ("2020-12-15", 17, [U, SA])}},
    {**row("Ф-20-015", "КЦ", "2020-10-19", ["2020-09"], "К-05", None, None, left="2020-12-18"),
     "efo": {"entry_day": "2020-10-21", "entry": 30, "entry_levels": [C], "form": "domains"}},
    {**row("Ф-20-016", "КЦ", "2020-11-16", ["2019-12"], "К-02", None, None, left="2021-06-30"),
     "efo": {"entry_day": "2020-11-18", "entry": 27, "entry_levels": [U], "form": "domains"}},
]

# 2021, after the periods replayed: how the 4 carried-over ЕФО cases ended (so the
# ledger "as known now" goes on past 2020; none of it is dated in 2019 or 2020).
# Ф-20-013 and Ф-20-016 leave the КЦ on their closing day (row `left` above).
CLOSINGS_2021 = {
    "Ф-20-013": ("2021-02-26", S, 15, [SA]),
    "Ф-20-014": ("2021-03-31", S, 12, [SA, P]),
    "Ф-20-015": ("2021-05-14", TF, None, None),
    "Ф-20-016": ("2021-06-30", S, 13, [SA]),
}

# ===========================================================================
# Signals that did not become cases.
# ===========================================================================
# 2019, line 222: «7 семьям были оказаны срочные социальные услуги, 4 семьи были
# переадресованы в другие профильные организации».
URGENT_2019 = [f"Ф-19-{n}" for n in range(101, 108)]
REDIRECTED_2019 = [f"Ф-19-{n}" for n in range(201, 205)]
# 2020, line 224: «48 семьям были оказаны разовые, срочные социальные услуги
# (продуктовые наборы, вещевая помощь, услуги юриста или психолога и пр.), 12 сигналов
# были переадресованы». 48 families = 47 new + Ф-19-103 (urgent help in 2019 too);
# Ф-20-110 called twice (two signals, one family). 12 redirected signals, 12 families.
URGENT_2020 = [f"Ф-20-{n}" for n in range(101, 148)] + ["Ф-19-103"]
URGENT_2020_TWICE = "Ф-20-110"
REDIRECTED_2020 = [f"Ф-20-{n}" for n in range(201, 213)]
# Anonymous calls with no family code and no action (not counted anywhere: reach
# counts only non-null families).
NO_ACTION = {2019: ["2019-04-03", "2019-10-15"], 2020: ["2020-02-19", "2020-07-07", "2020-11-24"]}

REDIRECT_TO = ["КГБУ «Хабаровский центр социальной помощи семье и детям»",
               "отдел опеки и попечительства", "КГКУ «Центр занятости населения г. Хабаровска»",
               "КГБУЗ «Краевая клиническая психиатрическая больница»",
               "КГБУ «Хабаровский комплексный центр социального обслуживания населения»"]


def spread(year, n, first="01-09", last="12-18"):
    """n days spread evenly from first to last of the year."""
    a, b = D(f"{year}-{first}"), D(f"{year}-{last}")
    step = (b - a).days / max(n - 1, 1)
    return [(a + dt.timedelta(days=round(i * step))).isoformat() for i in range(n)]


def urgent(families, year):
    days = spread(year, len(families))
    for i, (fam, day) in enumerate(zip(families, days)):
        s = signal(day, fam, CHANNELS[i % len(CHANNELS)])
        done = plus(day, i % 3)
        resolve(s, done, "urgent_help")
        if i % 5 == 4:  # «услуги юриста или психолога»
            ev("service_provided", done, {"family": fam, "kind": "legal" if i % 2 else "psychological"}, "К-05")
        else:           # «продуктовые наборы, вещевая помощь»
            kind, value = AID[i % len(AID)]
            ev("aid_issued", done, {"family": fam, "signal": s["data"], "kind": kind, "quantity": 1,
                                    "value": value}, "К-05")


def redirected(families, year):
    days = spread(year, len(families), "01-15", "12-10")
    for i, (fam, day) in enumerate(zip(families, days)):
        s = signal(day, fam, CHANNELS[(i + 2) % len(CHANNELS)])
        resolve(s, plus(day, 1), "redirected", redirected_to=REDIRECT_TO[i % len(REDIRECT_TO)])


def no_action(year):
    for day in NO_ACTION[year]:
        s = signal(day, None, "phone")
        resolve(s, day, "no_action")


# ===========================================================================
# Emit.
# ===========================================================================
def numbered(rows, first):
    """Case numbers in order of opening within the year."""
    return [(r, first + i) for i, r in enumerate(sorted(rows, key=lambda r: r["opened"]))]


for r, no in numbered(CASES_2018, 14):          # «14/2018_…»: earlier 2018 cases are not in the ledger
    run_case(r, no)
for r, no in numbered(CASES_2019_CLOSED + CASES_2019_CARRIED, 1):
    run_case(r, no)
urgent(URGENT_2019, 2019)
redirected(REDIRECTED_2019, 2019)
no_action(2019)

for r, no in numbered(CASES_2020, 1):
    run_case(r, no)
urgent(URGENT_2020, 2020)
s = signal("2020-11-05", URGENT_2020_TWICE, "messenger")   # Ф-20-110's second call
resolve(s, "2020-11-05", "urgent_help")
ev("aid_issued", "2020-11-05", {"family": URGENT_2020_TWICE, "signal": s["data"], "kind": "food",
                                 "quantity": 2, "value": "5000.00"}, "К-05")
redirected(REDIRECTED_2020, 2020)
no_action(2020)

# The P1 correction of spring 2021 (README, «P1 2020»): case B's closing was entered on
# 20.01.2021 with the date of the consilium (14.01.2021); reconciling the ledger with
# the contract register (Журнал регистрации договоров, line 229) in April 2021 found the
# agreement ending the contract signed on 29.12.2020.
b = next(r for r in CASES_2020 if r["family"] == B_FAMILY)
amend = ev("event_amended", "2021-04-20",
           {"target": None, "reason": "Сверка с журналом регистрации договоров: договор "
                                      "расторгнут по соглашению сторон 29.12.2020 (успешно), "
                                      "а не 14.01.2021 (дата консилиума)",
            "occurred_on": "2020-12-29", "data": dict(b["_closing"]["data"])}, "методист")
amend["_target"] = b["_closing"]

for fam, (day, outcome, total, levels) in CLOSINGS_2021.items():
    r = next(r for r in CASES_2020 if r["family"] == fam)
    case, cur, kc = CASE_NO[fam + r["opened"]], r["curator"], [c for c, _ in r["children"]]
    goals = r["_goals"]
    ev("plan_set", plus(day, -2), {"case": case, "goals": goals, "achieved": goals if outcome == S else 1}, cur)
    if total is not None:
        efo(case, day, "exit", total, list(zip(kc, levels)), cur, form="domains")
    ev("case_closed", day, {"case": case, "outcome": outcome,
                            "children": [{"code": c, "in_family": True} for c in kc]}, cur)

# Order, number signals by date of reception, stamp ids and recorded_at.
EVENTS.sort(key=lambda e: (e["_rec"], e["occurred_on"], e["_n"]))
for e in sorted((e for e in EVENTS if e["type"] == "signal_received"), key=lambda e: (e["occurred_on"], e["_n"])):
    y = e["occurred_on"][2:4]
    SIGNAL_NO[y] = SIGNAL_NO.get(y, 0) + 1
    e["data"]["signal"] = f"С-{y}-{SIGNAL_NO[y]:03d}"
per_day = {}
out = []
for i, e in enumerate(EVENTS, 1):
    e["id"] = f"00000000-0000-4000-8001-{i:012d}"
    k = per_day.get(e["_rec"], 0)
    per_day[e["_rec"]] = k + 1
    assert k < 600
    e["recorded_at"] = f"{e['_rec']}T{9 + k // 60:02d}:{k % 60:02d}:00Z"
for e in EVENTS:
    d = e["data"]
    if isinstance(d.get("signal"), dict):  # a reference to the signal_received's data
        d["signal"] = d["signal"]["signal"]
    if e["type"] == "event_amended":
        d["target"] = e["_target"]["id"]
    out.append(json.dumps({k: e[k] for k in ("id", "type", "occurred_on", "recorded_at", "actor", "data")},
                          ensure_ascii=False))

text = "\n".join(out) + "\n"
if sys.argv[1:] == ["-"]:
    sys.stdout.write(text)
else:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "events.jsonl"), "w", encoding="utf-8") as f:
        f.write(text)
