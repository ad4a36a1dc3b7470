//! What a person must be told about the ledger's safety nets (SPEC §20): a witness
//! that has not cosigned, or a mirror that has not said how far it holds, for longer
//! than three checkpoint periods. The checkpoint signer keeps each witness's last
//! answer in `DIR/witness-status.json`; mirrors' reports are in `DIR/mirrors.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

const FILE: &str = "witness-status.json";

/// A witness's last answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WitnessStatus {
    /// When it last cosigned.
    pub ok_at: Option<String>,
    /// The first failure since then, and the latest reason.
    pub failing_since: Option<String>,
    pub error: Option<String>,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

pub fn witnesses(dir: &Path) -> BTreeMap<String, WitnessStatus> {
    std::fs::read(path(dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

static WRITE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Keeps one round of answers: `Ok` for a witness that cosigned, `Err(why)` for one
/// that did not.
pub fn record_witnesses(dir: &Path, answers: &[(String, std::result::Result<(), String>)]) -> Result<()> {
    if answers.is_empty() {
        return Ok(());
    }
    let _one = WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let now = crate::codec::format_stamp(&Utc::now());
    let mut all = witnesses(dir);
    for (name, answer) in answers {
        let s = all.entry(name.clone()).or_default();
        match answer {
            Ok(()) => *s = WitnessStatus { ok_at: Some(now.clone()), failing_since: None, error: None },
            Err(why) => {
                s.failing_since.get_or_insert_with(|| now.clone());
                s.error = Some(why.clone());
            }
        }
    }
    let text = serde_json::to_vec_pretty(&all).map_err(|e| crate::Error::Storage(format!("{FILE}: {e}")))?;
    crate::files::write_atomically(&path(dir), |w| Ok(w.write_all(&text)?))
}

/// The alerts of the ledger in `dir` at `now`, each one sentence in Russian.
pub fn alerts(dir: &Path, now: DateTime<Utc>) -> Vec<String> {
    let Ok(config) = crate::config::Config::load(dir) else {
        return vec!["config.toml с ошибкой: выполните caseledger config check".into()];
    };
    let every = config.checkpoint_every.unwrap_or(Duration::from_secs(60));
    let limit = chrono::Duration::from_std(every * 3).unwrap_or(chrono::Duration::minutes(3));
    let minutes = (every.as_secs() * 3).div_ceil(60);
    let longer = crate::domain::words::plural(minutes, ("минуты", "минут", "минут"));
    let since = |s: &str| crate::codec::parse_stamp(s);
    let mut out = Vec::new();
    let mirrors = crate::mirror::heads::load(dir);
    for name in &config.mirrors {
        match mirrors.get(name) {
            None => out.push(format!(
                "Зеркало {name} ни разу не сообщило, сколько хранит: контрольные точки не уходят свидетелям. \
                 Проверьте, что caseledger mirror запущено с токеном {name}."
            )),
            Some(h) if since(&h.at).is_some_and(|t| now - t > limit) => out.push(format!(
                "Зеркало {name} молчит дольше {longer}: последний раз {} оно хранило {}. \
                 Контрольные точки для свидетелей ждут его.",
                crate::domain::words::stamp(&h.at),
                crate::domain::words::plural(h.seq, ("событие", "события", "событий"))
            )),
            Some(_) => {}
        }
    }
    for (name, s) in witnesses(dir) {
        if let Some(from) = s.failing_since.as_deref().filter(|f| since(f).is_some_and(|t| now - t > limit)) {
            out.push(format!(
                "Свидетель {name} не заверяет контрольные точки дольше {longer} (с {}): {}",
                crate::domain::words::stamp(from),
                s.error.as_deref().unwrap_or("причина неизвестна")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirror_silent_for_three_periods_and_a_failing_witness_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "checkpoint_every = 60\nmirrors = [\"m1\", \"m2\"]\n").unwrap();
        let at = |mins: i64| crate::codec::format_stamp(&(Utc::now() - chrono::Duration::minutes(mins)));
        let held = |mins| crate::mirror::heads::Held { seq: 700, head: "00".into(), at: at(mins) };
        crate::mirror::heads::record(dir.path(), "m1", held(10)).unwrap();
        record_witnesses(dir.path(), &[("w1".into(), Err("connection refused".into())), ("w2".into(), Ok(()))])
            .unwrap();
        // Just failed: not yet an alert; m2 never reported; m1 silent for 10 minutes.
        let now = Utc::now();
        let a = alerts(dir.path(), now);
        assert_eq!(a.len(), 2, "{a:?}");
        assert!(a[0].starts_with("Зеркало m1 молчит дольше 3 минут"), "{a:?}");
        assert!(a[0].contains("700 событий"), "{a:?}");
        assert!(a[1].starts_with("Зеркало m2 ни разу не сообщило"), "{a:?}");
        // Four minutes later the witness has failed for longer than 3 × 60 s.
        let a = alerts(dir.path(), now + chrono::Duration::minutes(4));
        assert_eq!(a.len(), 3, "{a:?}");
        assert!(a[2].starts_with("Свидетель w1 не заверяет") && a[2].ends_with("connection refused"), "{a:?}");
        // A fresh report and a cosignature clear them.
        crate::mirror::heads::record(dir.path(), "m1", held(0)).unwrap();
        crate::mirror::heads::record(dir.path(), "m2", held(0)).unwrap();
        record_witnesses(dir.path(), &[("w1".into(), Ok(()))]).unwrap();
        assert_eq!(alerts(dir.path(), Utc::now()), Vec::<String>::new());
    }
}
