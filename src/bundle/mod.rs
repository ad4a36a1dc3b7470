//! The funder's bundle (SPEC §15, §19): one zip that verifies with no access to the
//! organisation — the published report, the events 1…S of the log that holds its
//! publication, the lineage of every figure, the witness policy, a README and a copy
//! of the reference verifier — made by publishing the report (`report::publish`), so
//! that every claim a funder reads is bound to the signed, witnessed log. Its
//! verifier, which needs no ledger, is [`verify`]; the zip is read strictly
//! ([`archive`]).

pub mod archive;
mod verify;

use serde_json::Value;

pub use verify::{claimed_origin, diff, verify, verify_keeping, Diff, Pins, Verdict};

use crate::checkpoint::{LogKey, Policy};
use crate::error::{Error, Result};
use crate::indicators::{self, Definition, Period};
use crate::ledger::event::InputEvent;
use crate::ledger::{Ack, Ledger};
use crate::project::Cut;
use crate::report::publish::{self, Published};

pub use archive::MEMBERS;

/// The reference verifier for funders (`tools/verify_bundle.py`), which every bundle
/// carries, hashed in its publication.
pub const VERIFIER: &str = include_str!("../../tools/verify_bundle.py");

/// A bundle made: the zip, and what was published.
pub struct Made {
    pub zip: Vec<u8>,
    pub published: Published,
}

/// Publishes a report for a period and a cut and writes its bundle. The ledger must
/// have a signing key: a bundle without a signed checkpoint would prove nothing.
/// `append` appends the publishing event as the caller's user.
pub fn create(
    ledger: &Ledger,
    period: Period,
    cut: Cut,
    defs: &[Definition],
    append: &dyn Fn(InputEvent) -> Result<Ack>,
) -> Result<Made> {
    let dir = ledger.store().dir().to_path_buf();
    let key = LogKey::load(&dir)?.ok_or_else(|| {
        Error::Usage(format!(
            "у {} нет ключа подписи, а пакет без подписанной контрольной точки ничего не доказывает: выполните `caseledger key init`",
            dir.display()
        ))
    })?;
    let policy = Policy::load(&dir)?.to_text(&key.vkey());
    let files = |report: &Value, cut: Cut| -> Result<Vec<(&'static str, Vec<u8>)>> {
        // The lineage at exactly the report's cut (nothing appended since enters it).
        let lineage: Vec<_> = indicators::lineages(ledger, period, cut, defs)?.iter().map(|l| l.to_json()).collect();
        let lineage_text = serde_json::to_string(&lineage).map_err(std::io::Error::from)? + "\n";
        Ok(vec![
            ("lineage.json", lineage_text.into_bytes()),
            ("README.md", readme(report, &key.vkey()).into_bytes()),
            ("verify_bundle.py", VERIFIER.as_bytes().to_vec()),
            ("policy.txt", policy.into_bytes()),
        ])
    };
    let request = publish::Request { period, cut, defs };
    let published = publish::publish(ledger, &request, files, append)?;
    let size = published.signed.checkpoint.size;
    let mut events = Vec::new();
    if size > 0 {
        ledger.for_each_while(1, |s, rec| {
            rec.to_json_line(&mut events);
            Ok(s < size)
        })?;
    }
    let report_text = serde_json::to_string_pretty(&published.report).map_err(std::io::Error::from)? + "\n";
    let mut members: Vec<(&str, &[u8])> = vec![("report.json", report_text.as_bytes()), ("events.jsonl", &events)];
    members.extend(published.files.iter().map(|(n, b)| (*n, &b[..])));
    let zip = archive::write(&members, published.recorded_at)?;
    Ok(Made { zip, published })
}

/// The bundle's README.md: what each file is, what a funder checks and what `--key`,
/// `--policy` and `--defs` pin, in Russian and in English, with this bundle's own
/// numbers as the worked example. Written before the publication (which names its
/// hash), so it names the report's cut but not the checkpoint that comes after.
fn readme(report: &Value, vkey: &str) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let origin = vkey.split('+').next().unwrap_or("");
    let day =
        |v: &Value| crate::codec::parse_date(v.as_str().unwrap_or("")).map_or_else(|| text(v), crate::report::ru_date);
    include_str!("readme.md")
        .replace("{SEQ}", &report["ledger"]["seq"].as_u64().unwrap_or(0).to_string())
        .replace("{HEAD}", &text(&report["ledger"]["head"]))
        .replace("{HASH}", &text(&report["hash"]))
        .replace("{ORIGIN}", origin)
        .replace("{VKEY}", vkey)
        .replace("{FROM}", &day(&report["period"]["from"]))
        .replace("{TO}", &day(&report["period"]["to"]))
        .replace("{KNOWN_AT}", &text(&report["known_at"]))
        .replace("{FIGURES}", &report["figures"].as_array().map_or(0, Vec::len).to_string())
}
