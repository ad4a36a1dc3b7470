//! Typed payloads of every event type in SPEC §4. Each is a plain serde type that
//! refuses unknown members; the value rules serde cannot express (non-empty codes,
//! money strings, ranges, "at least one of") are checked in [`Payload::parse`].

use std::fmt;

use chrono::NaiveDate;
use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::codec::parse_date;
use crate::domain::words;
use crate::error::Refusal;
use crate::ledger::event::check_code;
use crate::limits::{MAX_COUNT, MAX_TEXT_CHARS};
use crate::say;

/// A pseudonymous code (family, case, signal, child, program, curator): 1–64
/// characters, no control characters. Kept inline up to 24 bytes (`CompactString`):
/// a bulk append looks each event's codes up in several tables, and a code on the
/// heap cost a cache miss at every comparison (BENCHMARKS.md, issue 30).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Code(pub CompactString);

impl Code {
    pub fn new(s: &str) -> Code {
        Code(CompactString::from(s))
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = CompactString::deserialize(d)?;
        check_code("", &s).map_err(|r| serde::de::Error::custom(format!("код {}", r.reason)))?;
        Ok(Code(s))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free text (a reason, a purpose, an organisation redirected to): 1–1000 characters;
/// line breaks and tabs allowed, other control characters not. Codes only: never a
/// client's name, phone or address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(serde::de::Error::custom(say::EMPTY));
        }
        if s.chars().count() > MAX_TEXT_CHARS {
            return Err(serde::de::Error::custom(say::too_long(MAX_TEXT_CHARS)));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(serde::de::Error::custom(say::CONTROL_CHAR));
        }
        if let Some(c) = crate::ledger::event::invisible_char(&s) {
            return Err(serde::de::Error::custom(say::invisible(c)));
        }
        Ok(Text(s))
    }
}

/// Money in rubles as a decimal string `^[0-9]+(\.[0-9]{1,2})?$`, held in kopecks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(pub i64);

impl Money {
    pub fn parse(s: &str) -> Option<Money> {
        let (rub, kop) = match s.split_once('.') {
            Some((r, k)) if !k.is_empty() && k.len() <= 2 => (r, k),
            Some(_) => return None,
            None => (s, ""),
        };
        if rub.is_empty()
            || rub.len() > 13
            || !rub.bytes().all(|b| b.is_ascii_digit())
            || !kop.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let rub: i64 = rub.parse().ok()?;
        let kop: i64 = if kop.is_empty() { 0 } else { format!("{kop:0<2}").parse().ok()? };
        Some(Money(rub * 100 + kop))
    }
}

