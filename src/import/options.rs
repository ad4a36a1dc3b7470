//! What an import does with what a table leaves unsaid (`--outcome`, `--stable`,
//! `--dates`, `--hidden`, `--amend`), as a person gives it.

use super::cells::{outcome_of, yes_no, SlashOrder};
use crate::domain::payload::Outcome;

/// What an import does with what a table leaves unsaid.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The outcome of the closings a table states without one (the ЕФО and
    /// crisis-centre tables have no «итог» column).
    pub outcome: Option<Outcome>,
    /// The result of the 6-month monitoring the crisis-centre table dates, for the rows
    /// whose own «положение устойчиво» cell is empty.
    pub stable: Option<bool>,
    /// How dates written with slashes read, when a column cannot tell (`--dates`).
    pub dates: SlashOrder,
    /// What to do with hidden rows and columns and filtered-out rows (`--hidden`):
    /// `None` refuses a workbook that has any, until the person says.
    pub hidden: Option<Hidden>,
    /// Cells that differ from what the ledger holds become corrections
    /// (`event_amended`, `--amend`) instead of refusals.
    pub amend: bool,
}

/// Rows and columns a person hid (or a filter hides) in a workbook: read or left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    Skip,
    Include,
}

impl Options {
    /// The options as a person gives them — on the command line or the `/import` page —
    /// each possibly empty; a refusal names the option, in Russian.
    pub fn from_words(outcome: &str, stable: &str, dates: &str, hidden: &str) -> std::result::Result<Options, String> {
        let outcome = match outcome.trim() {
            "" => None,
            o => Some(outcome_of(o).ok_or_else(|| {
                let allowed: Vec<String> = Outcome::ALL.iter().map(|(_, o)| format!("«{}»", o.ru())).collect();
                format!("итог закрытий (--outcome): «{o}» — нет такого итога; итог — один из: {}", allowed.join(", "))
            })?),
        };
        let stable = match stable.trim() {
            "" => None,
            s => Some(yes_no(s).ok_or_else(|| format!("мониторинг (--stable): «{s}» — ни «да», ни «нет»"))?),
        };
        let dates = match dates.trim() {
            "" => SlashOrder::Unknown,
            d => SlashOrder::parse(d).ok_or_else(|| {
                format!("порядок дат (--dates): «{d}» — ни «дд.мм» (день первым), ни «мм/дд» (месяц первым)")
            })?,
        };
        let hidden = match hidden.trim().to_lowercase().as_str() {
            "" => None,
            "skip" | "пропустить" | "не читать" => Some(Hidden::Skip),
            "include" | "читать" | "включить" => Some(Hidden::Include),
            h => {
                return Err(format!("скрытые строки (--hidden): «{h}» — ни «skip» (пропустить), ни «include» (читать)"))
            }
        };
        Ok(Options { outcome, stable, dates, hidden, amend: false })
    }
}
