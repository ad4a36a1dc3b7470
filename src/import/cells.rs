//! One cell read as what its column holds: a date (however typed, slash dates in one
//! order per column), a whole number, a code.

use chrono::NaiveDate;

use super::header::cell_text;
use super::place::{refusal, Place};
use super::sheet::Raw;
use crate::domain::payload::Outcome;
use crate::error::Refusal;

/// An Excel day number of a date column whose format was lost (1990–2100).
pub(super) fn serial_day(f: f64) -> Option<NaiveDate> {
    if f.fract() != 0.0 || !(32_874.0..=73_415.0).contains(&f) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(chrono::Days::new(f as u64))
}

/// The order of day and month in dates written with slashes (`11/12/2018`), which
/// Russian Excel writes day first and a Google Sheet in US locale month first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlashOrder {
    /// Not known yet: a column of such dates must show it, or the person says it.
    #[default]
    Unknown,
    DayFirst,
    MonthFirst,
}

impl SlashOrder {
    /// `--dates дд.мм|мм/дд` (also `dd.mm`, `mm/dd`).
    pub fn parse(s: &str) -> Option<SlashOrder> {
        match s.trim().to_lowercase().as_str() {
            "дд.мм" | "дд/мм" | "dd.mm" | "dd/mm" => Some(SlashOrder::DayFirst),
            "мм/дд" | "мм.дд" | "mm/dd" | "mm.dd" => Some(SlashOrder::MonthFirst),
            _ => None,
        }
    }
}

/// The Russian month a word names, in any case (`февраль`, `февраля`, `феврале`,
/// `фев.`), 1–12.
pub(super) fn month_word(w: &str) -> Option<u32> {
    let w = w.trim_end_matches('.').to_lowercase().replace('ё', "е");
    const STEMS: [&str; 12] = ["янв", "фев", "мар", "апр", "ма", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"];
    // «май», «мая», «мае» but not «мар…»: checked after март.
    STEMS.iter().position(|stem| w.starts_with(stem) && !(*stem == "ма" && w.starts_with("мар"))).map(|i| i as u32 + 1)
}

/// A date as people type it, `order` saying how to read slashes: `31.01.2021`,
/// `31.1.21` (a two-digit year is 2000–2099), `31/01/2021`, `2021-01-31`, `1 февраля
/// 2021 г.`, any of them with a time after it (`31.01.2021 14:30`).
pub(super) fn text_day(s: &str, order: SlashOrder) -> Option<NaiveDate> {
    let mut s = s.trim().to_string();
    // A time after the date: dropped.
    if let Some((date, time)) = s.rsplit_once(' ') {
        let is_time = time.split(':').count() >= 2
            && time.split(':').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if is_time {
            s = date.trim().to_string();
        }
    }
    let s = s.trim_end_matches('.').trim_end_matches("года").trim_end_matches(" г").trim_end_matches('г').trim();
    let year = |y: &str| -> Option<i32> {
        let n: i32 = y.parse().ok()?;
        match y.len() {
            2 => Some(2000 + n),
            4 if (1900..=2100).contains(&n) => Some(n),
            _ => None,
        }
    };
    let num = |p: &str| -> Option<u32> { (!p.is_empty() && p.len() <= 2).then(|| p.parse().ok()).flatten() };
    let ymd = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d);
    let words: Vec<&str> = s.split_whitespace().collect();
    if let [d, m, y] = words[..] {
        return ymd(year(y)?, month_word(m)?, num(d)?);
    }
    let dots: Vec<&str> = s.split('.').collect();
    if dots.len() == 3 {
        return ymd(year(dots[2])?, num(dots[1])?, num(dots[0])?);
    }
    let slash: Vec<&str> = s.split('/').collect();
    if slash.len() == 3 {
        let (a, b, y) = (num(slash[0])?, num(slash[1])?, year(slash[2])?);
        return match order {
            SlashOrder::MonthFirst => ymd(y, a, b),
            SlashOrder::DayFirst => ymd(y, b, a),
            // Unambiguous on its own (the column is decided before any row is read).
            SlashOrder::Unknown if a > 12 => ymd(y, b, a),
            SlashOrder::Unknown if b > 12 => ymd(y, a, b),
            SlashOrder::Unknown => None,
        };
    }
    let iso: Vec<&str> = s.split('-').collect();
    if iso.len() == 3 && iso[0].len() == 4 {
        return ymd(iso[0].parse().ok()?, num(iso[1])?, num(iso[2])?);
    }
    None
}

