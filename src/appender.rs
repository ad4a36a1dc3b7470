//! The group committer: one thread owns appending. It takes every append waiting in
//! its queue, checks each against the ledger plus the appends accepted before it in
//! the group (each still all or nothing on its own), writes their journal lines and
//! commits them to the store with one flush and fsync; a second thread, the
//! acknowledger, fsyncs the journal, records the head as acknowledged and only then
//! answers each request, while the first checks the next group.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::ledger::{Ack, AppendOptions, InputLine, Ledger};
use crate::limits::{MAX_GROUP_EVENTS, MAX_GROUP_REQUESTS, MAX_HTTP_BATCH_EVENTS, SPILL_EVENTS};
use crate::record::StateRules;

// A group never spills blocks ahead of its head: it is one sled batch and one flush.
const _: () = assert!(MAX_GROUP_EVENTS + MAX_HTTP_BATCH_EVENTS < SPILL_EVENTS);

/// One request's append.
pub struct Job {
    pub events: Vec<InputLine>,
    /// The token's user, the `actor` of every event.
    pub actor: String,
    pub reply: oneshot::Sender<Result<Vec<Ack>>>,
}

/// Handle to the committer thread.
#[derive(Clone)]
pub struct Appender {
    queue: mpsc::Sender<Job>,
}

impl Appender {
    /// Starts the committer thread over `ledger`. It ends when every `Appender` is
    /// dropped and the queue is drained, or after a storage failure.
    pub fn start(ledger: Arc<Ledger>, queue_len: usize) -> (Appender, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(queue_len);
        let handle = std::thread::Builder::new()
            .name("caseledger-writer".into())
            .spawn(move || run(&ledger, rx))
            .expect("spawning the writer thread");
        (Appender { queue: tx }, handle)
    }

    /// Queues an append and waits until it is durable (or refused). `None`: the writer
    /// has stopped.
    pub async fn append(&self, events: Vec<InputLine>, actor: String) -> Option<Result<Vec<Ack>>> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { events, actor, reply }).await.ok()?;
        answer.await.ok()
    }
}

impl Appender {
    /// As [`Appender::append`], from a thread that may block (a `spawn_blocking` read
    /// that publishes a report), never from an async task.
    pub fn append_blocking(&self, events: Vec<InputLine>, actor: String) -> Result<Vec<Ack>> {
        let stopped = || Error::Storage("the writer has stopped after a storage failure; restart the service".into());
        let (reply, answer) = oneshot::channel();
        self.queue.blocking_send(Job { events, actor, reply }).map_err(|_| stopped())?;
        answer.blocking_recv().map_err(|_| stopped())?
    }

    /// Appends one event built by the library (a report's publication) as `actor`,
    /// from a thread that may block.
    pub fn publisher(&self, actor: String) -> impl Fn(crate::ledger::event::InputEvent) -> Result<Ack> + '_ {
        move |ev| {
            let acks = self.append_blocking(vec![(1, Ok(ev))], actor.clone())?;
            acks.into_iter().next().ok_or_else(|| Error::Storage("the publication was not appended".into()))
        }
    }
}

/// Where a request's answer goes.
type Reply = oneshot::Sender<Result<Vec<Ack>>>;

/// A committed group waiting for its journal fsync and acknowledged head.
struct Committed {
    durable: crate::ledger::Durable,
    replies: Vec<(Reply, Vec<Ack>)>,
}

fn run(ledger: &Ledger, rx: mpsc::Receiver<Job>) {
    // The acknowledger: makes each committed group durable in the journal, records it
    // as acknowledged, then answers — in commit order, while this thread checks and
    // commits the next group.
    let (ack_tx, ack_rx) = std::sync::mpsc::sync_channel::<Committed>(2);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut failed = false;
            for c in ack_rx {
                // After one failure nothing more is acknowledged (the writer stops at
                // its next commit; groups it committed before that fail here).
                let done = if failed {
                    Err(Error::Storage("an earlier group could not be made durable".into()))
                } else {
                    c.durable.complete(ledger.store())
                };
                match done {
                    Ok(()) => {
                        for (reply, acks) in c.replies {
                            let _ = reply.send(Ok(acks));
                        }
                    }
                    Err(e) => {
                        if !failed {
                            tracing::error!(error = %e, "the journal failed after a commit; the writer stops");
                        }
                        failed = true;
                        let _ = fail_all(c.replies.into_iter().map(|(r, _)| r), e);
                    }
                }
            }
        });
        commit_groups(ledger, rx, &ack_tx);
        // The acknowledger ends once it has answered every committed group.
        drop(ack_tx);
    });
}

