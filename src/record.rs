//! Recording events: the one owner of "check against the rules, append, bring the
//! projections up to date". Every writer goes through it — `caseledger append`,
//! `import`, `import-table`, `replay`, restore and mirror, the service's appender
//! behind the JSON API and the web forms: [`StateRules::append_with`] and
//! [`StateRules::append_events`] run an append with fresh rules and update the fact
//! digests after it; the group committer calls [`StateRules::update_summary`] itself.
//! It sits above `domain` (what events mean) and `project` (their state), which it
//! reads; neither imports it.
//!
//! The state rules of SPEC §4 and the correction rules of §4.14, checked for each
//! appended event against the ledger as it is now — including the earlier events of
//! the same batch, because every admitted event is added to the [`World`] at once.
//! Refusals name the field and say what is wrong in words a curator reads.
//!
//! Every rule reads only the event's own case and signal, and a correction's target
//! with its case and signal. So the [`World`] holds just those subjects, loaded from
//! the ledger through its subject indexes the first time an event of the batch needs
//! them: an append to a ledger of a million events reads a few dozen.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::borrow::Cow;

use chrono::NaiveDate;
use uuid::Uuid;

use crate::domain::payload::{Code, Stage};
use crate::domain::words::{date as ru, event_type, skeleton};
use crate::domain::Payload;
use crate::error::{Refusal, Result};
use crate::ledger::event::InputEvent;
use crate::ledger::LedgerHead as Head;
use crate::ledger::{PendingEvent, Rules, Stop, View};
use crate::project::case::{case_timeline, fold, CaseState, Running};
use crate::project::World;

/// Payload checks plus state rules, over the subjects an append touches.
#[derive(Default, Clone)]
pub struct StateRules {
    world: World,
    loaded_cases: HashSet<Code>,
    loaded_signals: HashSet<Code>,
    loaded_seqs: HashSet<u64>,
    /// Ids of stored corrections met while resolving targets (not in the world).
    stored_corrections: HashSet<Uuid>,
    /// The unknown case (`false`) or signal (`true`) the last refusal named, for a
    /// look-alike suggestion.
    unknown: std::cell::RefCell<Option<(bool, Code)>>,
    /// The latest state of each case the append has checked an event of, stepped as
    /// each admitted event comes last in its case's order (most do): checking an
    /// event then costs one step, not a fold of the whole case. A late entry, a
    /// correction or events loaded from the store drop it (the next check folds anew).
    running: HashMap<Code, Running>,
    /// Set while an amendment's replacement is checked with its target set aside: the
    /// running states do not hold then.
    aside: std::cell::Cell<bool>,
    /// The fact digests were brought up to date at the commit (see [`Rules::commit`]).
    summarized: bool,
}

fn refuse(field: &str, reason: String) -> Refusal {
    Refusal::field(field, reason)
}

