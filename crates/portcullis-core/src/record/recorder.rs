//! The recorder: a bounded queue drained by one writer thread in batches.
//!
//! Senders wait when the queue is full, so a slow store slows the data path
//! instead of losing events. A failed write is retried (with back-off)
//! until it succeeds or the gateway stops; every failure is logged and
//! counted, so the recorder never falls silent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use std::collections::HashMap;

use super::Event;
use super::audit::AuditEntry;
use super::chain::{self, ChainedEvent, Hash, Seal, Signer};
use crate::store::Store;

const BATCH: usize = 4096;
/// After each write the writer pauses this long so events accumulate: under
/// load that turns thousands of wake-ups and commits a second into a few
/// hundred, and it bounds how long an event waits before it is written.
const GATHER: Duration = Duration::from_millis(20);

enum Msg {
    Event(Box<Event>),
    Flush(oneshot::Sender<()>),
    /// An audit entry written in order with events, once the store takes
    /// writes again (a recording outage is audited when it is over).
    Audit(Box<AuditEntry>),
}

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("the recorder has stopped; nothing more can be recorded")]
    Stopped,
    #[error("the state store did not confirm the write within {0:?}")]
    Timeout(Duration),
}

/// Counters an operator can read to see that recording keeps up
/// (exported at `GET /metrics`).
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Events committed to the store.
    pub written: AtomicU64,
    /// Failed attempts to write a batch (each is retried).
    pub write_failures: AtomicU64,
    /// Statements refused in strict mode because their request event could
    /// not be stored in time.
    pub strict_refusals: AtomicU64,
}

/// Cheap to clone; one per session.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Msg>,
    stats: Arc<RecorderStats>,
    capacity: usize,
}

/// The writer thread; [`RecorderThread::finish`] drains the queue and joins it.
pub struct RecorderThread {
    handle: JoinHandle<()>,
}

impl Recorder {
    /// Starts the writer thread over `store` with a queue of `capacity` events.
    /// Sessions closed while it runs are sealed with `signer`.
    pub fn start(
        store: Arc<dyn Store>,
        capacity: usize,
        signer: Arc<Signer>,
    ) -> std::io::Result<(Recorder, RecorderThread)> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(RecorderStats::default());
        let thread_stats = stats.clone();
        let handle = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || run(store, rx, thread_stats, signer))?;
        Ok((
            Recorder {
                tx,
                stats,
                capacity: capacity.max(1),
            },
            RecorderThread { handle },
        ))
    }

    /// Queues an event, waiting while the queue is full (back-pressure).
    pub async fn record(&self, event: Event) -> Result<(), RecordError> {
        self.tx
            .send(Msg::Event(Box::new(event)))
            .await
            .map_err(|_| RecordError::Stopped)
    }

    /// Queues an event without waiting, for code that cannot (`Drop`): at
    /// once when the queue has room, else from a task that waits for it.
    pub fn record_detached(&self, event: Event) {
        match self.tx.try_send(Msg::Event(Box::new(event))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                let tx = self.tx.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        runtime.spawn(async move {
                            if tx.send(msg).await.is_err() {
                                tracing::error!(
                                    "the recorder stopped before an event could be queued"
                                );
                            }
                        });
                    }
                    Err(_) => {
                        if tx.blocking_send(msg).is_err() {
                            tracing::error!("the recorder stopped before an event could be queued");
                        }
                    }
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("the recorder stopped before an event could be queued");
            }
        }
    }

    /// Waits until everything queued before this call is written.
    pub async fn flush(&self) -> Result<(), RecordError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done))
            .await
            .map_err(|_| RecordError::Stopped)?;
        wait.await.map_err(|_| RecordError::Stopped)
    }

    /// Queues `event` and returns once the batch holding it is committed,
    /// or fails after `timeout` (strict mode: the statement then does not run).
    pub async fn record_durable(&self, event: Event, timeout: Duration) -> Result<(), RecordError> {
        self.durable(std::iter::once(event), timeout).await
    }

    /// [`Recorder::record_durable`] for several events: one wait for all.
    /// The writer commits in queue order, so the last confirmation covers
    /// everything queued before it.
    pub async fn durable(
        &self,
        events: impl IntoIterator<Item = Event>,
        timeout: Duration,
    ) -> Result<(), RecordError> {
        let work = async {
            for e in events {
                self.record(e).await?;
            }
            self.flush().await
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| RecordError::Timeout(timeout))?
    }

    /// Queues an audit entry, written after the events queued before it.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), RecordError> {
        self.tx
            .send(Msg::Audit(Box::new(entry)))
            .await
            .map_err(|_| RecordError::Stopped)
    }

    pub fn stats(&self) -> &RecorderStats {
        &self.stats
    }

    /// Events and requests waiting in the queue right now.
    pub fn queue_depth(&self) -> usize {
        self.capacity.saturating_sub(self.tx.capacity())
    }
}

