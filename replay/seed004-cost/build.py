#!/usr/bin/env python3
"""Writes events.jsonl for the seed 004 «Теплый дом» cost-of-result replay.

Source: ../shared/seeds/004_8cfbf48a7612af57.txt, table «Социальные результаты,
достигаемые проектом "Тёплый дом"», row «Сохранение семьи, проживание ребёнка с
матерью»: 2019 — расходы фонда 5 271 224,09, 11 семей, 12 детей; 2020 — 5 500 786,52,
10 семей, 14 детей. Families and children are the ones whose situation was
stabilised in the year (the denominators of cost_per_family / cost_per_child).
Pseudonymous codes only. Run: python3 build.py > events.jsonl
"""
import json

YEARS = {
    # year: (expenses in kopecks, children per stabilised family)
    2019: (527122409, [1] * 10 + [2]),          # 11 families, 10 + 2 = 12 children
    2020: (550078652, [1] * 6 + [2] * 4),       # 10 families, 6 + 8 = 14 children
}

events = []
n = 0


def add(day, kind, data, hour=10):
    global n
    n += 1
    events.append({
        "id": f"00000000-0000-4000-8004-{n:012d}",
        "type": kind,
        "occurred_on": day,
        "recorded_at": f"{day}T{hour:02d}:{n % 60:02d}:00Z",
        "actor": "методист",
        "data": data,
    })


for year, (total, kids) in YEARS.items():
    # One case per stabilised family: opened in January, closed stabilised in the
    # month of its number (so all close inside the year), children kept in the family.
    for i, k in enumerate(kids, 1):
        case = f"{i}/{year}_ТД"
        children = [{"code": f"Р-{year}-{i}-{c}"} for c in range(1, k + 1)]
        add(f"{year}-01-{i + 10:02d}", "case_opened",
            {"case": case, "family": f"Ф-{year}-{i:02d}", "program": "ТД", "children": children})
    for i, k in enumerate(kids, 1):
        case = f"{i}/{year}_ТД"
        add(f"{year}-{i + 1:02d}-15", "case_closed",
            {"case": case, "outcome": "stabilized",
             "children": [{"code": f"Р-{year}-{i}-{c}", "in_family": True} for c in range(1, k + 1)]})
    # The year's expenses as twelve monthly records that add up to the seed's total.
    monthly = total // 12
    for m in range(1, 13):
        amount = monthly if m < 12 else total - 11 * monthly
        add(f"{year}-{m:02d}-28", "expense_recorded",
            {"program": "ТД", "amount": f"{amount // 100}.{amount % 100:02d}", "purpose": "расходы фонда за месяц"}, hour=18)

events.sort(key=lambda e: (e["recorded_at"], e["id"]))
for e in events:
    print(json.dumps(e, ensure_ascii=False))