/// How a column's slash dates read: day first when some first part is above 12,
/// month first when some second part is; a column that has both, or only dates either
/// order would read, is refused asking the person (`--dates`), unless they said.
pub(super) fn slash_order(cells: &[&Raw], said: SlashOrder) -> std::result::Result<SlashOrder, &'static str> {
    let (mut day_first, mut month_first, mut slashes) = (false, false, false);
    for cell in cells {
        let Raw::Text(t) = cell else { continue };
        let t = t.split_whitespace().next().unwrap_or("");
        let parts: Vec<u32> = t.split('/').filter_map(|p| p.parse().ok()).collect();
        if parts.len() == 3 && t.split('/').count() == 3 {
            slashes = true;
            day_first |= parts[0] > 12;
            month_first |= parts[1] > 12;
        }
    }
    match (slashes, said, day_first, month_first) {
        (false, _, _, _) => Ok(SlashOrder::Unknown),
        (_, SlashOrder::DayFirst, _, true) | (_, SlashOrder::MonthFirst, true, _) => {
            Err("даты с косой чертой в этом столбце противоречат указанному порядку (--dates)")
        }
        (_, SlashOrder::DayFirst | SlashOrder::MonthFirst, _, _) => Ok(said),
        (_, _, true, true) => Err("в столбце даты с косой чертой записаны в разном порядке: то день первым, то месяц"),
        (_, _, true, false) => Ok(SlashOrder::DayFirst),
        (_, _, false, true) => Ok(SlashOrder::MonthFirst),
        (_, _, false, false) => Err(
            "даты с косой чертой в этом столбце читаются и как день/месяц, и как месяц/день: скажите, как читать (--dates дд.мм или --dates мм/дд)",
        ),
    }
}

pub(super) fn day(cell: &Raw, place: &Place, order: SlashOrder) -> std::result::Result<Option<NaiveDate>, Refusal> {
    let bad = |shown: String| refusal(place, format!("«{shown}» — не дата; нужна дата ДД.ММ.ГГГГ"));
    match cell {
        Raw::Empty => Ok(None),
        Raw::Date(d) => Ok(Some(*d)),
        Raw::Number(f) => serial_day(*f).map(Some).ok_or_else(|| bad(cell_text(cell))),
        Raw::Text(s) | Raw::Error(s) => text_day(s, order).map(Some).ok_or_else(|| bad(s.clone())),
    }
}

pub(super) fn count(cell: &Raw, place: &Place) -> std::result::Result<Option<u32>, Refusal> {
    let bad = || refusal(place, format!("«{}» — не целое число от 0", cell_text(cell)));
    match cell {
        Raw::Empty => Ok(None),
        Raw::Number(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f) => Ok(Some(*f as u32)),
        Raw::Text(s) => {
            // `20,0` and `20.00` are whole numbers too.
            let s = s.trim();
            let whole =
                s.split_once([',', '.']).filter(|(_, frac)| !frac.is_empty() && frac.bytes().all(|b| b == b'0'));
            whole.map_or(s, |(w, _)| w).parse::<u32>().map(Some).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// A code as the ledger takes it (SPEC §4), the reason in Russian.
pub(super) fn check_code(s: &str) -> std::result::Result<(), String> {
    crate::ledger::event::check_code("code", s).map_err(|r| r.reason)
}

pub(super) fn code(cell: &Raw, place: &Place) -> std::result::Result<Option<String>, Refusal> {
    match cell {
        Raw::Empty => Ok(None),
        Raw::Date(_) => Err(refusal(place, format!("«{}» — дата, а нужен шифр", cell_text(cell)))),
        _ => {
            let s = cell_text(cell);
            check_code(&s).map_err(|r| refusal(place, format!("«{s}»: {r}")))?;
            Ok(Some(s))
        }
    }
}

/// An outcome as a person writes it: the journal's Russian words or the code.
pub fn outcome_of(s: &str) -> Option<Outcome> {
    let want = fold_text(s);
    Outcome::ALL.iter().find(|(code, o)| fold_text(o.ru()) == want || *code == want).map(|(_, o)| *o)
}

/// `да`/`нет` (or yes/no, true/false).
pub fn yes_no(s: &str) -> Option<bool> {
    match fold_text(s).as_str() {
        "да" | "yes" | "true" => Some(true),
        "нет" | "no" | "false" => Some(false),
        _ => None,
    }
}

pub(super) fn fold_text(s: &str) -> String {
    s.trim().to_lowercase().replace('ё', "е").split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(super) fn ru_day(d: NaiveDate) -> String {
    crate::report::ru_date(d)
}

/// How two codes that look alike differ, letter by letter, in words: «M — латинская,
/// р — строчная».
pub fn lookalike_letters(ours: &str, theirs: &str) -> String {
    let script = |c: char| {
        if c.is_ascii_alphabetic() {
            "латинская"
        } else if ('\u{0400}'..='\u{04FF}').contains(&c) {
            "кириллическая"
        } else {
            "другой азбуки"
        }
    };
    let letters: Vec<String> = ours
        .chars()
        .zip(theirs.chars())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| {
            if a.to_lowercase().eq(b.to_lowercase()) {
                format!("{a} — {}", if a.is_lowercase() { "строчная" } else { "заглавная" })
            } else {
                format!("{a} — {}", script(a))
            }
        })
        .collect();
    letters.join(", ")
}

/// When two spellings of a code look alike, the letters that differ (so that a
/// refusal never shows two codes that read the same).
pub(super) fn alike(ours: &str, theirs: &str) -> String {
    if ours != theirs && crate::domain::words::skeleton(ours) == crate::domain::words::skeleton(theirs) {
        format!(" (различаются только написанием букв: {})", lookalike_letters(ours, theirs))
    } else {
        String::new()
    }
}
