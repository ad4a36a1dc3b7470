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
    let mut w = Writer::create(path, set.name(), &named)?;
    w.group(&cols.iter().collect::<Vec<_>>())?;
    w.close()
}

/// The four row sets of SPEC §6 as `DIR/cases.parquet`, `children.parquet`,
/// `signals.parquet`, `expenses.parquet`.
pub fn write_facts(dir: &Path, rows: &Rows) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::storage(&format!("creating {}", dir.display()), e))?;
    for (set, list) in [
        (RowSet::Cases, &rows.cases),
        (RowSet::Children, &rows.children),
        (RowSet::Signals, &rows.signals),
        (RowSet::Expenses, &rows.expenses),
    ] {
        write_rows(&dir.join(format!("{}.parquet", set.name())), set, list)?;
    }
    Ok(())
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
    let tmp = path.with_extension("parquet.partial");
    let names = [
        "seq",
        "id",
        "type",
        "occurred_on",
        "recorded_at",
        "actor",
        "case",
        "signal",
        "family",
        "data",
        "prev",
        "hash",
    ];
    let fresh = || -> Vec<Values> {
        vec![
            Values::Int(Vec::new()),
            Values::Str(Vec::new()),
            Values::Str(Vec::new()),
            Values::Date(Vec::new()),
            Values::Timestamp(Vec::new()),
            Values::Str(Vec::new()),
            Values::Str(Vec::new()),
            Values::Str(Vec::new()),
            Values::Str(Vec::new()),
            Values::Str(Vec::new()),
            Values::Str(Vec::new()),
            Values::Str(Vec::new()),
        ]
    };
    let mut cols = fresh();
    let named: Vec<(&str, &Values)> = names.iter().copied().zip(cols.iter()).collect();
    let mut w = Writer::create(&tmp, "events", &named)?;
    let mut n = 0u64;
    let mut in_group = 0usize;
    ledger.for_each(1, |seq, rec| {
        let e = rec.parse().map_err(|reason| Error::Integrity { seq, reason })?;
        let member = |k: &str| e.data.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let day = crate::ledger::event::parse_date(&e.occurred_on).map(epoch_day);
        let at = crate::ledger::event::parse_stamp(&e.recorded_at).map(|t| t.timestamp_micros());
        let [Values::Int(seqs), Values::Str(ids), Values::Str(kinds), Values::Date(days), Values::Timestamp(ats), Values::Str(actors), Values::Str(cases), Values::Str(signals), Values::Str(families), Values::Str(datas), Values::Str(prevs), Values::Str(hashes)] =
            &mut cols[..]
        else {
            unreachable!("the columns of fresh()")
        };
        seqs.push(Some(seq as i64));
        ids.push(Some(e.id.to_string()));
        kinds.push(Some(e.kind.clone()));
        days.push(day);
        ats.push(at);
        actors.push(Some(e.actor.clone()));
        cases.push(member("case"));
        signals.push(member("signal"));
        families.push(member("family"));
        datas.push(Some(e.data.to_string()));
        prevs.push(Some(e.prev.clone()));
        hashes.push(Some(crate::ledger::event::hex(&rec.hash)));
        n += 1;
        in_group += 1;
        if in_group == EVENTS_PER_GROUP {
            w.group(&cols.iter().collect::<Vec<_>>())?;
            cols = fresh();
            in_group = 0;
        }
        Ok(())
    })?;
    if in_group > 0 || n == 0 {
        w.group(&cols.iter().collect::<Vec<_>>())?;
    }
    w.close()?;
    std::fs::rename(&tmp, path).map_err(|e| Error::storage(&format!("renaming to {}", path.display()), e))?;
    Ok(n)
}

/// `facts`: the rows of a period as known inside a cut, written to `dir` with its
/// `cut.json`. Returns the number of rows of each set (cases, children, signals,
/// expenses).
pub fn facts_of_ledger(
    ledger: &crate::ledger::Ledger,
    period: Period,
    cut: crate::project::Cut,
    origin: Option<&str>,
    dir: &Path,
) -> Result<[usize; 4]> {
    let world = crate::project::World::load(ledger, cut)?;
    let rows = Rows::build(&world, period, false);
    let seq = world.last_seq;
    let head = if seq == 0 {
        "0".repeat(64)
    } else {
        ledger.refs(&[seq])?.get(&seq).map(|(_, h)| crate::ledger::event::hex(h)).unwrap_or_default()
    };
    write_facts(dir, &rows)?;
    let known_at = cut.known_at.map(|t| crate::ledger::event::format_stamp(&t));
    let cut = cut_json(period, known_at.as_deref(), seq, &head, origin);
    crate::files::write_atomically(&dir.join("cut.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, &cut).map_err(|e| Error::storage("writing cut.json", e))?;
        w.write_all(b"\n").map_err(|e| Error::storage("writing cut.json", e))
    })?;
    Ok([rows.cases.len(), rows.children.len(), rows.signals.len(), rows.expenses.len()])
}