impl StateRules {
    pub fn new() -> StateRules {
        StateRules::default()
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    /// Runs one append (or import) with fresh rules, then brings the stored fact
    /// digests of every subject it touched up to date (see `project::summary`; that
    /// step never fails the append). Returns the rules as well: they hold every event
    /// of the append, and the caller decides when to free them.
    pub fn append_with<T>(
        ledger: &crate::ledger::Ledger,
        append: impl FnOnce(&mut StateRules) -> Result<T>,
    ) -> Result<(T, StateRules)> {
        let (before, mut rules) = (ledger.head(), StateRules::new());
        let out = append(&mut rules)?;
        if !rules.summarized {
            rules.update_summary(ledger, &ledger.store().summary_lock(), &before, &ledger.head());
        }
        Ok((out, rules))
    }

    /// Appends events already parsed (a publication, say, which no input line may
    /// carry) as one append, all or nothing, with fresh rules; then brings the digests
    /// up to date, marked with the head its own commit made (the summary lock taken
    /// before the commit, as the HTTP writer takes it).
    pub fn append_events(
        ledger: &crate::ledger::Ledger,
        events: Vec<crate::ledger::InputLine>,
        opts: &crate::ledger::AppendOptions,
    ) -> Result<Vec<crate::ledger::Ack>> {
        let (acks, _) = StateRules::append_with(ledger, |rules| {
            let mut group = ledger.group()?;
            let before = ledger.head();
            let acks = group.add(events, opts, rules)??;
            let held = ledger.store().summary_lock();
            let after = group.commit()?;
            rules.update_summary(ledger, &held, &before, &after);
            rules.summarized = true;
            Ok(acks)
        })?;
        Ok(acks)
    }

    /// After an append these rules admitted has committed (the head moved from
    /// `before` to `after`): brings the stored fact digests of every subject it
    /// touched up to date. `held` is the store's summary lock (the HTTP writer takes
    /// it before its commit; [`StateRules::append_with`] after).
    pub fn update_summary(
        &self,
        ledger: &crate::ledger::Ledger,
        held: &crate::ledger::SummaryHeld<'_>,
        before: &Head,
        after: &Head,
    ) {
        crate::project::summary::after_append(
            ledger,
            held,
            (before.seq, before.hash),
            (after.seq, after.hash),
            &self.world,
            &self.loaded_cases,
            &self.loaded_signals,
        );
    }

    fn load_seqs(&mut self, seqs: Vec<u64>, view: &View<'_>) -> Result<()> {
        for seq in seqs {
            if self.loaded_seqs.insert(seq) {
                let rec = view
                    .record(seq)?
                    .ok_or_else(|| crate::Error::Integrity { seq, reason: "an indexed event is missing".into() })?;
                self.world.add_record(seq, &rec)?;
                self.running.clear();
            }
        }
        Ok(())
    }

    fn ensure_case(&mut self, case: &Code, view: &View<'_>) -> Result<()> {
        // (Most events are about a case loaded already: no copy of its code for them.)
        if !self.loaded_cases.contains(case) {
            self.loaded_cases.insert(case.clone());
            let seqs = view.case_events(&case.0)?;
            self.load_seqs(seqs, view)?;
        }
        Ok(())
    }

    fn ensure_signal(&mut self, signal: &Code, view: &View<'_>) -> Result<()> {
        if !self.loaded_signals.contains(signal) {
            self.loaded_signals.insert(signal.clone());
            let seqs = view.signal_events(&signal.0)?;
            self.load_seqs(seqs, view)?;
        }
        Ok(())
    }

    /// Loads every subject a payload is about or refers to.
    fn ensure_subjects(&mut self, p: &Payload, view: &View<'_>) -> Result<()> {
        for case in [p.case(), p.case_reference()].into_iter().flatten() {
            self.ensure_case(case, view)?;
        }
        for signal in [p.signal(), p.signal_reference()].into_iter().flatten() {
            self.ensure_signal(signal, view)?;
        }
        Ok(())
    }

    /// Brings a correction's target (and its subjects) into the world, if stored.
    fn ensure_target(&mut self, target: &Uuid, view: &View<'_>) -> Result<()> {
        if self.world.is_correction(target) {
            return Ok(());
        }
        if let Some(t) = self.world.event(target) {
            // In the world already, perhaps only because another subject's index
            // listed it (an event is indexed under its case and its signal): its own
            // subjects must be loaded whole, for the rules (a void of a case's opening
            // looks at the whole case) and for the digests the append updates.
            let payload = t.payload.clone();
            return self.ensure_subjects(&payload, view);
        }
        let Some(rec) = view.record_by_id(target)? else { return Ok(()) };
        let stored = rec.parse().map_err(|reason| crate::Error::Integrity { seq: 0, reason })?;
        if stored.kind.starts_with("event_") {
            self.stored_corrections.insert(*target);
            return Ok(());
        }
        let data = stored.data.as_object().cloned().unwrap_or_default();
        let payload = Payload::parse(&stored.kind, &data).map_err(|r| crate::Error::Integrity {
            seq: stored.seq,
            reason: format!("stored event does not parse: {r}"),
        })?;
        self.ensure_subjects(&payload, view)?;
        if self.world.event(target).is_none() {
            // An event about no case or signal (an expense, aid to a family): alone.
            self.load_seqs(vec![stored.seq], view)?;
        }
        Ok(())
    }

    /// Starts keeping the case's running state, when it is opened and not kept yet.
    fn run_case(&mut self, case: Option<&Code>) {
        let Some(case) = case else { return };
        if !self.running.contains_key(case) {
            if let Some(r) = Running::of(&self.world, case) {
                self.running.insert(case.clone(), r);
            }
        }
    }

    /// A known case or signal code that looks the same as `code` (SPEC §13: a Latin
    /// letter typed for a Cyrillic one, or another letter case).
    fn look_alike(&self, signal: bool, code: &Code, view: &View<'_>) -> Result<Option<String>> {
        let want = skeleton(&code.0);
        let in_batch = if signal { self.world.signal_codes() } else { self.world.case_codes() };
        if let Some(c) = in_batch.into_iter().find(|c| c.0 != code.0 && skeleton(&c.0) == want) {
            return Ok(Some(c.0.to_string()));
        }
        view.find_code(signal, |c| c != code.0 && skeleton(c) == want)
    }

    /// The case's running state, when it holds (not while an amendment's target is
    /// set aside).
    fn running_of(&self, case: &Code) -> Option<&Running> {
        self.running.get(case).filter(|_| !self.aside.get())
    }

    /// The case's latest state, an open stay's days not counted (no rule reads them).
    fn case_now(&self, case: &Code, field: &str) -> std::result::Result<Cow<'_, CaseState>, Refusal> {
        let state = match self.running_of(case) {
            Some(r) => Some(Cow::Borrowed(r.state())),
            None => Running::of(&self.world, case).map(|r| Cow::Owned(r.into_state())),
        };
        state.ok_or_else(|| {
            *self.unknown.borrow_mut() = Some((false, case.clone()));
            refuse(
                field,
                format!(
                    "случай {case} не открыт: сначала нужно открыть случай (событие «{}»)",
                    event_type("case_opened")
                ),
            )
        })
    }

