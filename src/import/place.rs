//! Where in a table a refusal or an event comes from: sheet, row and column.

use crate::error::Refusal;

/// Where a refusal or an event comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub sheet: String,
    pub row: usize,
    pub column: String,
}

impl Place {
    pub fn words(&self) -> String {
        format!("Лист «{}», строка {}, столбец «{}»", self.sheet, self.row, self.column)
    }
}

pub(super) fn refusal(place: &Place, reason: impl Into<String>) -> Refusal {
    Refusal::new(Some(place.words()), reason)
}
