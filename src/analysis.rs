//! SPEC §18: the fact rows and the events as Parquet, for engines that are not ours
//! (DuckDB, Spark, pandas), and a region's aggregate of verified bundles.
//!
//! Parquet is written with the Apache `parquet` crate's column writers: dates as DATE,
//! money as DECIMAL(18,2) (kopecks in an INT64), counts as INT64, booleans as BOOLEAN,
//! codes and vocabularies as STRING, a missing fact as a null.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use serde_json::json;

use crate::error::{Error, Result};
use crate::indicators::facts::{Fact, Kind, Row, RowSet, Rows, Val};
use crate::indicators::Period;

/// Rows per row group of an events file (bounded memory for any ledger).
const EVENTS_PER_GROUP: usize = 65_536;

/// One column's values, typed.
pub enum Values {
    Str(Vec<Option<String>>),
    /// Days since 1970-01-01.
    Date(Vec<Option<i32>>),
    /// Kopecks: DECIMAL(18,2).
    Money(Vec<Option<i64>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    /// Microseconds since 1970-01-01 UTC.
    Timestamp(Vec<Option<i64>>),
}

impl Values {
    fn like(kind: Kind) -> Values {
        match kind {
            Kind::Code | Kind::Level | Kind::Vocab(_) => Values::Str(Vec::new()),
            Kind::Date => Values::Date(Vec::new()),
            Kind::Money => Values::Money(Vec::new()),
            Kind::Int => Values::Int(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
        }
    }

    fn physical(&self) -> (Physical, Option<LogicalType>) {
        match self {
            Values::Str(_) => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
            Values::Date(_) => (Physical::INT32, Some(LogicalType::Date)),
            Values::Money(_) => (Physical::INT64, Some(LogicalType::decimal(2, 18))),
            Values::Int(_) => (Physical::INT64, None),
            Values::Bool(_) => (Physical::BOOLEAN, None),
            Values::Timestamp(_) => (Physical::INT64, Some(LogicalType::timestamp(true, TimeUnit::MICROS))),
        }
    }

    fn push(&mut self, v: &Val) {
        match (self, v) {
            (Values::Str(c), Val::Str(s)) => c.push(Some(s.clone())),
            (Values::Str(c), Val::Level(l)) => c.push(Some(l.as_str().to_string())),
            (Values::Date(c), Val::Date(d)) => c.push(Some(epoch_day(*d))),
            (Values::Money(c), Val::Money(k)) => c.push(Some(*k)),
            (Values::Int(c), Val::Int(i)) => c.push(Some(*i)),
            (Values::Bool(c), Val::Bool(b)) => c.push(Some(*b)),
            (Values::Str(c), _) => c.push(None),
            (Values::Date(c), _) => c.push(None),
            (Values::Money(c) | Values::Int(c) | Values::Timestamp(c), _) => c.push(None),
            (Values::Bool(c), _) => c.push(None),
        }
    }
}

pub fn epoch_day(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

fn perr(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |e| Error::storage(&format!("writing {}", path.display()), e)
}

/// Definition levels (1: a value, 0: null) and the values present.
fn split<T: Clone>(v: &[Option<T>]) -> (Vec<T>, Vec<i16>) {
    (v.iter().flatten().cloned().collect(), v.iter().map(|x| i16::from(x.is_some())).collect())
}

/// A Parquet file written one row group at a time, every column optional.
pub struct Writer {
    inner: SerializedFileWriter<File>,
    path: std::path::PathBuf,
}

impl Writer {
    /// A file with the columns `names` of the types of `like` (its values unused).
    pub fn create(path: &Path, message: &str, columns: &[(&str, &Values)]) -> Result<Writer> {
        let fields = columns
            .iter()
            .map(|(name, v)| {
                let (physical, logical) = v.physical();
                let mut b = Type::primitive_type_builder(name, physical)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(logical);
                if let Values::Money(_) = v {
                    b = b.with_precision(18).with_scale(2);
                }
                b.build().map(Arc::new)
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(perr(path))?;
        let schema = Arc::new(Type::group_type_builder(message).with_fields(fields).build().map_err(perr(path))?);
        let props = Arc::new(
            WriterProperties::builder().set_created_by(format!("caseledger {}", env!("CARGO_PKG_VERSION"))).build(),
        );
        let file = File::create(path).map_err(|e| Error::storage(&format!("creating {}", path.display()), e))?;
        let inner = SerializedFileWriter::new(file, schema, props).map_err(perr(path))?;
        Ok(Writer { inner, path: path.to_path_buf() })
    }

    /// One row group: the columns in the file's order, all of one length.
    pub fn group(&mut self, columns: &[&Values]) -> Result<()> {
        let path = self.path.clone();
        let e = perr(&path);
        let mut rg = self.inner.next_row_group().map_err(&e)?;
        for v in columns {
            let mut col = rg.next_column().map_err(&e)?.ok_or_else(|| Error::Storage("a column too many".into()))?;
            match v {
                Values::Str(c) => {
                    let (vals, def) = split(c);
                    let vals: Vec<ByteArray> = vals.into_iter().map(|s| ByteArray::from(s.into_bytes())).collect();
                    col.typed::<ByteArrayType>().write_batch(&vals, Some(&def), None).map_err(&e)?;
                }
                Values::Date(c) => {
                    let (vals, def) = split(c);
                    col.typed::<Int32Type>().write_batch(&vals, Some(&def), None).map_err(&e)?;
                }
                Values::Money(c) | Values::Int(c) | Values::Timestamp(c) => {
                    let (vals, def) = split(c);
                    col.typed::<Int64Type>().write_batch(&vals, Some(&def), None).map_err(&e)?;
                }
                Values::Bool(c) => {
                    let (vals, def) = split(c);
                    col.typed::<BoolType>().write_batch(&vals, Some(&def), None).map_err(&e)?;
                }
            }
            col.close().map_err(&e)?;
        }
        rg.close().map_err(&e)?;
        Ok(())
    }

    pub fn close(self) -> Result<()> {
        let path = self.path.clone();
        let file = self.inner.into_inner().map_err(perr(&path))?;
        file.sync_all().map_err(|e| Error::storage(&format!("writing {}", path.display()), e))
    }
}

/// The facts a row set's file has, in SPEC §6's order.
pub fn columns_of(set: RowSet) -> Vec<Fact> {
    Fact::ALL.iter().copied().filter(|f| set.has(*f)).collect()
}

/// One row set as a Parquet file.
pub fn write_rows(path: &Path, set: RowSet, rows: &[Row]) -> Result<()> {
    let facts = columns_of(set);
    let mut cols: Vec<Values> = facts.iter().map(|f| Values::like(f.kind())).collect();
    for r in rows {
        for (c, f) in cols.iter_mut().zip(&facts) {
            c.push(r.get(*f));
        }
    }
    let named: Vec<(&str, &Values)> = facts.iter().map(|f| f.name()).zip(cols.iter()).collect();
    let partial = path.with_extension("parquet.partial");
    let written = Writer::create(&partial, set.name(), &named).and_then(|mut w| {
        w.group(&cols.iter().collect::<Vec<_>>())?;
        w.close()
    });
    finish(&partial, path, written)
}

/// Renames a file written beside its target over it, or removes it after a failure.
fn finish<T>(partial: &Path, path: &Path, written: Result<T>) -> Result<T> {
    match written {
        Ok(t) => {
            std::fs::rename(partial, path)
                .map_err(|e| Error::storage(&format!("renaming to {}", path.display()), e))?;
            Ok(t)
        }
        Err(e) => {
            let _ = std::fs::remove_file(partial);
            Err(e)
        }
    }
}

/// `cut.json`: which rows these are.
pub fn cut_json(
    period: Period,
    known_at: Option<&str>,
    seq: u64,
    head: &str,
    origin: Option<&str>,
) -> serde_json::Value {
    json!({
        "period": {"from": period.from.to_string(), "to": period.to.to_string()},
        "known_at": known_at,
        "ledger": {"seq": seq, "head": head},
        "origin": origin,
    })
}

/// `export --parquet FILE`: every stored event, one row each, in seq order:
/// `seq`, `id`, `type`, `occurred_on` (DATE), `recorded_at` (TIMESTAMP, UTC, µs),
/// `actor`, `case`, `signal`, `family` (the members of `data` of those names, when it
/// has them), `data` (JSON text), `prev`, `hash`. Written beside the target, then
/// renamed over it. Returns the number of events.
pub fn export_parquet(ledger: &crate::ledger::Ledger, path: &Path) -> Result<u64> {
    let partial = path.with_extension("parquet.partial");
    let written = write_events(ledger, &partial);
    finish(&partial, path, written)
}

/// The columns of `export --parquet`, in order, empty.
fn event_columns() -> [(&'static str, Values); 12] {
    let text = || Values::Str(Vec::new());
    [
        ("seq", Values::Int(Vec::new())),
        ("id", text()),
        ("type", text()),
        ("occurred_on", Values::Date(Vec::new())),
        ("recorded_at", Values::Timestamp(Vec::new())),
        ("actor", text()),
        ("case", text()),
        ("signal", text()),
        ("family", text()),
        ("data", text()),
        ("prev", text()),
        ("hash", text()),
    ]
}

/// Writes every event to `file` in row groups of [`EVENTS_PER_GROUP`]; the count.
fn write_events(ledger: &crate::ledger::Ledger, file: &Path) -> Result<u64> {
    let named = event_columns();
    let mut w = Writer::create(file, "events", &named.iter().map(|(n, v)| (*n, v)).collect::<Vec<_>>())?;
    let mut cols = named.map(|(_, v)| v);
    let (mut n, mut in_group) = (0u64, 0usize);
    ledger.for_each(1, |seq, rec| {
        let e = rec.parse().map_err(|reason| Error::Integrity { seq, reason })?;
        let member = |k: &str| e.data.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let [Values::Int(seqs), Values::Str(ids), Values::Str(kinds), Values::Date(days), Values::Timestamp(ats), Values::Str(actors), Values::Str(cases), Values::Str(signals), Values::Str(families), Values::Str(datas), Values::Str(prevs), Values::Str(hashes)] =
            &mut cols
        else {
            unreachable!("the columns of event_columns()")
        };
        seqs.push(Some(seq as i64));
        ids.push(Some(e.id.to_string()));
        kinds.push(Some(e.kind.clone()));
        days.push(crate::codec::parse_date(&e.occurred_on).map(epoch_day));
        ats.push(crate::codec::parse_stamp(&e.recorded_at).map(|t| t.timestamp_micros()));
        actors.push(Some(e.actor.clone()));
        cases.push(member("case"));
        signals.push(member("signal"));
        families.push(member("family"));
        datas.push(Some(e.data.to_string()));
        prevs.push(Some(e.prev.clone()));
        hashes.push(Some(crate::codec::hex(&rec.hash)));
        n += 1;
        in_group += 1;
        if in_group == EVENTS_PER_GROUP {
            w.group(&cols.iter().collect::<Vec<_>>())?;
            cols = event_columns().map(|(_, v)| v);
            in_group = 0;
        }
        Ok(())
    })?;
    if in_group > 0 || n == 0 {
        w.group(&cols.iter().collect::<Vec<_>>())?;
    }
    w.close()?;
    Ok(n)
}

/// The fact rows of a period as known inside a cut, with their `cut.json`.
pub struct CutFacts {
    pub rows: Rows,
    pub cut: serde_json::Value,
}

/// The rows of `period` inside `cut`.
pub fn facts_at(
    ledger: &crate::ledger::Ledger,
    period: Period,
    cut: crate::project::Cut,
    origin: Option<&str>,
) -> Result<CutFacts> {
    let world = crate::project::World::load(ledger, cut)?;
    let rows = Rows::build(&world, period, false);
    let (seq, head) = crate::indicators::last_inside(&world);
    let head = crate::codec::hex(&head);
    let known_at = cut.known_at.map(|t| crate::codec::format_stamp(&t));
    Ok(CutFacts { rows, cut: cut_json(period, known_at.as_deref(), seq, &head, origin) })
}

/// Writes the four row sets of SPEC §6 (`DIR/cases.parquet`, `children.parquet`,
/// `signals.parquet`, `expenses.parquet`) and then `cut.json`: `cut.json` is removed first
/// and written last, and each file is written beside its name and renamed, so a
/// directory with a `cut.json` holds whole files of that cut. Returns the number of
/// rows of each set (cases, children, signals, expenses).
pub fn write_cut_facts(dir: &Path, f: &CutFacts) -> Result<[usize; 4]> {
    std::fs::create_dir_all(dir).map_err(|e| Error::storage(&format!("creating {}", dir.display()), e))?;
    match std::fs::remove_file(dir.join("cut.json")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::storage(&format!("removing {}", dir.join("cut.json").display()), e))
        }
        _ => {}
    }
    let r = &f.rows;
    for (set, list) in [
        (RowSet::Cases, &r.cases),
        (RowSet::Children, &r.children),
        (RowSet::Signals, &r.signals),
        (RowSet::Expenses, &r.expenses),
    ] {
        write_rows(&dir.join(format!("{}.parquet", set.name())), set, list)?;
    }
    crate::files::write_atomically(&dir.join("cut.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, &f.cut).map_err(|e| Error::storage("writing cut.json", e))?;
        w.write_all(b"\n").map_err(|e| Error::storage("writing cut.json", e))
    })?;
    Ok([r.cases.len(), r.children.len(), r.signals.len(), r.expenses.len()])
}

/// `facts`: [`facts_at`], written by [`write_cut_facts`].
pub fn facts_of_ledger(
    ledger: &crate::ledger::Ledger,
    period: Period,
    cut: crate::project::Cut,
    origin: Option<&str>,
    dir: &Path,
) -> Result<[usize; 4]> {
    write_cut_facts(dir, &facts_at(ledger, period, cut, origin)?)
}

/// A partition directory's value: an origin with the characters Hive escapes
/// percent-encoded (as Spark and DuckDB decode them); other characters, Cyrillic
/// included, kept.
pub fn partition_value(origin: &str) -> String {
    let mut out = String::with_capacity(origin.len());
    for c in origin.chars() {
        if c.is_control() || "\"#%'*/:=?\\{[]^".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// A region's aggregate of verified bundles

/// One organisation's bundle, verified.
#[derive(Debug, Clone)]
pub struct Organisation {
    /// The bundle's file name, as given.
    pub file: String,
    /// The log's origin (from its signed checkpoint).
    pub origin: String,
    pub seq: u64,
    pub head: String,
    pub known_at: Option<String>,
    /// Whether the log's key was the one the bundle itself names (no `--key` given).
    pub key_from_bundle: bool,
    /// The witnesses whose cosignatures verified.
    pub cosigned: Vec<String>,
    /// The report's figures (§9 JSON), re-derived when the bundle was verified.
    pub figures: Vec<serde_json::Value>,
}

/// One indicator across the organisations, with the total (sums of numerators and of
/// denominators, and the ratio of the sums).
#[derive(Debug, Clone)]
pub struct Tabulated {
    pub id: String,
    pub title: String,
    /// (index into `Aggregate::organisations`, the figure).
    pub rows: Vec<(usize, serde_json::Value)>,
    pub total: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct Aggregate {
    pub period: Period,
    pub organisations: Vec<Organisation>,
    pub indicators: Vec<Tabulated>,
}

fn num(v: &serde_json::Value) -> Option<crate::indicators::eval::Number> {
    use crate::indicators::eval::Number;
    match v {
        serde_json::Value::Number(n) => n.as_u64().map(Number::Count).or_else(|| n.as_i64().map(Number::Int)),
        serde_json::Value::String(s) => crate::domain::payload::Money::parse(s).map(|m| Number::Money(m.0)),
        _ => None,
    }
}

fn add(
    a: crate::indicators::eval::Number,
    b: crate::indicators::eval::Number,
) -> Option<crate::indicators::eval::Number> {
    use crate::indicators::eval::Number::*;
    match (a, b) {
        (Count(x), Count(y)) => x.checked_add(y).map(Count),
        (Money(x), Money(y)) => x.checked_add(y).map(Money),
        (Int(x), Int(y)) => x.checked_add(y).map(Int),
        (Count(x), Int(y)) | (Int(y), Count(x)) => i64::try_from(x).ok()?.checked_add(y).map(Int),
        _ => None,
    }
}

/// `aggregate`: every bundle verified with its own policy (any that fails refuses the
/// whole aggregate, exit 3, naming the file and its first failure); all for one period
/// and one origin each, the same definition under the same id; then each indicator's
/// figures per organisation and their total. With `facts` (a directory that does not
/// exist or is empty), every bundle's fact rows, re-derived from its verified events
/// at its report's cut, are written — only once every bundle has verified — to
/// `facts/origin=<origin>/…parquet` with its `cut.json`, through `facts.partial`
/// renamed at the end. Bundles are verified on every core, each thread reading its
/// bundles one at a time.
pub fn aggregate(files: &[std::path::PathBuf], facts: Option<&Path>, trust: &Trust) -> Result<Aggregate> {
    use crate::indicators::eval::ratio;
    if files.is_empty() {
        return Err(Error::Usage("назовите хотя бы один пакет (файл .zip)".into()));
    }
    if let Some(dir) = facts {
        let busy = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
        if busy {
            return Err(Error::Usage(format!(
                "--facts: {} не пуста; назовите новую папку (набор, смешанный с прежним, читался бы целиком)",
                dir.display()
            )));
        }
    }
    // Bundles are verified on every core (each is independent), keeping the order of
    // the files, so the first one that fails in that order is the one named.
    let checked = crate::parallel::ordered_map_each(files, |path| check_bundle(path, facts.is_some(), trust));
    let mut orgs: Vec<Organisation> = Vec::new();
    let mut cut_facts: Vec<(String, CutFacts)> = Vec::new();
    let mut period: Option<(Period, String)> = None;
    let mut defs: std::collections::BTreeMap<String, (serde_json::Value, String)> = Default::default();
    for c in checked {
        let Checked { org, period: p, report, facts: f } = c?;
        let file = org.file.clone();
        let origin = org.origin.clone();
        if let Some(o) = orgs.iter().find(|o| o.origin.to_lowercase() == origin.to_lowercase()) {
            return Err(Error::Usage(format!(
                "пакеты {} и {file} — от одного журнала «{origin}»: возьмите один пакет на организацию",
                o.file
            )));
        }
        match &period {
            None => period = Some((p, file.clone())),
            Some((q, first)) if *q != p => {
                return Err(Error::Usage(format!(
                    "пакет {file} — за {}–{}, а {first} — за {}–{}: сводятся отчёты за один период",
                    crate::report::ru_date(p.from),
                    crate::report::ru_date(p.to),
                    crate::report::ru_date(q.from),
                    crate::report::ru_date(q.to)
                )))
            }
            Some(_) => {}
        }
        for d in report["definitions"].as_array().into_iter().flatten() {
            let id = d["id"].as_str().unwrap_or_default().to_string();
            match defs.get(&id) {
                Some((same, first)) if same != d => {
                    return Err(Error::Usage(format!(
                        "показатель {id} в пакете {file} определён иначе, чем в {first}: суммировать нечего"
                    )))
                }
                Some(_) => {}
                None => {
                    defs.insert(id, (d.clone(), file.clone()));
                }
            }
        }
        if let Some(f) = f {
            cut_facts.push((origin, f));
        }
        orgs.push(org);
    }
    if let Some(dir) = facts {
        write_partitions(dir, &cut_facts)?;
    }
    let mut ids: Vec<(String, String)> = Vec::new();
    for o in &orgs {
        for f in &o.figures {
            let id = f["id"].as_str().unwrap_or_default().to_string();
            if !ids.iter().any(|(i, _)| *i == id) {
                ids.push((id, f["title"].as_str().unwrap_or_default().to_string()));
            }
        }
    }
    let indicators = ids
        .into_iter()
        .map(|(id, title)| {
            let rows: Vec<(usize, serde_json::Value)> = orgs
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.figures.iter().find(|f| f["id"] == id.as_str()).map(|f| (i, f.clone())))
                .collect();
            let sum = |part: &str| -> Option<crate::indicators::eval::Number> {
                let mut it = rows.iter().map(|(_, f)| num(&f[part]));
                let first = it.next()??;
                it.try_fold(first, |acc, x| add(acc, x?))
            };
            let (n, d) = (sum("numerator"), sum("denominator"));
            let mut total = json!({"id": id, "title": title});
            if let Some(n) = n {
                total["numerator"] = n.to_json();
            }
            if let Some(d) = d {
                total["denominator"] = d.to_json();
                if let Some(r) = n.and_then(|n| ratio(n, d)) {
                    total["ratio"] = json!(r);
                }
            }
            Tabulated { id, title, rows, total }
        })
        .collect();
    let period = period.expect("at least one bundle").0;
    Ok(Aggregate { period, organisations: orgs, indicators })
}

/// Whose keys and witnesses `aggregate` trusts: by default each bundle's own
/// `policy.txt`; `keys` pins each log's key by its origin (a line per verifier key,
/// `NAME+KEYID+BASE64`, the name being the log's origin), `policy` the witnesses and
/// quorum for every bundle (C2SP tlog-policy text).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub keys: Option<Vec<(String, String)>>,
    pub policy: Option<String>,
    /// The most each bundle may unpack to (default [`crate::limits::MAX_BUNDLE_BYTES`]).
    pub max_bytes: Option<u64>,
}

impl Trust {
    /// Reads a `--keys` file: one verifier key per line; `#` comments and blank lines
    /// skipped. Each line must parse as a log's key.
    pub fn keys_from(text: &str, file: &str) -> Result<Vec<(String, String)>> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match crate::checkpoint::KeyVerifier::parse(line) {
                Ok(k) if !k.is_cosigner() => {
                    use signed_note::Verifier;
                    keys.push((k.name().to_string(), line.to_string()));
                }
                _ => {
                    return Err(Error::Usage(format!(
                        "--keys: {file}, строка {}: «{line}» — не ключ журнала (NAME+KEYID+BASE64)",
                        i + 1
                    )))
                }
            }
        }
        Ok(keys)
    }
}

/// One bundle as `aggregate` needs it, once verified.
struct Checked {
    org: Organisation,
    period: Period,
    report: serde_json::Value,
    facts: Option<CutFacts>,
}

/// Reads and verifies one bundle (with the key `trust` names for its origin), and with
/// `facts` re-derives its fact rows from the verified events at its report's cut.
fn check_bundle(path: &Path, facts: bool, trust: &Trust) -> Result<Checked> {
    let file = path.display().to_string();
    let max = trust.max_bytes.unwrap_or(crate::limits::MAX_BUNDLE_BYTES);
    let len = std::fs::metadata(path).map_err(|e| Error::Usage(crate::say::cannot_read(&file, &e)))?.len();
    if len > max.saturating_add(1 << 20) {
        return Err(Error::Mismatch(format!(
            "пакет {file} не проходит проверку: файл больше {} МиБ (больший предел — --max-bytes)",
            max >> 20
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::Usage(crate::say::cannot_read(&file, &e)))?;
    let named = |e: Error| match e {
        Error::Usage(_) | Error::InUse(_) | Error::NoSpace(_) => e,
        other => Error::Mismatch(format!("пакет {file}: {other}")),
    };
    let key = match &trust.keys {
        None => None,
        Some(keys) => {
            let origin = crate::bundle::claimed_origin(&bytes, max).unwrap_or_default();
            match keys.iter().find(|(name, _)| *name == origin) {
                Some((_, vkey)) => Some(vkey.as_str()),
                None => {
                    return Err(Error::Mismatch(format!(
                        "пакет {file}: журнал «{origin}» не назван в --keys; без его ключа пакет не проверить"
                    )))
                }
            }
        }
    };
    let mut kept = None;
    let pins = crate::bundle::Pins { key, policy: trust.policy.as_deref(), defs: None, max_bytes: Some(max) };
    let v = crate::bundle::verify_keeping(&bytes, &pins, &mut kept).map_err(named)?;
    drop(bytes);
    if let Some(f) = v.failures.first() {
        return Err(Error::Mismatch(format!("пакет {file} не проходит проверку: {f}")));
    }
    let report = v.report.clone();
    let origin = v.origin.clone().unwrap_or_default();
    let (period, cut) = crate::report::period_and_cut(&report)
        .map_err(|e| Error::Mismatch(format!("пакет {file}: отчёт не читается ({e})")))?;
    let facts = match (facts, &kept) {
        (true, Some((_tmp, ledger))) => Some(facts_at(ledger, period, cut, Some(&origin)).map_err(named)?),
        _ => None,
    };
    let known_at = report["known_at"].as_str().map(str::to_string);
    let org = Organisation {
        file,
        origin,
        seq: v.seq,
        head: v.head.map(|h| crate::codec::hex(&h)).unwrap_or_default(),
        known_at,
        key_from_bundle: v.key_from == "bundle",
        cosigned: v.cosigned.clone(),
        figures: report["figures"].as_array().cloned().unwrap_or_default(),
    };
    Ok(Checked { org, period, report, facts })
}

/// The partitioned dataset, written whole into `DIR.partial`, then renamed to `DIR`.
fn write_partitions(dir: &Path, parts: &[(String, CutFacts)]) -> Result<()> {
    let mut partial = dir.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    fn io(what: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
        move |e| Error::storage(&format!("writing {}", what.display()), e)
    }
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    for (origin, f) in parts {
        let part = partial.join(format!("origin={}", partition_value(origin)));
        if let Err(e) = write_cut_facts(&part, f) {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    }
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(io(dir))?;
    }
    std::fs::rename(&partial, dir).map_err(io(dir))
}

impl Aggregate {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "period": {"from": self.period.from.to_string(), "to": self.period.to.to_string()},
            "organisations": self.organisations.iter().map(|o| json!({
                "file": o.file, "origin": o.origin, "known_at": o.known_at,
                "ledger": {"seq": o.seq, "head": o.head},
                "key": if o.key_from_bundle { "from the bundle's policy.txt" } else { "given" },
                "cosigned": o.cosigned,
            })).collect::<Vec<_>>(),
            "indicators": self.indicators.iter().map(|t| json!({
                "id": t.id, "title": t.title,
                "organisations": t.rows.iter().map(|(i, f)| {
                    let mut v = json!({"origin": self.organisations[*i].origin, "numerator": f["numerator"]});
                    for k in ["denominator", "ratio"] {
                        if let Some(x) = f.get(k) {
                            v[k] = x.clone();
                        }
                    }
                    v
                }).collect::<Vec<_>>(),
                "total": t.total,
            })).collect::<Vec<_>>(),
        })
    }

    /// Whose keys and witnesses vouched for the bundles, in one sentence: `aggregate`
    /// takes each log's key from its own bundle, which proves the bundle whole and
    /// signed by that key, not that the key is the organisation's.
    pub fn provenance(&self) -> String {
        let witnessed = self.organisations.iter().filter(|o| !o.cosigned.is_empty()).count();
        let keys = if self.organisations.iter().all(|o| !o.key_from_bundle) {
            "Ключи журналов — из --keys"
        } else {
            "Ключи журналов взяты из самих пакетов (policy.txt): сверьте их с ключами, полученными от организаций, \
             или дайте их в --keys"
        };
        format!("{keys}; заверены свидетелями: {} из {}.", witnessed, self.organisations.len())
    }

    /// The print-ready table: per indicator, a row per organisation, then the total.
    pub fn table(&self) -> crate::report::tables::Table {
        use crate::report::tables::Cell;
        let cell = |v: &serde_json::Value| match v {
            serde_json::Value::Number(n) => n.as_i64().map_or(Cell::Empty, Cell::Int),
            serde_json::Value::String(s) => {
                crate::domain::payload::Money::parse(s).map_or(Cell::Text(s.clone()), |m| Cell::Money(m.0))
            }
            _ => Cell::Empty,
        };
        let ratio = |title: &str, f: &serde_json::Value| {
            f["ratio"].as_str().map_or(Cell::Empty, |r| Cell::Text(crate::report::ratio(title, r)))
        };
        let mut rows = Vec::new();
        for t in &self.indicators {
            // The title on the indicator's first row; its id on every row (for a filter).
            for (k, (i, f)) in t.rows.iter().enumerate() {
                rows.push(vec![
                    Cell::Text(if k == 0 { format!("{} — {}", t.id, t.title) } else { t.id.clone() }),
                    Cell::Text(self.organisations[*i].origin.clone()),
                    cell(&f["numerator"]),
                    cell(&f["denominator"]),
                    ratio(&t.title, f),
                ]);
            }
            rows.push(vec![
                Cell::Text(t.id.clone()),
                Cell::Text(format!(
                    "Итого: {}",
                    crate::domain::words::plural(t.rows.len() as u64, ("организация", "организации", "организаций"))
                )),
                cell(&t.total["numerator"]),
                cell(&t.total["denominator"]),
                ratio(&t.title, &t.total),
            ]);
        }
        crate::report::tables::Table {
            title: format!(
                "Сводка показателей организаций, {}–{}",
                crate::report::ru_date(self.period.from),
                crate::report::ru_date(self.period.to)
            ),
            about: format!(
                "{} проверены: события, подписи и показатели пересчитаны. {}",
                crate::domain::words::plural(self.organisations.len() as u64, ("пакет", "пакета", "пакетов")),
                self.provenance()
            ),
            headers: vec!["показатель", "организация (журнал)", "числитель", "знаменатель", "доля"],
            widths: vec![40.0, 26.0, 13.0, 13.0, 12.0],
            rows,
        }
    }
}