    fn signal_received(&self, signal: &Code) -> bool {
        self.world.signal_events(signal).any(|e| matches!(e.payload, Payload::SignalReceived(_)))
    }

    fn known_signal(&self, signal: &Code, field: &str) -> std::result::Result<(), Refusal> {
        if self.signal_received(signal) {
            Ok(())
        } else {
            *self.unknown.borrow_mut() = Some((true, signal.clone()));
            Err(refuse(
                field,
                format!(
                    "сигнал {signal} не принят: сначала нужно принять сигнал (событие «{}»)",
                    event_type("signal_received")
                ),
            ))
        }
    }

    /// Checks that the case exists and the event is not dated before its opening;
    /// returns its current state.
    fn case_event(&self, case: &Code, on: NaiveDate) -> std::result::Result<Cow<'_, CaseState>, Refusal> {
        let state = self.case_now(case, "data.case")?;
        if on < state.opened_on {
            return Err(refuse(
                "occurred_on",
                format!("{} — раньше открытия случая {case} ({})", ru(on), ru(state.opened_on)),
            ));
        }
        Ok(state)
    }

    /// After closing, only monitoring, aid and services may be dated after the
    /// closing day (late entry of what happened before closing is allowed).
    fn open_on(&self, state: &CaseState, on: NaiveDate, kind: &str) -> std::result::Result<(), Refusal> {
        if let Some(closed) = state.closed_on.filter(|c| on > *c) {
            return Err(refuse(
                "occurred_on",
                format!(
                    "случай {} закрыт {}; после закрытия можно записывать только мониторинг, помощь и услуги, а {} датировано {}",
                    state.case,
                    ru(closed),
                    kind,
                    ru(on)
                ),
            ));
        }
        Ok(())
    }

    fn after_closing(&self, state: &CaseState, on: NaiveDate) -> std::result::Result<(), Refusal> {
        match state.closed_on {
            None => Err(refuse(
                "data.case",
                format!("случай {} ещё не закрыт: мониторинг возможен только после закрытия", state.case),
            )),
            Some(closed) if on < closed => Err(refuse(
                "occurred_on",
                format!("мониторинг датирован {}, раньше закрытия случая {} ({})", ru(on), state.case, ru(closed)),
            )),
            Some(_) => Ok(()),
        }
    }

    fn children_in_case<'a>(
        &self,
        state: &CaseState,
        codes: impl Iterator<Item = &'a Code>,
    ) -> std::result::Result<(), Refusal> {
        for (i, code) in codes.enumerate() {
            if !state.children.iter().any(|c| &c.code == code) {
                return Err(refuse(
                    &format!("data.children[{i}].code"),
                    format!("ребёнок {code} не относится к случаю {}", state.case),
                ));
            }
        }
        Ok(())
    }

    /// The crisis-centre stay must read admission → extensions → leaving, in the order
    /// of days, with the new event placed on its day after same-day events.
    fn shelter_sequence(&self, case: &Code, on: NaiveDate, new_kind: &'static str) -> std::result::Result<(), Refusal> {
        let mut seq: Vec<(NaiveDate, &'static str)> = case_timeline(&self.world, case, None)
            .into_iter()
            .filter(|e| {
                matches!(e.payload, Payload::ShelterAdmitted(_) | Payload::ShelterExtended(_) | Payload::ShelterLeft(_))
            })
            .map(|e| (e.occurred_on, e.payload.kind()))
            .collect();
        let at = seq.partition_point(|(d, _)| *d <= on);
        seq.insert(at, (on, new_kind));
        let mut inside = false;
        for (day, kind) in seq {
            let ok = match kind {
                "shelter_admitted" => !inside,
                _ => inside,
            };
            if !ok {
                let why = if kind == "shelter_admitted" {
                    format!("на {} семья уже в кризисном центре (заселение без выхода)", ru(day))
                } else {
                    format!(
                        "на {} семья не в кризисном центре: «{}» возможно только после заселения",
                        ru(day),
                        event_type(kind)
                    )
                };
                return Err(refuse("occurred_on", why));
            }
            inside = kind != "shelter_left";
        }
        Ok(())
    }

    /// The rules for one (non-correction) payload dated `on`.
    fn check_payload(&self, p: &Payload, on: NaiveDate) -> std::result::Result<(), Refusal> {
        match p {
            Payload::SignalReceived(s) => {
                if self.signal_received(&s.signal) {
                    return Err(refuse("data.signal", format!("сигнал {} уже принят ранее", s.signal)));
                }
            }
            Payload::SignalResolved(s) => {
                self.known_signal(&s.signal, "data.signal")?;
                if self.world.signal_events(&s.signal).any(|e| matches!(e.payload, Payload::SignalResolved(_))) {
                    return Err(refuse(
                        "data.signal",
                        format!("сигнал {} уже отработан: решение записывается один раз", s.signal),
                    ));
                }
                if let Some(case) = &s.case {
                    self.case_now(case, "data.case")?;
                }
            }
            Payload::CaseOpened(c) => {
                if fold(&self.world, &c.case, None).is_some() {
                    return Err(refuse(
                        "data.case",
                        format!("случай {} уже открыт; вернувшейся семье открывают новый случай", c.case),
                    ));
                }
                if let Some(signal) = &c.signal {
                    self.known_signal(signal, "data.signal")?;
                    // A case opened from a signal cannot be opened before the signal came.
                    let received = self
                        .world
                        .signal_events(signal)
                        .filter(|e| e.is_live() && matches!(e.payload, Payload::SignalReceived(_)))
                        .map(|e| e.occurred_on)
                        .min();
                    if let Some(received) = received.filter(|r| on < *r) {
                        return Err(refuse(
                            "occurred_on",
                            format!(
                                "случай открыт {} — раньше, чем принят сигнал {signal} ({}): проверьте дату открытия",
                                ru(on),
                                ru(received)
                            ),
                        ));
                    }
                }
            }
            Payload::ChildAdded(c) => {
                let state = self.case_event(&c.case, on)?;
                self.open_on(&state, on, "добавление ребёнка")?;
                if state.children.iter().any(|ch| ch.code == c.child.code) {
                    return Err(refuse(
                        "data.child.code",
                        format!("ребёнок {} уже есть в случае {}", c.child.code, c.case),
                    ));
                }
            }
            Payload::CuratorAssigned(c) => {
                let state = self.case_event(&c.case, on)?;
                self.open_on(&state, on, "назначение куратора")?;
            }
            Payload::EfoScored(e) => {
                let state = self.case_event(&e.case, on)?;
                if e.stage == Stage::FollowUp {
                    self.after_closing(&state, on)?;
                } else {
                    self.open_on(&state, on, "оценка ЕФО")?;
                }
                self.children_in_case(&state, e.children.iter().flatten().map(|c| &c.code))?;
            }
            Payload::PlanSet(pl) => {
                let state = self.case_event(&pl.case, on)?;
                self.open_on(&state, on, "ИПР")?;
            }
            Payload::AidIssued(a) => {
                if let Some(case) = &a.case {
                    self.case_event(case, on)?;
                }
                if let Some(signal) = &a.signal {
                    self.known_signal(signal, "data.signal")?;
                }
            }
            Payload::ServiceProvided(s) => {
                if let Some(case) = &s.case {
                    self.case_event(case, on)?;
                }
            }
            Payload::ShelterAdmitted(_) | Payload::ShelterExtended(_) | Payload::ShelterLeft(_) => {
                let case = p.case().expect("shelter events name a case");
                let state = self.case_event(case, on)?;
                self.open_on(&state, on, "событие кризисного центра")?;
                self.shelter_sequence(case, on, p.kind())?;
                // A stay cannot end before it starts.
                let until = match p {
                    Payload::ShelterAdmitted(a) => a.until.as_ref().map(|d| d.0),
                    Payload::ShelterExtended(x) => Some(x.until.0),
                    _ => None,
                };
                if let Some(until) = until.filter(|u| *u < on) {
                    let what = if matches!(p, Payload::ShelterAdmitted(_)) {
                        "заселения"
                    } else {
                        "продления"
                    };
                    return Err(refuse(
                        "data.until",
                        format!(
                            "пребывание до {} — раньше {what} {}: срок не может закончиться до начала",
                            ru(until),
                            ru(on)
                        ),
                    ));
                }
            }
            Payload::CaseClosed(c) => {
                let state = self.case_event(&c.case, on)?;
                if let Some(closed) = state.closed_on {
                    return Err(refuse(
                        "data.case",
                        format!("случай {} уже закрыт {}; случай закрывается один раз", c.case, ru(closed)),
                    ));
                }
                self.children_in_case(&state, c.children.iter().flatten().map(|c| &c.code))?;
                // A family still in the crisis centre on the closing day: its leaving comes
                // first. (When no event of the case is dated after that day, the running
                // state is the case on that day; else the case is folded through it.)
                let stay = match self.running_of(&c.case).filter(|r| r.last_day() <= on) {
                    Some(r) => r.state().shelter.in_shelter.then_some(r.state().shelter.admitted_on),
                    None => fold(&self.world, &c.case, Some(on))
                        .filter(|s| s.shelter.in_shelter)
                        .map(|s| s.shelter.admitted_on),
                };
                if let Some(admitted_on) = stay {
                    let since = admitted_on.map(|d| format!(" с {}", ru(d))).unwrap_or_default();
                    return Err(refuse(
                        "occurred_on",
                        format!(
                            "на {} семья ещё в кризисном центре{since}: сначала запишите «{}», потом закрытие случая",
                            ru(on),
                            event_type("shelter_left")
                        ),
                    ));
                }
            }
            Payload::FollowUpDone(f) => {
                let state = self.case_event(&f.case, on)?;
                self.after_closing(&state, on)?;
                self.children_in_case(&state, f.children.iter().flatten().map(|c| &c.code))?;
            }
            Payload::ExpenseRecorded(_) => {}
            Payload::EventVoided(_) | Payload::EventAmended(_) => {
                unreachable!("corrections are checked by check_correction")
            }
            Payload::ReportPublished(_) => unreachable!("publications are checked by check_publication"),
        }
        Ok(())
    }

    fn check_correction(
        &mut self,
        p: &Payload,
        event: &PendingEvent,
        view: &View<'_>,
    ) -> std::result::Result<(), Stop> {
        let target_id = p.correction().expect("only corrections").target;
        self.ensure_target(&target_id, view)?;
        if self.world.is_correction(&target_id) || self.stored_corrections.contains(&target_id) {
            return Err(
                refuse("data.target", format!("{target_id} — само исправление; исправление не исправляют")).into()
            );
        }
        let Some(target) = self.world.event(&target_id) else {
            return Err(refuse("data.target", format!("в реестре нет события {target_id}")).into());
        };
        if matches!(target.payload, Payload::ReportPublished(_)) {
            return Err(refuse(
                "data.target",
                "публикацию отчёта нельзя исправить или отменить: она заверена подписью журнала; опубликуйте новый отчёт"
                    .into(),
            )
            .into());
        }
        match p {
            Payload::EventVoided(_) => {
                let blocking = match &target.payload {
                    Payload::CaseOpened(c) => self
                        .world
                        .case_events(&c.case)
                        .chain(self.world.case_referrers(&c.case))
                        .find(|e| e.id != target_id)
                        .map(|e| (format!("случай {}", c.case), e.seq)),
                    Payload::SignalReceived(s) => self
                        .world
                        .signal_events(&s.signal)
                        .chain(self.world.signal_referrers(&s.signal))
                        .find(|e| e.id != target_id)
                        .map(|e| (format!("сигнал {}", s.signal), e.seq)),
                    _ => None,
                };
                if let Some((what, seq)) = blocking.filter(|_| target.is_live()) {
                    return Err(refuse(
                        "data.target",
                        format!("нельзя отменить открытие: на {what} ссылаются другие события (например, № {seq}); сначала отмените их"),
                    )
                    .into());
                }
            }
            Payload::EventAmended(a) => {
                let kind = target.payload.kind();
                let replacement = Payload::parse(kind, &a.data).map_err(|r| Refusal {
                    line: None,
                    field: Some(format!("data.{}", r.field.unwrap_or_else(|| "data".into()))),
                    reason: r.reason,
                })?;
                if replacement.case() != target.payload.case() || replacement.signal() != target.payload.signal() {
                    return Err(refuse(
                        "data.data",
                        "исправление должно относиться к тому же случаю и сигналу, что и исправляемое событие".into(),
                    )
                    .into());
                }
                let on = a.occurred_on.map_or(target.occurred_on, |d| d.0);
                if on > event.recorded_at.date_naive() {
                    return Err(refuse(
                        "data.occurred_on",
                        format!("{} — позже дня записи исправления ({})", ru(on), ru(event.recorded_at.date_naive())),
                    )
                    .into());
                }
                self.ensure_subjects(&replacement, view)?;
                // The replacement obeys the same rules as a new event would, with the
                // target set aside.
                let saved = self.world.event(&target_id).and_then(|t| t.voided_by);
                self.world.event_mut(&target_id).expect("target exists").voided_by = Some(u64::MAX);
                self.aside.set(true);
                let result = self.check_payload(&replacement, on);
                self.aside.set(false);
                self.world.event_mut(&target_id).expect("target exists").voided_by = saved;
                result.map_err(|mut r| {
                    r.field =
                        r.field
                            .map(|f| if f == "occurred_on" { "data.occurred_on".into() } else { format!("data.{f}") });
                    r
                })?;
            }
            _ => unreachable!(),
        }
        Ok(())
    }
}

