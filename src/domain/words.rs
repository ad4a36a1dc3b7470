//! The Russian words for the domain's names: event types, every vocabulary value, the
//! members of `data`, and how days, money and counts are written in Russian documents
//! (`31.01.2021`, `5 271 224,09 ₽`, `764 события`). One place, for every screen and
//! printout; the stored events keep the English names of SPEC §4.

pub use crate::say::{date, grouped, local_moment, moment, plural, set_zone, zone, DEFAULT_ZONE};

/// An event type in Russian (nominative, as a heading).
pub fn event_type(kind: &str) -> &'static str {
    match kind {
        "signal_received" => "Сигнал принят",
        "signal_resolved" => "Решение по сигналу",
        "case_opened" => "Открыт случай (договор)",
        "child_added" => "Добавлен ребёнок",
        "curator_assigned" => "Назначен куратор",
        "efo_scored" => "Оценка ЕФО",
        "plan_set" => "ИПР: цели и достижения",
        "aid_issued" => "Выдана помощь",
        "service_provided" => "Оказана услуга",
        "shelter_admitted" => "Заселение в КЦ",
        "shelter_extended" => "Продление проживания в КЦ",
        "shelter_left" => "Выход из КЦ",
        "case_closed" => "Случай закрыт",
        "follow_up_done" => "Мониторинг после закрытия",
        "expense_recorded" => "Расход программы",
        "event_voided" => "Отмена записи",
        "event_amended" => "Исправление записи",
        "report_published" => "Отчёт опубликован",
        _ => "Событие",
    }
}

/// A vocabulary value of `member` in Russian; `None` for a value of no vocabulary.
pub fn value(member: &str, v: &str) -> Option<&'static str> {
    Some(match (member, v) {
        ("channel", "phone") => "телефон",
        ("confirmed", "new_program") => "новый отдел подтверждён",
        ("channel", "messenger") => "мессенджер",
        ("channel", "social_media") => "соцсети",
        ("channel", "walk_in") => "личное обращение",
        ("channel", "referral") => "направление другой организации",
        ("channel", "other") => "другое",
        ("resolution", "urgent_help") => "срочная помощь",
        ("resolution", "redirected") => "переадресация в другую организацию",
        ("resolution", "case_opened") => "открыт случай",
        ("resolution", "no_action") => "без действий",
        ("stage", "entry") => "входная",
        ("stage", "interim") => "промежуточная",
        ("stage", "exit") => "итоговая (при закрытии)",
        ("stage", "follow_up") => "мониторинг после закрытия",
        ("level", "crisis") => "кризисный",
        ("level", "unsatisfactory") => "неудовлетворительный",
        ("level", "satisfactory") => "удовлетворительный",
        ("level", "prosperous") => "благополучный",
        ("kind", "food") => "продукты",
        ("kind", "hygiene") => "средства гигиены",
        ("kind", "baby_food") => "детское питание",
        ("kind", "diapers") => "подгузники",
        ("kind", "clothes") => "одежда",
        ("kind", "furniture") => "мебель",
        ("kind", "certificate") => "сертификат",
        ("kind", "housing_repair") => "ремонт жилья",
        ("kind", "medical") => "медицинская помощь",
        ("kind", "transport") => "транспорт",
        ("kind", "psychological") => "психологическая помощь",
        ("kind", "legal") => "юридическая помощь",
        ("kind", "specialist") => "консультация специалиста",
        ("kind", "parent_school") => "школа для родителей",
        ("kind", "family_event") => "семейное мероприятие",
        ("kind", "home_visit") => "посещение на дому",
        ("kind", "employment") => "помощь в трудоустройстве",
        ("kind", "camp") => "лагерь, выезд",
        ("kind", "other") => "другое",
        ("outcome", "stabilized") => "ТЖС стабилизирована",
        ("outcome", "terminated_by_family") => "договор расторгнут семьёй",
        ("outcome", "terminated_by_org") => "договор расторгнут организацией",
        ("outcome", "transferred") => "передан в другую организацию",
        _ => return None,
    })
}

/// The label of a `data` member (or an envelope member) on a form and a card.
pub fn member(name: &str) -> &'static str {
    match name {
        "occurred_on" => "Дата события",
        "signal" => "Сигнал (код)",
        "family" => "Шифр семьи",
        "channel" => "Канал обращения",
        "resolution" => "Решение",
        "redirected_to" => "Куда переадресовали",
        "case" => "№ дела",
        "program" => "Отдел (программа)",
        "children" => "Дети",
        "child" => "Ребёнок",
        "code" => "Шифр ребёнка",
        "born" => "Год или дата рождения",
        "curator" => "Куратор",
        "contract" => "№ договора",
        "stage" => "Этап оценки",
        "domains" => "Слабые стороны по разделам ЕФО",
        "weak_total" => "Всего слабых сторон",
        "level" => "Уровень благополучия",
        "goals" => "Целей в ИПР",
        "achieved" => "Из них достигнуто",
        "kind" => "Вид",
        "quantity" => "Количество",
        "value" => "Стоимость, ₽",
        "sessions" => "Число занятий (встреч)",
        "until" => "Срок проживания до",
        "outcome" => "Итог",
        "in_family" => "Живёт в кровной семье",
        "months" => "Месяцев после закрытия",
        "stable" => "Ситуация стабильна",
        "amount" => "Сумма, ₽",
        "purpose" => "Назначение",
        "target" => "Исправляемая запись",
        "reason" => "Причина",
        "confirmed" => "Подтверждено",
        _ => "",
    }
}