impl From<Money> for i64 {
    fn from(m: Money) -> i64 {
        m.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Money::parse(&s).ok_or_else(|| serde::de::Error::custom(say::not_money(&s)))
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A calendar date `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Day(pub NaiveDate);

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_date(&s).map(Day).ok_or_else(|| serde::de::Error::custom(say::NOT_A_DAY))
    }
}

/// A child's birth: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Born(pub String);

impl<'de> Deserialize<'de> for Born {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = match s.len() {
            4 => s.bytes().all(|b| b.is_ascii_digit()),
            7 => parse_date(&format!("{s}-01")).is_some(),
            10 => parse_date(&s).is_some(),
            _ => false,
        };
        if ok {
            Ok(Born(s))
        } else {
            Err(serde::de::Error::custom(say::not_born(&s)))
        }
    }
}

/// A non-negative integer count, at most [`MAX_COUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Count(pub u32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if !(0..=i64::from(MAX_COUNT)).contains(&n) {
            return Err(serde::de::Error::custom(say::out_of_range(n, u64::from(MAX_COUNT))));
        }
        Ok(Count(n as u32))
    }
}

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [(&'static str, $name)] = &[$(($text, $name::$variant)),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

vocabulary!(Channel { Phone = "phone", Messenger = "messenger", SocialMedia = "social_media", WalkIn = "walk_in", Referral = "referral", Other = "other" });
vocabulary!(Resolution { UrgentHelp = "urgent_help", Redirected = "redirected", CaseOpened = "case_opened", NoAction = "no_action" });
vocabulary!(Stage { Entry = "entry", Interim = "interim", Exit = "exit", FollowUp = "follow_up" });
vocabulary!(
    /// Children's well-being, in order: crisis < unsatisfactory < satisfactory < prosperous.
    Level { Crisis = "crisis", Unsatisfactory = "unsatisfactory", Satisfactory = "satisfactory", Prosperous = "prosperous" }
);
vocabulary!(AidKind { Food = "food", Hygiene = "hygiene", BabyFood = "baby_food", Diapers = "diapers", Clothes = "clothes", Furniture = "furniture", Certificate = "certificate", HousingRepair = "housing_repair", Medical = "medical", Transport = "transport", Other = "other" });
vocabulary!(ServiceKind { Psychological = "psychological", Legal = "legal", Specialist = "specialist", ParentSchool = "parent_school", FamilyEvent = "family_event", HomeVisit = "home_visit", Employment = "employment", Camp = "camp", Other = "other" });
vocabulary!(
    /// What a person confirmed when a form warned them (SPEC §21): a department the
    /// organisation has not had before.
    Confirmation { NewProgram = "new_program" }
);
vocabulary!(Outcome { Stabilized = "stabilized", TerminatedByFamily = "terminated_by_family", TerminatedByOrg = "terminated_by_org", Transferred = "transferred" });

impl Outcome {
    /// The outcome in the words of the seeds' journals.
    pub fn ru(self) -> &'static str {
        match self {
            Outcome::Stabilized => "ТЖС стабилизирована",
            Outcome::TerminatedByFamily => "договор расторгнут семьёй",
            Outcome::TerminatedByOrg => "договор расторгнут НКО",
            Outcome::Transferred => "передан в др. организацию",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChildRef {
    pub code: Code,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born: Option<Born>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChildLevel {
    pub code: Code,
    pub level: Level,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChildInFamily {
    pub code: Code,
    pub in_family: bool,
}

/// Weak sides per ЕФО domain; all eight are required.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Domains {
    pub housing_income: Count,
    pub health_safety: Count,
    pub self_care: Count,
    pub education: Count,
    pub identity: Count,
    pub emotional: Count,
    pub family_relations: Count,
    pub behaviour: Count,
}

impl Domains {
    pub fn total(&self) -> u64 {
        [
            self.housing_income,
            self.health_safety,
            self.self_care,
            self.education,
            self.identity,
            self.emotional,
            self.family_relations,
            self.behaviour,
        ]
        .iter()
        .map(|c| u64::from(c.0))
        .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignalReceived {
    pub signal: Code,
    pub family: Option<Code>,
    pub channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignalResolved {
    pub signal: Code,
    pub resolution: Resolution,
    pub redirected_to: Option<Text>,
    pub case: Option<Code>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaseOpened {
    pub case: Code,
    pub family: Code,
    pub program: Code,
    pub children: Vec<ChildRef>,
    pub curator: Option<Code>,
    pub signal: Option<Code>,
    pub contract: Option<Code>,
    /// Warnings the person who recorded it confirmed (`confirm=1` of a form).
    pub confirmed: Option<Vec<Confirmation>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChildAdded {
    pub case: Code,
    pub child: ChildRef,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CuratorAssigned {
    pub case: Code,
    pub curator: Code,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EfoScored {
    pub case: Code,
    pub stage: Stage,
    pub domains: Option<Domains>,
    pub weak_total: Option<Count>,
    pub children: Option<Vec<ChildLevel>>,
}

impl EfoScored {
    /// The assessment's weak sides: `weak_total`, else the sum of `domains`.
    pub fn weak_sides(&self) -> u64 {
        match (&self.weak_total, &self.domains) {
            (Some(t), _) => u64::from(t.0),
            (None, Some(d)) => d.total(),
            (None, None) => unreachable!("checked on parse: one of weak_total/domains is present"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSet {
    pub case: Code,
    pub goals: Count,
    pub achieved: Count,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AidIssued {
    pub case: Option<Code>,
    pub family: Option<Code>,
    pub signal: Option<Code>,
    pub kind: AidKind,
    pub quantity: Count,
    pub value: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceProvided {
    pub case: Option<Code>,
    pub family: Option<Code>,
    pub kind: ServiceKind,
    pub sessions: Option<Count>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShelterAdmitted {
    pub case: Code,
    pub until: Option<Day>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShelterExtended {
    pub case: Code,
    pub until: Day,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShelterLeft {
    pub case: Code,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaseClosed {
    pub case: Code,
    pub outcome: Outcome,
    pub children: Option<Vec<ChildInFamily>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpDone {
    pub case: Code,
    pub months: Option<Count>,
    pub stable: bool,
    pub children: Option<Vec<ChildInFamily>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpenseRecorded {
    pub program: Code,
    pub amount: Money,
    pub purpose: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventVoided {
    pub target: Uuid,
    pub reason: Text,
}

/// The replacement `data` is checked against the target's type by the state rules,
/// which know the target.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventAmended {
    pub target: Uuid,
    pub reason: Text,
    pub occurred_on: Option<Day>,
    pub data: Map<String, Value>,
}

/// A correction's members (see [`Payload::correction`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correction<'a> {
    pub target: Uuid,
    pub voids: bool,
    pub reason: &'a str,
    /// An amendment's replacement data.
    pub data: Option<&'a Map<String, Value>>,
}

/// A BLAKE3 hash as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct HashHex(pub String);

impl<'de> Deserialize<'de> for HashHex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match crate::codec::parse_hex(&s) {
            Some(_) => Ok(HashHex(s)),
            None => Err(serde::de::Error::custom("не хеш: нужно 64 шестнадцатеричные цифры (0–9, a–f)")),
        }
    }
}

/// A moment `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds), as `recorded_at` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(pub chrono::DateTime<chrono::Utc>);

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::codec::parse_stamp(&s)
            .map(Stamp)
            .ok_or_else(|| serde::de::Error::custom("не момент записи: нужно время UTC вида `2021-01-31T12:00:00Z`"))
    }
}

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::codec::format_stamp(&self.0))
    }
}

/// A position in the ledger (a seq), 0 ≤ n ≤ 2^53 − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl<'de> Deserialize<'de> for Seq {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if !(0..=(1i64 << 53) - 1).contains(&n) {
            return Err(serde::de::Error::custom(format!("{n} — не номер события в реестре")));
        }
        Ok(Seq(n as u64))
    }
}

/// A published report's period.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedPeriod {
    pub from: Day,
    pub to: Day,
}

/// The files of a funder's bundle whose BLAKE3 a `report_published` names (SPEC §19);
/// `report.json` and `events.jsonl` are bound by the report's hash and the chain.
pub const PUBLISHED_FILES: [&str; 4] = ["lineage.json", "README.md", "verify_bundle.py", "policy.txt"];

/// `report_published` (SPEC §19): a report was published — its hash, its definitions'
/// hash, its period and cut, and the hashes of the bundle's other files. Counted by
/// no fact or indicator.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportPublished {
    pub report: HashHex,
    pub definitions: HashHex,
    pub period: PublishedPeriod,
    pub known_at: Stamp,
    pub seq: Seq,
    pub files: std::collections::BTreeMap<String, HashHex>,
}

/// Every event type's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    SignalReceived(SignalReceived),
    SignalResolved(SignalResolved),
    CaseOpened(Box<CaseOpened>),
    ChildAdded(ChildAdded),
    CuratorAssigned(CuratorAssigned),
    EfoScored(Box<EfoScored>),
    PlanSet(PlanSet),
    AidIssued(AidIssued),
    ServiceProvided(ServiceProvided),
    ShelterAdmitted(ShelterAdmitted),
    ShelterExtended(ShelterExtended),
    ShelterLeft(ShelterLeft),
    CaseClosed(CaseClosed),
    FollowUpDone(FollowUpDone),
    ExpenseRecorded(ExpenseRecorded),
    EventVoided(EventVoided),
    EventAmended(Box<EventAmended>),
    ReportPublished(Box<ReportPublished>),
}

/// The `data` of an event, as a JSON object or as its JSON text.
#[derive(Clone, Copy)]
pub enum Data<'a> {
    Map(&'a Map<String, Value>),
    Json(&'a str),
    /// As a bulk append's quick reading read it: no refusal's words (the strict
    /// reading gives those).
    Node(&'a crate::ledger::json::Node<'a>),
}

fn typed<T: serde::de::DeserializeOwned>(data: Data<'_>) -> Result<T, Refusal> {
    fn refusal<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Refusal {
        let path = e.path().to_string();
        let mut field = if path == "." { "data".to_string() } else { format!("data.{path}") };
        // The member a value belongs to names its vocabulary (`stage`, `children[0].outcome`).
        let member = field.rsplit(['.', '[']).next().unwrap_or("").to_string();
        let (named, reason) = say::serde_reason(&e.into_inner().to_string(), &|v| words::value(&member, v));
        if let Some(named) = named {
            field = format!("{field}.{named}");
        }
        Refusal::field(&field, reason)
    }
    // Read once without tracking the path (nearly every event is fine); a refusal reads
    // it again with the path, to name the member that failed.
    match data {
        Data::Map(map) => T::deserialize(map).or_else(|_| serde_path_to_error::deserialize(map).map_err(refusal)),
        Data::Json(text) => serde_json::from_str(text).or_else(|_| {
            let mut de = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut de).map_err(refusal)
        }),
        Data::Node(node) => T::deserialize(node).map_err(|e| Refusal::field("data", e.to_string())),
    }
}

fn rule(ok: bool, field: &str, reason: &str) -> Result<(), Refusal> {
    if ok {
        Ok(())
    } else {
        Err(Refusal::field(field, reason))
    }
}

fn distinct_codes<'a>(field: &str, codes: impl Iterator<Item = &'a Code>) -> Result<(), Refusal> {
    let mut seen = std::collections::HashSet::new();
    for c in codes {
        if !seen.insert(c) {
            return Err(Refusal::field(field, format!("ребёнок {c} указан дважды")));
        }
    }
    Ok(())
}

impl Payload {
    /// The case this event is about (its key), if any.
    pub fn case(&self) -> Option<&Code> {
        match self {
            Payload::CaseOpened(p) => Some(&p.case),
            Payload::ChildAdded(p) => Some(&p.case),
            Payload::CuratorAssigned(p) => Some(&p.case),
            Payload::EfoScored(p) => Some(&p.case),
            Payload::PlanSet(p) => Some(&p.case),
            Payload::AidIssued(p) => p.case.as_ref(),
            Payload::ServiceProvided(p) => p.case.as_ref(),
            Payload::ShelterAdmitted(p) => Some(&p.case),
            Payload::ShelterExtended(p) => Some(&p.case),
            Payload::ShelterLeft(p) => Some(&p.case),
            Payload::CaseClosed(p) => Some(&p.case),
            Payload::FollowUpDone(p) => Some(&p.case),
            _ => None,
        }
    }

    /// The signal this event is about (its key), if any.
    pub fn signal(&self) -> Option<&Code> {
        match self {
            Payload::SignalReceived(p) => Some(&p.signal),
            Payload::SignalResolved(p) => Some(&p.signal),
            Payload::AidIssued(p) => p.signal.as_ref(),
            _ => None,
        }
    }

    /// A case this event refers to without being about it (a signal resolved by
    /// opening a case).
    pub fn case_reference(&self) -> Option<&Code> {
        match self {
            Payload::SignalResolved(p) => p.case.as_ref(),
            _ => None,
        }
    }

    /// A signal this event refers to without being about it (a case opened from it).
    pub fn signal_reference(&self) -> Option<&Code> {
        match self {
            Payload::CaseOpened(p) => p.signal.as_ref(),
            _ => None,
        }
    }

    /// The catalogue name of this payload's type.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::SignalReceived(_) => "signal_received",
            Payload::SignalResolved(_) => "signal_resolved",
            Payload::CaseOpened(_) => "case_opened",
            Payload::ChildAdded(_) => "child_added",
            Payload::CuratorAssigned(_) => "curator_assigned",
            Payload::EfoScored(_) => "efo_scored",
            Payload::PlanSet(_) => "plan_set",
            Payload::AidIssued(_) => "aid_issued",
            Payload::ServiceProvided(_) => "service_provided",
            Payload::ShelterAdmitted(_) => "shelter_admitted",
            Payload::ShelterExtended(_) => "shelter_extended",
            Payload::ShelterLeft(_) => "shelter_left",
            Payload::CaseClosed(_) => "case_closed",
            Payload::FollowUpDone(_) => "follow_up_done",
            Payload::ExpenseRecorded(_) => "expense_recorded",
            Payload::EventVoided(_) => "event_voided",
            Payload::EventAmended(_) => "event_amended",
            Payload::ReportPublished(_) => "report_published",
        }
    }

    pub fn is_correction(&self) -> bool {
        matches!(self, Payload::EventVoided(_) | Payload::EventAmended(_))
    }

    /// What a correction says: the event it corrects, whether it voids it, its reason,
    /// and an amendment's new data.
    pub fn correction(&self) -> Option<Correction<'_>> {
        match self {
            Payload::EventVoided(p) => {
                Some(Correction { target: p.target, voids: true, reason: &p.reason.0, data: None })
            }
            Payload::EventAmended(p) => {
                Some(Correction { target: p.target, voids: false, reason: &p.reason.0, data: Some(&p.data) })
            }
            _ => None,
        }
    }

    /// What the event is about, as a log line names it: its case, else its signal, else
    /// the event it corrects, else its department.
    pub fn about(&self) -> Option<String> {
        let code = self.case().or(self.case_reference()).or(self.signal()).or(self.signal_reference());
        code.map(|c| c.0.to_string()).or_else(|| self.correction().map(|c| c.target.to_string())).or_else(|| match self
        {
            Payload::ExpenseRecorded(p) => Some(p.program.0.to_string()),
            _ => None,
        })
    }

    /// The payload of a stored event (`None` when its data no longer reads as its type).
    pub fn of_stored(e: &crate::ledger::event::StoredEvent) -> Option<Payload> {
        e.data.as_object().and_then(|m| Payload::parse(&e.kind, m).ok())
    }

    /// Parses and checks the `data` of an event of type `kind` (a name from the
    /// catalogue). Refusals name the field as `data.…`.
    pub fn parse(kind: &str, data: &Map<String, Value>) -> Result<Payload, Refusal> {
        Payload::parse_data(kind, Data::Map(data))
    }

    /// As [`Payload::parse`], from the JSON text of `data` (stored events: no
    /// intermediate `Value`).
    pub fn from_json(kind: &str, data: &str) -> Result<Payload, Refusal> {
        Payload::parse_data(kind, Data::Json(data))
    }

    /// As [`Payload::parse`], from `data` as a bulk append's quick reading read it;
    /// a refusal here says little (the strict reading names it).
    pub fn from_node(kind: &str, data: &crate::ledger::json::Node<'_>) -> Result<Payload, Refusal> {
        Payload::parse_data(kind, Data::Node(data))
    }

    fn parse_data(kind: &str, data: Data<'_>) -> Result<Payload, Refusal> {
        let p = match kind {
            "signal_received" => Payload::SignalReceived(typed(data)?),
            "signal_resolved" => {
                let p: SignalResolved = typed(data)?;
                rule(
                    p.resolution != Resolution::CaseOpened || p.case.is_some(),
                    "data.case",
                    &format!(
                        "нужно указать, когда решение — «{}»",
                        words::value("resolution", "case_opened").unwrap_or("")
                    ),
                )?;
                Payload::SignalResolved(p)
            }
            "case_opened" => {
                let p: CaseOpened = typed(data)?;
                distinct_codes("data.children", p.children.iter().map(|c| &c.code))?;
                Payload::CaseOpened(Box::new(p))
            }
            "child_added" => Payload::ChildAdded(typed(data)?),
            "curator_assigned" => Payload::CuratorAssigned(typed(data)?),
            "efo_scored" => {
                let p: EfoScored = typed(data)?;
                match (&p.weak_total, &p.domains) {
                    (None, None) => {
                        return Err(Refusal::field(
                            "data.weak_total",
                            "нужно число слабых сторон или оценки по разделам ЕФО (или то и другое)",
                        ))
                    }
                    (Some(t), Some(d)) if u64::from(t.0) != d.total() => {
                        return Err(Refusal::field(
                            "data.weak_total",
                            format!("указано {}, а по разделам ЕФО в сумме {}", t.0, d.total()),
                        ))
                    }
                    _ => {}
                }
                if let Some(children) = &p.children {
                    distinct_codes("data.children", children.iter().map(|c| &c.code))?;
                }
                Payload::EfoScored(Box::new(p))
            }
            "plan_set" => {
                let p: PlanSet = typed(data)?;
                rule(p.goals.0 >= 1, "data.goals", "в плане хотя бы одна цель")?;
                rule(p.achieved <= p.goals, "data.achieved", "не может быть больше числа целей")?;
                Payload::PlanSet(p)
            }
            "aid_issued" => {
                let p: AidIssued = typed(data)?;
                rule(
                    p.case.is_some() || p.family.is_some() || p.signal.is_some(),
                    "data.case",
                    "укажите, кому помощь: № дела, шифр семьи или сигнал",
                )?;
                rule(p.quantity.0 >= 1, "data.quantity", say::AT_LEAST_ONE)?;
                Payload::AidIssued(p)
            }
            "service_provided" => {
                let p: ServiceProvided = typed(data)?;
                rule(
                    p.case.is_some() || p.family.is_some(),
                    "data.case",
                    "укажите, кому услуга: № дела или шифр семьи",
                )?;
                rule(p.sessions.is_none_or(|s| s.0 >= 1), "data.sessions", say::AT_LEAST_ONE)?;
                Payload::ServiceProvided(p)
            }
            "shelter_admitted" => Payload::ShelterAdmitted(typed(data)?),
            "shelter_extended" => Payload::ShelterExtended(typed(data)?),
            "shelter_left" => Payload::ShelterLeft(typed(data)?),
            "case_closed" => {
                let p: CaseClosed = typed(data)?;
                if let Some(children) = &p.children {
                    distinct_codes("data.children", children.iter().map(|c| &c.code))?;
                }
                Payload::CaseClosed(p)
            }
            "follow_up_done" => {
                let p: FollowUpDone = typed(data)?;
                if let Some(children) = &p.children {
                    distinct_codes("data.children", children.iter().map(|c| &c.code))?;
                }
                Payload::FollowUpDone(p)
            }
            "expense_recorded" => Payload::ExpenseRecorded(typed(data)?),
            "event_voided" => Payload::EventVoided(typed(data)?),
            "event_amended" => Payload::EventAmended(Box::new(typed(data)?)),
            "report_published" => {
                let p: ReportPublished = typed(data)?;
                rule(p.period.from <= p.period.to, "data.period.to", "раньше начала периода")?;
                if let Some(name) = p.files.keys().find(|n| !PUBLISHED_FILES.contains(&n.as_str())) {
                    return Err(Refusal::field(
                        &format!("data.files.{name}"),
                        format!("не файл пакета (файлы пакета: `{}`)", PUBLISHED_FILES.join("`, `")),
                    ));
                }
                Payload::ReportPublished(Box::new(p))
            }
            other => return Err(Refusal::field("type", format!("нет такого типа события `{other}`"))),
        };
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(kind: &str, data: Value) -> (String, String) {
        let r = Payload::parse(kind, data.as_object().unwrap()).unwrap_err();
        (r.field.unwrap_or_default(), r.reason)
    }

    #[test]
    fn money_is_exact_kopecks() {
        assert_eq!(Money::parse("5271224.09"), Some(Money(527_122_409)));
        assert_eq!(Money::parse("0.5"), Some(Money(50)));
        assert_eq!(Money::parse("12"), Some(Money(1200)));
        for bad in ["", ".5", "1.", "1.234", "-1", "1,5", "1e3", " 1", "١٢"] {
            assert_eq!(Money::parse(bad), None, "{bad}");
        }
        assert_eq!(Money(527_122_409).to_string(), "5271224.09");
    }

    #[test]
    fn every_catalogue_type_has_a_payload() {
        for kind in crate::ledger::event::EVENT_TYPES {
            // An empty object is refused for a reason about its members, never as an
            // unknown type.
            let r = Payload::parse(kind, &Map::new()).unwrap_err();
            assert_ne!(r.field.as_deref(), Some("type"), "{kind}");
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            ("signal_received", json!({"signal": "С1", "channel": "fax"}), "data.channel"),
            ("signal_received", json!({"signal": "С1", "channel": "phone", "name": "x"}), "data.name"),
            ("signal_received", json!({"signal": "", "channel": "phone"}), "data.signal"),
            ("signal_received", json!({"signal": "С\u{1}", "channel": "phone"}), "data.signal"),
            ("signal_resolved", json!({"signal": "С1", "resolution": "case_opened"}), "data.case"),
            (
                "case_opened",
                json!({"case": "1", "family": "Ф", "program": "МР", "children": [{"code": "Р", "born": "2020-13"}]}),
                "data.children[0].born",
            ),
            (
                "case_opened",
                json!({"case": "1", "family": "Ф", "program": "МР", "children": [{"code": "Р"}, {"code": "Р"}]}),
                "data.children",
            ),
            ("efo_scored", json!({"case": "1", "stage": "entry"}), "data.weak_total"),
            (
                "efo_scored",
                json!({"case": "1", "stage": "entry", "weak_total": 3, "domains": {"housing_income": 1, "health_safety": 0, "self_care": 0, "education": 0, "identity": 0, "emotional": 0, "family_relations": 0, "behaviour": 0}}),
                "data.weak_total",
            ),
            (
                "efo_scored",
                json!({"case": "1", "stage": "entry", "domains": {"housing_income": 1}}),
                "data.domains.health_safety",
            ),
            ("efo_scored", json!({"case": "1", "stage": "entry", "weak_total": -1}), "data.weak_total"),
            (
                "efo_scored",
                json!({"case": "1", "stage": "entry", "weak_total": 1, "children": [{"code": "Р", "level": "good"}]}),
                "data.children[0].level",
            ),
            ("plan_set", json!({"case": "1", "goals": 2, "achieved": 3}), "data.achieved"),
            ("plan_set", json!({"case": "1", "goals": 0, "achieved": 0}), "data.goals"),
            ("aid_issued", json!({"kind": "food", "quantity": 1}), "data.case"),
            ("aid_issued", json!({"case": "1", "kind": "food", "quantity": 0}), "data.quantity"),
            ("aid_issued", json!({"case": "1", "kind": "food", "quantity": 1, "value": "12.345"}), "data.value"),
            ("aid_issued", json!({"case": "1", "kind": "food", "quantity": 1, "value": 12}), "data.value"),
            ("aid_issued", json!({"case": "1", "kind": "food", "quantity": 2000000}), "data.quantity"),
            ("service_provided", json!({"case": "1", "kind": "legal", "sessions": 0}), "data.sessions"),
            ("shelter_extended", json!({"case": "1"}), "data.until"),
            ("shelter_admitted", json!({"case": "1", "until": "2021-02-30"}), "data.until"),
            ("case_closed", json!({"case": "1", "outcome": "success"}), "data.outcome"),
            ("follow_up_done", json!({"case": "1", "stable": "yes"}), "data.stable"),
            ("expense_recorded", json!({"program": "КЦ", "amount": "1 000"}), "data.amount"),
            ("event_voided", json!({"target": "nope", "reason": "ошибка"}), "data.target"),
            ("event_voided", json!({"target": "0192f3a4-5b6c-7d8e-9f01-23456789abcd", "reason": " "}), "data.reason"),
        ];
        for (kind, data, field) in cases {
            let (got, reason) = refusal(kind, data.clone());
            assert_eq!(got, field, "{kind} {data}: {reason}");
        }
    }

    #[test]
    fn weak_sides_come_from_total_or_domains() {
        let d = json!({"case": "1", "stage": "exit", "domains": {"housing_income": 5, "health_safety": 3, "self_care": 2, "education": 1, "identity": 0, "emotional": 4, "family_relations": 3, "behaviour": 2}});
        let Payload::EfoScored(e) = Payload::parse("efo_scored", d.as_object().unwrap()).unwrap() else { panic!() };
        assert_eq!(e.weak_sides(), 20);
        assert!(Level::Crisis < Level::Unsatisfactory && Level::Satisfactory < Level::Prosperous);
    }
}
