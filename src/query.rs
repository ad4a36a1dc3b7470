//! The questions every transport asks the library, in the words of SPEC §5: a period
//! (valid time), a cut (transaction time), and the day a case's state is for. The
//! command line reads them as flags (clap), the HTTP API and the web pages as query
//! parameters; all resolve them here, so both answer alike.

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::indicators::{self, Period};
use crate::project::{parse_known_at, Cut};

/// The period (valid time) of SPEC §5.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PeriodArgs {
    /// First day of the period.
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to", conflicts_with_all = ["year", "quarter"])]
    pub from: Option<String>,
    /// Last day of the period (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
    pub to: Option<String>,
    /// A calendar year.
    #[arg(long, value_name = "YYYY", conflicts_with = "quarter")]
    pub year: Option<i32>,
    /// A quarter, such as 2020Q3.
    #[arg(long, value_name = "YYYYQn")]
    pub quarter: Option<String>,
}

impl PeriodArgs {
    pub fn resolve(&self) -> Result<Period> {
        let date = |flag: &str, s: &str| {
            crate::say::typed_day(s).ok_or_else(|| Error::Usage(format!("{flag}: {}", crate::say::not_a_day(s))))
        };
        let (from, to) = match (&self.from, &self.to, self.year, &self.quarter) {
            (Some(f), Some(t), None, None) => (date("--from", f)?, date("--to", t)?),
            (None, None, Some(y), None) => (
                NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(|| Error::Usage(format!("--year: {y} — не год")))?,
                NaiveDate::from_ymd_opt(y, 12, 31).ok_or_else(|| Error::Usage(format!("--year: {y} — не год")))?,
            ),
            (None, None, None, Some(q)) => indicators::def::quarter(q)
                .ok_or_else(|| Error::Usage(format!("--quarter: «{q}» — не квартал: пишут, например, 2020Q3")))?,
            _ => {
                return Err(Error::Usage(
                    "назовите период: --from ДЕНЬ --to ДЕНЬ, --year ГГГГ или --quarter, например 2020Q3".into(),
                ))
            }
        };
        if from > to {
            return Err(Error::Usage(format!(
                "период кончается ({}) раньше, чем начинается ({})",
                crate::say::date(to),
                crate::say::date(from)
            )));
        }
        use chrono::Datelike;
        if !(1..=9999).contains(&from.year()) || !(1..=9999).contains(&to.year()) {
            return Err(Error::Usage("период должен лежать в годах 1–9999".into()));
        }
        Ok(Period { from, to })
    }
}

/// The cut (transaction time) of SPEC §5.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CutArgs {
    /// Only what was recorded by then (RFC 3339, or a date meaning its end).
    #[arg(long, value_name = "T", conflicts_with = "at_seq")]
    pub known_at: Option<String>,
    /// Only events up to this seq.
    #[arg(long, value_name = "N")]
    pub at_seq: Option<u64>,
}

impl CutArgs {
    pub fn resolve(&self) -> Result<Cut> {
        let known_at = match &self.known_at {
            Some(s) => Some(parse_known_at(s).ok_or_else(|| {
                Error::Usage(format!(
                    "--known-at: «{s}» — не срез: нужен день (31.01.2021) или момент RFC 3339 (`2021-01-31T12:00:00Z`)"
                ))
            })?),
            None => None,
        };
        Ok(Cut { known_at, at_seq: self.at_seq })
    }
}

/// The two time axes of SPEC §5 for case state.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct When {
    /// The day the state is for (valid time); default today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub on: Option<String>,
    #[command(flatten)]
    pub cut: CutArgs,
}

impl When {
    pub fn resolve(&self) -> Result<(NaiveDate, Cut)> {
        let on = match &self.on {
            Some(s) => {
                crate::say::typed_day(s).ok_or_else(|| Error::Usage(format!("--on: {}", crate::say::not_a_day(s))))?
            }
            None => chrono::Utc::now().date_naive(),
        };
        Ok((on, self.cut.resolve()?))
    }
}