/// A publication names a cut the ledger holds (SPEC §19): its seq N is before the
/// publication, event N was recorded no later than the report's `known_at`, event
/// N + 1 no earlier (as far as they are committed), and `known_at` is not later than
/// the publication itself.
fn check_publication(
    p: &crate::domain::payload::ReportPublished,
    event: &PendingEvent,
    view: &View<'_>,
) -> std::result::Result<(), Stop> {
    let (n, known_at) = (p.seq.0, p.known_at.0);
    if n >= event.seq {
        return Err(refuse(
            "data.seq",
            format!("отчёт назван по событию № {n}, а публикация — событие № {}", event.seq),
        )
        .into());
    }
    if known_at > event.recorded_at {
        return Err(refuse("data.known_at", "срез отчёта позже момента его публикации".into()).into());
    }
    let recorded = |seq: u64| -> std::result::Result<Option<chrono::DateTime<chrono::Utc>>, Stop> {
        match view.record(seq)? {
            Some(rec) => Ok(crate::ledger::event::recorded_at_of(&rec.canonical)),
            None => Ok(None),
        }
    };
    // Events of the same batch (an import of an export) are not in the view yet; the
    // bundle's verifiers check those cuts.
    if n > 0 && recorded(n)?.is_some_and(|t| t > known_at) {
        return Err(refuse("data.known_at", format!("событие № {n} записано позже среза отчёта")).into());
    }
    if n + 1 < event.seq && recorded(n + 1)?.is_some_and(|t| t < known_at) {
        return Err(refuse(
            "data.seq",
            format!("событие № {} записано до среза отчёта, а отчёт назван по событию № {n}", n + 1),
        )
        .into());
    }
    Ok(())
}