fn commit_groups(ledger: &Ledger, mut rx: mpsc::Receiver<Job>, acker: &std::sync::mpsc::SyncSender<Committed>) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        let mut events = jobs[0].events.len();
        while jobs.len() < MAX_GROUP_REQUESTS && events < MAX_GROUP_EVENTS {
            match rx.try_recv() {
                Ok(job) => {
                    events += job.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        if let Err(e) = commit_group(ledger, jobs, acker) {
            // A failed flush leaves the store in a state only a fresh open can judge:
            // stop taking appends (the handlers answer 503) and say so.
            tracing::error!(error = %e, "the writer stopped after a storage failure; restart the service");
            return;
        }
    }
}

/// Checks and commits one group; answers every job. An `Err` means the ledger failed
/// (every job of the group was answered with it).
fn commit_group(ledger: &Ledger, jobs: Vec<Job>, acker: &std::sync::mpsc::SyncSender<Committed>) -> Result<()> {
    let n = jobs.len();
    let mut group = match ledger.group() {
        Ok(g) => g,
        Err(e) => return fail_all(jobs.into_iter().map(|j| j.reply), e),
    };
    // The rules see the committed ledger plus the appends accepted so far in this
    // group (a refused append's effect on them is undone by `Group::add`).
    let mut rules = StateRules::new();
    let mut accepted = Vec::with_capacity(n);
    let mut failure = None;
    for job in jobs {
        if failure.is_some() {
            accepted.push((job.reply, Vec::new()));
            continue;
        }
        let opts = AppendOptions { actor: job.actor, now: chrono::Utc::now() };
        match group.add(job.events, &opts, &mut rules) {
            Ok(Ok(acks)) => accepted.push((job.reply, acks)),
            Ok(Err(refused)) => {
                let _ = job.reply.send(Err(refused));
            }
            Err(e) => {
                failure = Some(e);
                accepted.push((job.reply, Vec::new()));
            }
        }
    }
    if let Some(e) = failure {
        drop(group);
        return fail_all(accepted.into_iter().map(|(r, _)| r), e);
    }
    let events = group.events();
    // Readers of the digests wait for them to follow the commit (see project::summary):
    // the lock is taken before the commit and released after the update. The answers
    // go out in between: they need only the commit, and a reader they prompt waits.
    let held = ledger.store().summary_lock();
    let before = ledger.head();
    match group.commit_then_sync() {
        Ok((head, durable)) => {
            tracing::debug!(requests = n, events, seq = head.seq, "group committed");
            // Answered once the journal holds it durably too (the acknowledger).
            if let Err(std::sync::mpsc::SendError(c)) = acker.send(Committed { durable, replies: accepted }) {
                return fail_all(
                    c.replies.into_iter().map(|(r, _)| r),
                    Error::Storage("the acknowledger stopped".into()),
                );
            }
            rules.update_summary(ledger, &held, &before, &head);
            drop(held);
            Ok(())
        }
        Err(e) => fail_all(accepted.into_iter().map(|(r, _)| r), e),
    }
}

fn fail_all(replies: impl Iterator<Item = oneshot::Sender<Result<Vec<Ack>>>>, e: Error) -> Result<()> {
    for r in replies {
        let _ = r.send(Err(Error::Storage(format!(
            "the storage failed while making this append durable, so it may or may not be stored \
             (restart the service and look for its ids): {e}"
        ))));
    }
    Err(e)
}
