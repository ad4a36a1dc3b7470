//! `caseledger demo`: a newcomer's tour on an embedded sample history. It builds a
//! fresh ledger in a default place, shows the events, exports them and verifies both
//! the ledger and the export. (The indicators issue extends it with figures and
//! lineage.)

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::domain::StateRules;
use crate::error::{Error, Result};
use crate::ledger::event::hex;
use crate::ledger::{AppendOptions, Ledger};

/// A short case history with pseudonymous codes: a signal that became a case, one
/// urgent-help signal, an ЕФО at entry and exit, aid, a closure, a follow-up and a
/// correction recorded later.
const SAMPLE: &str = include_str!("../../samples/quickstart.jsonl");

/// Marks a directory as the demo's own, so the demo never deletes anything else.
const MARKER: &str = "CASELEDGER-DEMO";

pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join("caseledger-demo")
}

pub fn run(dir: &Path, out: &mut dyn Write) -> Result<()> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            return Err(Error::Usage(format!(
                "{} exists and is not a demo ledger; pass another --dir to the demo",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir)?;
    }
    let mut ledger = Ledger::init(dir)?;
    std::fs::write(dir.join(MARKER), "created by `caseledger demo`; safe to delete\n")?;
    let opts = AppendOptions { actor: "demo".into(), now: chrono::Utc::now() };
    let acks = ledger.append_jsonl(SAMPLE.as_bytes(), &opts, &mut StateRules::new())?;
    writeln!(out, "caseledger — демонстрация")?;
    writeln!(out, "Реестр: {}", dir.display())?;
    writeln!(out, "Добавлено событий: {} (каждое сцеплено с предыдущим хешем BLAKE3)\n", acks.len())?;
    writeln!(out, "{:>3}  {:<10}  {:<18}  {:<12}  что", "№", "дата", "тип", "дело/сигнал")?;
    ledger.for_each(1, |seq, rec| {
        let ev = rec.parse().map_err(|reason| Error::Integrity { seq, reason })?;
        let key =
            ["case", "signal", "target"].iter().find_map(|k| ev.data.get(*k).and_then(|v| v.as_str())).unwrap_or("");
        writeln!(out, "{seq:>3}  {:<10}  {:<18}  {:<12}  {}", ev.occurred_on, ev.kind, short(key), describe(&ev.kind))?;
        Ok(())
    })?;
    // The same case as known before and after the correction was recorded.
    let case = crate::domain::payload::Code("14/2021_МР".into());
    let before = crate::project::Cut { known_at: crate::project::parse_known_at("2022-02-28"), at_seq: None };
    writeln!(out)?;
    for (label, cut) in [("на 28.02.2022 (до исправления)", before), ("сейчас", crate::project::Cut::everything())]
    {
        let world = crate::project::World::load(&ledger, cut)?;
        if let Some(state) = crate::project::case::fold(&world, &case, None) {
            let plan = state.plan.map(|p| format!("{} из {}", p.achieved, p.goals)).unwrap_or_else(|| "—".into());
            writeln!(
                out,
                "Случай {case}, как известно {label}: ИПР достигнуто {plan}; ЕФО вход {} → выход {}",
                weak(&state.efo.entry),
                weak(&state.efo.exit)
            )?;
        }
    }
    let verified = ledger.verify()?;
    writeln!(out, "\nПроверка цепочки: цела, событий {}, последний хеш {}", verified.seq, hex(&verified.head))?;
    let export = dir.join("export.jsonl");
    super::write_atomically(&export, |w| ledger.export(w).map(|_| ()))?;
    let again = Ledger::verify_export(std::io::BufReader::new(std::fs::File::open(&export)?))?;
    writeln!(out, "Выгрузка {} проверена без реестра: последний хеш {}", export.display(), hex(&again.head))?;
    writeln!(
        out,
        "\nДальше: caseledger --ledger {} log   |   caseledger verify --export {}",
        dir.display(),
        export.display()
    )?;
    Ok(())
}

fn weak(v: &Option<crate::project::case::EfoView>) -> String {
    v.as_ref().map_or("—".into(), |v| v.weak_sides.to_string())
}

fn short(s: &str) -> String {
    s.chars().take(12).collect()
}

fn describe(kind: &str) -> &'static str {
    match kind {
        "signal_received" => "принят сигнал",
        "signal_resolved" => "сигнал отработан",
        "case_opened" => "открыт случай, заключён договор",
        "child_added" => "добавлен ребёнок",
        "curator_assigned" => "назначен куратор",
        "efo_scored" => "оценка ЕФО",
        "plan_set" => "ИПР: цели и достигнутое",
        "aid_issued" => "выдана материальная помощь",
        "service_provided" => "оказана услуга",
        "shelter_admitted" => "заселение в КЦ",
        "shelter_extended" => "продление проживания в КЦ",
        "shelter_left" => "выход из КЦ",
        "case_closed" => "случай закрыт",
        "follow_up_done" => "мониторинг после закрытия",
        "expense_recorded" => "расход программы",
        "event_voided" => "исправление: событие отменено",
        "event_amended" => "исправление: событие уточнено",
        _ => "",
    }
}
