//! `caseledger demo`: a newcomer's tour. It builds a fresh ledger from the «Мама рядом»
//! replay (seed 001), prints the 2020 figures as known when the annual report was
//! submitted (January 2021) and as known now, shows which events changed P1, and
//! verifies the chain and an export of it.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::codec::hex;
use crate::error::{Error, Result};
use crate::indicators::{self, Period};
use crate::ledger::{AppendOptions, Ledger};
use crate::project::{parse_known_at, Cut};
use crate::record::StateRules;
use crate::report::figure_words;

/// The «Мама рядом» 2019–2020 golden ledger (replay/mama-ryadom-2019-2020).
const REPLAY: &str = include_str!("../../replay/mama-ryadom-2019-2020/events.jsonl");

/// Marks a directory as the demo's own, so the demo never deletes anything else.
const MARKER: &str = "CASELEDGER-DEMO";

/// Indicators shown side by side (ids of indicators/default.json).
const SHOWN: [&str; 11] = [
    "reach",
    "complex_support",
    "urgent_help",
    "redirected",
    "P1",
    "P1_unsuccessful",
    "P1_carried_over",
    "P2",
    "P3.1",
    "P3.2",
    "follow_up_stable",
];

pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join("caseledger-demo")
}

pub fn run(dir: &Path, out: &mut dyn Write) -> Result<()> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            return Err(Error::Usage(format!(
                "{} уже есть и это не демонстрационный реестр; укажите демо другую папку (--dir)",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir)?;
    }
    let ledger = Ledger::init(dir)?;
    std::fs::write(dir.join(MARKER), "created by `caseledger demo`; safe to delete\n")?;
    let opts = AppendOptions { actor: "demo".into(), now: chrono::Utc::now() };
    let (acks, _) = StateRules::append_with(&ledger, |r| ledger.append_jsonl(REPLAY.as_bytes(), &opts, r))?;

    writeln!(out, "caseledger — демонстрация на данных практики «Мама рядом» (2019–2020)")?;
    writeln!(
        out,
        "Реестр {}: {} из replay/mama-ryadom-2019-2020, каждое сцеплено хешем BLAKE3",
        dir.display(),
        crate::domain::words::plural(acks.len() as u64, ("событие", "события", "событий"))
    )?;

    let year = Period {
        from: NaiveDate::from_ymd_opt(2020, 1, 1).expect("date"),
        to: NaiveDate::from_ymd_opt(2020, 12, 31).expect("date"),
    };
    let then = Cut { known_at: parse_known_at("2021-01-31"), at_seq: None };
    let defs = indicators::default_definitions();
    let a = indicators::compute(&ledger, year, then, &defs)?;
    let b = indicators::compute(&ledger, year, Cut::everything(), &defs)?;
    writeln!(out, "\nПоказатели за 2020 год: как было известно 31.01.2021 → как известно сейчас")?;
    for id in SHOWN {
        let (Some(x), Some(y)) = (a.figures.iter().find(|f| f.id == id), b.figures.iter().find(|f| f.id == id)) else {
            continue;
        };
        let mark = if x != y { "   ← изменилось" } else { "" };
        writeln!(out, "{id:<18} {}", crate::report::title_of(&defs, id))?;
        writeln!(out, "{:<18} {:<22} → {}{mark}", "", figure_words(x), figure_words(y))?;
    }
    writeln!(
        out,
        "Срез 31.01.2021: событие № {} (хеш {}…); сейчас: № {} (хеш {}…)",
        a.seq,
        &hex(&a.head)[..16],
        b.seq,
        &hex(&b.head)[..16]
    )?;

    // Which families P1 counts now but did not then, and the later events that did it.
    let p1 = defs.iter().find(|d| d.id == "P1").expect("P1 is a default indicator");
    let now = indicators::lineage(&ledger, year, Cut::everything(), p1, false)?;
    let then_lineage = indicators::lineage(&ledger, year, then, p1, false)?;
    let before: BTreeSet<&str> = then_lineage.numerator.subjects.iter().map(|s| s.key.as_str()).collect();
    writeln!(out, "\nПочему P1 изменился (explain P1): семьи, которые засчитаны сейчас, но не в январе 2021:")?;
    for s in &now.numerator.subjects {
        let key = &s.key;
        if before.contains(key.as_str()) {
            continue;
        }
        for row in &s.rows {
            writeln!(out, "  семья {key}, случай {}:", row.case.as_deref().unwrap_or("?"))?;
            for e in &row.events {
                let seq = e.seq;
                let Some(ev) = ledger.record(seq)?.and_then(|r| r.parse().ok()) else { continue };
                if then.known_at.is_some_and(|t| crate::codec::parse_stamp(&ev.recorded_at).is_some_and(|r| r > t)) {
                    let day = crate::codec::parse_date(&ev.occurred_on)
                        .map_or_else(|| ev.occurred_on.clone(), crate::domain::words::date);
                    let stamp = crate::domain::words::stamp(&ev.recorded_at);
                    writeln!(
                        out,
                        "    № {seq} «{}» — дата события {day}, записано {stamp} (хеш {}…)",
                        crate::domain::words::event_type(&ev.kind),
                        &ev.hash[..16]
                    )?;
                }
            }
        }
    }

    let verified = ledger.verify()?;
    writeln!(
        out,
        "\nПроверка цепочки: цела, {}, последний хеш {}",
        crate::domain::words::plural(verified.seq, ("событие", "события", "событий")),
        hex(&verified.head)
    )?;
    let export = dir.join("export.jsonl");
    crate::files::write_atomically(&export, |w| ledger.export(w).map(|_| ()))?;
    let again = Ledger::verify_export(std::io::BufReader::new(std::fs::File::open(&export)?))?;
    let same = if again.head == verified.head { "да" } else { "НЕТ" };
    writeln!(out, "Выгрузка {} проверена без реестра; последний хеш совпадает: {same}", export.display())?;
    writeln!(out, "\nДальше:")?;
    writeln!(out, "  caseledger --ledger {} indicators --year 2020 --known-at 2021-01-31", dir.display())?;
    writeln!(out, "  caseledger --ledger {} explain P1 --year 2020 --excluded", dir.display())?;
    writeln!(out, "  caseledger --ledger {} cases --on 2020-12-31", dir.display())?;
    Ok(())
}