impl RecorderThread {
    /// Waits for the writer to drain and stop; call after every [`Recorder`]
    /// clone is dropped.
    pub fn finish(self) {
        if self.handle.join().is_err() {
            tracing::error!("recorder thread panicked");
        }
    }
}

/// Links each session's events into its hash chain, and seals it at close.
struct Chainer {
    signer: Arc<Signer>,
    last: HashMap<String, Hash>,
    scratch: Vec<u8>,
}

impl Chainer {
    fn chain(&mut self, event: Event, seals: &mut Vec<(String, Seal)>) -> ChainedEvent {
        let id = event.session_id();
        let prev = match &event {
            Event::Open(_) => chain::GENESIS,
            _ => self.last.get(id).copied().unwrap_or(chain::GENESIS),
        };
        let hash = chain::link_with(&mut self.scratch, &prev, &event);
        match &event {
            Event::Close(_) => {
                self.last.remove(id);
                seals.push((id.to_string(), self.signer.seal(id, &hash)));
            }
            Event::Open(_) => {
                self.last.insert(id.to_string(), hash);
            }
            // The hot path: no allocation for the session id.
            _ => match self.last.get_mut(id) {
                Some(last) => *last = hash,
                None => {
                    self.last.insert(id.to_string(), hash);
                }
            },
        }
        // Statement events are stored as their JSON: hand over what was
        // just rendered for the hash.
        let json = match event {
            Event::Request(_)
            | Event::Response(_)
            | Event::Terminal(_)
            | Event::Transfer(_)
            | Event::Forward(_) => String::from_utf8(self.scratch.clone()).ok(),
            _ => None,
        };
        ChainedEvent {
            event,
            hash: hex::encode(hash),
            json,
        }
    }
}

fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Msg>,
    stats: Arc<RecorderStats>,
    signer: Arc<Signer>,
) {
    let mut chainer = Chainer {
        signer,
        last: HashMap::new(),
        scratch: Vec::with_capacity(1024),
    };
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
    let mut chained: Vec<ChainedEvent> = Vec::with_capacity(BATCH);
    let mut seals: Vec<(String, Seal)> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut audits: Vec<AuditEntry> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        take(first, &mut batch, &mut waiters, &mut audits);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => take(m, &mut batch, &mut waiters, &mut audits),
                Err(_) => break,
            }
        }
        let busy = batch.len() > 1;
        for e in batch.drain(..) {
            chained.push(chainer.chain(e, &mut seals));
        }
        write(store.as_ref(), &chained, &seals, &stats);
        for entry in audits.drain(..) {
            write_audit(store.as_ref(), &entry, &stats);
        }
        chained.clear();
        seals.clear();
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        // An idle gateway writes a lone event at once; a busy one gathers.
        if busy {
            std::thread::sleep(GATHER);
        }
    }
}

fn take(
    m: Msg,
    batch: &mut Vec<Event>,
    waiters: &mut Vec<oneshot::Sender<()>>,
    audits: &mut Vec<AuditEntry>,
) {
    match m {
        Msg::Event(e) => batch.push(*e),
        Msg::Flush(w) => waiters.push(w),
        Msg::Audit(a) => audits.push(*a),
    }
}

/// Writes one queued audit entry, retrying like events: the audit log must
/// not lose the record of an outage because the outage is still going on.
fn write_audit(store: &dyn Store, entry: &AuditEntry, stats: &RecorderStats) {
    let mut delay = Duration::from_millis(50);
    loop {
        match store.audit(entry) {
            Ok(()) => return,
            Err(e) => {
                stats.write_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, action = %entry.action, "audit write failed; retrying");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn write(
    store: &dyn Store,
    batch: &[ChainedEvent],
    seals: &[(String, Seal)],
    stats: &RecorderStats,
) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(50);
    let mut failed: Option<(u32, i64, String)> = None;
    loop {
        match store.append(batch, seals) {
            Ok(()) => {
                stats
                    .written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                // The outage itself goes on record once the store is back.
                if let Some((attempts, since, last)) = failed {
                    let entry = AuditEntry::new(
                        "gateway",
                        "recording.failed",
                        None,
                        Some(format!(
                            "{attempts} failed attempts to write {} events since {}, now written; last error: {last}",
                            batch.len(),
                            crate::time::format_micros(since)
                        )),
                    );
                    if let Err(e) = store.audit(&entry) {
                        tracing::error!(error = %e, "could not audit the recording failure");
                    }
                }
                return;
            }
            Err(e) => {
                stats.write_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, events = batch.len(), "recording failed; retrying (clients wait meanwhile)");
                let f = failed.get_or_insert((0, crate::time::now_micros(), String::new()));
                f.0 += 1;
                f.2 = e.to_string();
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