impl Rules for StateRules {
    type Parsed = std::result::Result<Payload, Refusal>;
    fn parse(input: &InputEvent) -> Self::Parsed {
        Payload::parse(input.kind, &input.data)
    }
    fn commit(&mut self, view: &View<'_>, commit: impl FnOnce() -> Result<Head>) -> Result<Head> {
        let (world, cases, signals) = (&self.world, &self.loaded_cases, &self.loaded_signals);
        let head = crate::project::summary::around_commit(view.store(), world, cases, signals, commit)?;
        self.summarized = true;
        Ok(head)
    }
    fn reserve(&mut self, events: usize) {
        self.world.reserve(events);
    }
    fn parse_quick(kind: &'static str, data: &crate::ledger::json::Node<'_>) -> Option<Self::Parsed> {
        // A refusal is left to the strict reading, whose words are the tested ones.
        Payload::from_node(kind, data).ok().map(Ok)
    }
    fn admit(&mut self, event: &PendingEvent, parsed: Self::Parsed, view: &View<'_>) -> std::result::Result<(), Stop> {
        let payload = parsed?;
        let on = event.occurred_on;
        self.unknown.borrow_mut().take();
        let checked = if payload.is_correction() {
            self.check_correction(&payload, event, view)
        } else if let Payload::ReportPublished(p) = &payload {
            check_publication(p, event, view)
        } else {
            self.ensure_subjects(&payload, view)?;
            self.run_case(payload.case());
            self.check_payload(&payload, on).map_err(Stop::Refuse)
        };
        if let Err(Stop::Refuse(mut refusal)) = checked {
            if let Some((signal, code)) = self.unknown.borrow_mut().take() {
                if let Some(like) = self.look_alike(signal, &code, view)? {
                    refusal.reason.push_str(&crate::say::did_you_mean(&like));
                }
            }
            return Err(refusal.into());
        }
        checked?;
        // A correction changes the case its target is filed under: the case of the
        // target's first payload. (The rules keep an amendment in its case, but a
        // stored one written without them may have moved it: then all are dropped.)
        let corrected = payload.correction().map(|c| c.target);
        if let Some(target) = corrected.and_then(|t| self.world.event(&t)) {
            match target.payload.case() {
                Some(case) if target.amended_by.is_empty() => {
                    self.running.remove(case);
                }
                None if target.amended_by.is_empty() => {}
                _ => self.running.clear(),
            }
        }
        self.world
            .add(event.seq, event.id, event.hash, event.recorded_at, on, payload)
            .map_err(|e| Refusal::new(None, e.0))?;
        if corrected.is_none() {
            // (Added last: a lookup by id cost a cache miss in a table of every event.)
            let e = self.world.events.last().filter(|e| e.id == event.id).expect("an event just added");
            if let Some(case) = e.payload.case() {
                if self.running.get_mut(case).is_some_and(|r| !r.step(e)) {
                    self.running.remove(case);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{history, Params};
    use crate::ledger::{AppendOptions, Ledger};

    /// The running states the rules step event by event equal a fold of the case from
    /// scratch, over generated years with late entries and corrections, appended in
    /// parts (each later part loads the earlier events from the store).
    #[test]
    fn running_states_equal_fresh_folds() {
        let events = history(&Params { families: 400, from_year: 2019, to_year: 2021, seed: 7, corrections: true });
        let lines: Vec<String> = events.iter().map(|e| e.to_json_line() + "\n").collect();
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::init(tmp.path()).unwrap();
        let opts = AppendOptions { actor: "t".into(), now: chrono::Utc::now() };
        let (mut compared, mut stepped) = (0, 0);
        for part in lines.chunks(lines.len() / 3 + 1) {
            let mut rules = StateRules::new();
            ledger.append_jsonl(part.concat().as_bytes(), &opts, &mut rules).unwrap();
            assert!(!rules.running.is_empty());
            for (case, running) in &rules.running {
                let mut kept = running.state().clone();
                let mut fresh = fold(&rules.world, case, None).expect("a running case is open");
                if fresh.shelter.in_shelter {
                    // (The running state leaves out the days of a stay not yet left.)
                    kept.shelter.days = 0;
                    fresh.shelter.days = 0;
                }
                assert_eq!(kept, fresh, "case {case}");
                compared += 1;
                stepped += usize::from(kept.events.len() > 3);
            }
        }
        assert!(compared > 100 && stepped > 50, "{compared} compared, {stepped} stepped");
    }
}
