//! A real SMTP server for tests (`tests/peers/smtp_sink.py`, PyPI `aiosmtpd`), and reading the
//! outbox a server without SMTP keeps instead.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use sqlx::{Connection, Row};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::TestServer;

const SINK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/peers/smtp_sink.py"
);

/// One message as the SMTP server received and parsed it.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The `From` and `To` headers.
    pub from: String,
    pub to: String,
    pub subject: String,
    /// The text/plain body.
    pub text: Option<String>,
}

/// A running SMTP server; it stops when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Mail>>>,
    _child: Child,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(SINK)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting tests/peers/smtp_sink.py (scripts/install-peers installs aiosmtpd)");
        let mut lines = BufReader::new(child.stdout.take().expect("sink stdout")).lines();
        let first = lines
            .next_line()
            .await
            .expect("reading the sink's port")
            .unwrap_or_default();
        let port: u16 = first
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink said {first:?}"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mail: Mail = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("the SMTP sink wrote {line:?}: {e}"));
                record.lock().unwrap_or_else(|p| p.into_inner()).push(mail);
            }
        });
        Self {
            port,
            received,
            _child: child,
        }
    }

    /// The `smtp_url` of this server (plain SMTP on loopback; it offers no STARTTLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, in order.
    pub fn received(&self) -> Vec<Mail> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits (up to 10 s) until `count` messages have arrived for `recipient`; returns them.
    pub async fn wait_for(&self, recipient: &str, count: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails: Vec<Mail> = self
                .received()
                .into_iter()
                .filter(|mail| mail.rcpt_tos.iter().any(|to| to == recipient))
                .collect();
            if mails.len() >= count {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{recipient} got {} of {count} messages",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One message kept in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

impl TestServer {
    /// The outbox (mail kept when no SMTP server is configured), oldest first.
    pub async fn outbox(&self) -> Vec<OutboxRow> {
        let mut connection = self.store_connection().await;
        let rows = sqlx::query(
            "SELECT recipient, subject, body FROM email_outbox ORDER BY created_at, id",
        )
        .fetch_all(&mut connection)
        .await
        .expect("reading the outbox");
        let _ = connection.close().await;
        rows.iter()
            .map(|row| OutboxRow {
                recipient: row.try_get("recipient").expect("recipient"),
                subject: row.try_get("subject").expect("subject"),
                body: row.try_get("body").expect("body"),
            })
            .collect()
    }
}