/// The eight ЕФО domains (SPEC §4.6) in the order of the form, with their Russian
/// names.
pub const EFO_DOMAINS: [(&str, &str); 8] = [
    ("housing_income", "Жильё и доход"),
    ("health_safety", "Здоровье и безопасность"),
    ("self_care", "Самообслуживание"),
    ("education", "Образование и развитие"),
    ("identity", "Идентичность"),
    ("emotional", "Эмоциональное состояние"),
    ("family_relations", "Семейные отношения"),
    ("behaviour", "Поведение"),
];

/// A child's birth as recorded (a year, a month or a day) as Russian documents write
/// it: `2019`, `06.2019`, `14.06.2019`; anything else unchanged.
pub fn born(s: &str) -> String {
    if let Some(d) = crate::codec::parse_date(s) {
        return date(d);
    }
    match s.split_once('-') {
        Some((y, m)) if y.len() == 4 && m.len() == 2 && y.chars().chain(m.chars()).all(|c| c.is_ascii_digit()) => {
            format!("{m}.{y}")
        }
        _ => s.to_string(),
    }
}

/// A decimal as Russian documents write it, with `places` digits after the comma:
/// `55,2`.
pub fn decimal(v: f64, places: usize) -> String {
    format!("{v:.places$}").replace('.', ",")
}

/// Money (kopecks: a `payload::Money`) as Russian documents write it: `5 271 224,09 ₽`.
pub fn money(m: impl Into<i64>) -> String {
    let m: i64 = m.into();
    let sign = if m < 0 { "−" } else { "" };
    let k = m.unsigned_abs();
    format!("{sign}{},{:02}\u{a0}₽", grouped(k / 100), k % 100)
}

/// A stored `recorded_at` stamp as a moment (unchanged when it is not one).
pub fn stamp(s: &str) -> String {
    crate::codec::parse_stamp(s).map_or_else(|| s.to_string(), |t| moment(&t))
}

/// A code as it looks: letter case ignored, and Cyrillic letters that look like Latin
/// ones (а/a, с/c, е/e, о/o, р/p, х/x, у/y, к/k, м/m, н/h, т/t, в/b) read as the Latin.
pub fn skeleton(code: &str) -> String {
    code.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'а' => 'a',
            'в' => 'b',
            'е' | 'ё' => 'e',
            'к' => 'k',
            'м' => 'm',
            'н' => 'h',
            'о' => 'o',
            'р' => 'p',
            'с' => 'c',
            'т' => 't',
            'у' => 'y',
            'х' => 'x',
            'і' => 'i',
            'ј' => 'j',
            'ѕ' => 's',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payload::Money;
    use chrono::NaiveDate;

    #[test]
    fn russian_numbers_money_and_plurals() {
        assert_eq!(money(Money(527_122_409)), "5\u{202f}271\u{202f}224,09\u{a0}₽");
        assert_eq!(money(Money(5)), "0,05\u{a0}₽");
        assert_eq!(grouped(764), "764");
        let ev = ("событие", "события", "событий");
        for (n, want) in [(1, "1 событие"), (2, "2 события"), (5, "5 событий"), (11, "11 событий"), (21, "21 событие")]
        {
            assert_eq!(plural(n, ev), want);
        }
        assert_eq!(plural(764, ev), "764 события");
        assert_eq!(date(NaiveDate::from_ymd_opt(2021, 1, 31).unwrap()), "31.01.2021");
        assert_eq!([born("2019"), born("2019-06"), born("2019-06-14")], ["2019", "06.2019", "14.06.2019"]);
    }

    #[test]
    fn every_vocabulary_value_and_type_has_russian_words() {
        use crate::domain::payload::*;
        let vocab: [(&str, Vec<&str>); 8] = [
            ("channel", Channel::ALL.iter().map(|(n, _)| *n).collect()),
            ("resolution", Resolution::ALL.iter().map(|(n, _)| *n).collect()),
            ("stage", Stage::ALL.iter().map(|(n, _)| *n).collect()),
            ("level", Level::ALL.iter().map(|(n, _)| *n).collect()),
            ("kind", AidKind::ALL.iter().map(|(n, _)| *n).collect()),
            ("kind", ServiceKind::ALL.iter().map(|(n, _)| *n).collect()),
            ("outcome", Outcome::ALL.iter().map(|(n, _)| *n).collect()),
            ("stage", vec!["entry"]),
        ];
        for (member, values) in vocab {
            for v in values {
                assert!(value(member, v).is_some(), "{member}={v} has no Russian name");
            }
        }
        for kind in crate::ledger::event::EVENT_TYPES {
            assert_ne!(event_type(kind), "Событие", "{kind}");
        }
    }
}
