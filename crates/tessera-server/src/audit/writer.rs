//! The audit writer: one background task per instance drains a bounded queue and appends the
//! events to their chains in batches. Requests only wait when the queue is full. Nothing
//! accepted is dropped: a failed append is retried until the store takes it, and
//! [`AuditWriter::close`] returns only after everything queued before it is stored.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::Store;
use tessera_core::audit::AuditEvent;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Events appended per transaction at most.
const BATCH: usize = 256;

enum Message {
    Event(AuditEvent),
    /// Answered once every event queued before it is stored.
    Flush(oneshot::Sender<()>),
    /// Stops taking events; answered once everything already queued is stored.
    Close(oneshot::Sender<()>),
}

#[derive(Debug)]
pub struct AuditWriter {
    queue: mpsc::Sender<Message>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// Woken after every append, so log consumers need not poll the store tightly.
    appended: Arc<Notify>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Event(event) => f.debug_tuple("Event").field(&event.id).finish(),
            Self::Flush(_) => f.write_str("Flush"),
            Self::Close(_) => f.write_str("Close"),
        }
    }
}

impl AuditWriter {
    /// Starts the writer task with a queue of `capacity` events.
    pub fn start(store: Arc<dyn Store>, capacity: usize) -> Self {
        let (queue, receiver) = mpsc::channel(capacity.max(1));
        let appended = Arc::new(Notify::new());
        let task = tokio::spawn(run(store, receiver, Arc::clone(&appended)));
        Self {
            queue,
            task: std::sync::Mutex::new(Some(task)),
            appended,
        }
    }

    pub async fn record(&self, event: AuditEvent) {
        if let Err(mpsc::error::SendError(Message::Event(event))) =
            self.queue.send(Message::Event(event)).await
        {
            // Only after close: the event is logged rather than silently lost.
            tracing::error!(event_id = %event.id, action = event.action, "audit event after shutdown was not stored");
        }
    }

    /// Waits until every event recorded before this call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Stops taking events, stores everything already queued, and ends the task. Events
    /// recorded after this are refused loudly (logged), never dropped silently.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = wait.await;
        }
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    pub fn appended(&self) -> Arc<Notify> {
        Arc::clone(&self.appended)
    }
}

async fn run(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Message>, appended: Arc<Notify>) {
    let mut events = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Event(event) => events.push(event),
                Message::Flush(done) => flushes.push(done),
                Message::Close(done) => {
                    // Refuse new events; what is already buffered is still received below.
                    receiver.close();
                    flushes.push(done);
                }
            }
            if events.len() < BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !events.is_empty() {
            append(store.as_ref(), &events).await;
            metrics::counter!("tessera_audit_events_written_total").increment(events.len() as u64);
            events.clear();
        }
        appended.notify_waiters();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Appends a batch, retrying until the store accepts it: the queue behind it fills and
/// requests slow down, but no accepted event is lost.
async fn append(store: &dyn Store, events: &[AuditEvent]) {
    let mut delay = Duration::from_millis(50);
    while let Err(error) = store.append_audit(events, tessera_crypto::sha256).await {
        tracing::error!(error = %error, events = events.len(), "appending audit events failed; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
