//! Webhook test helpers: a real loopback receiver (`tests/peers/webhook_receiver.py`, which
//! verifies signatures with PyPI `standardwebhooks`), and waiting for background delivery while
//! moving the server's clock forward so retries come due without sleeping through backoff.

use std::future::Future;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::TestServer;

const RECEIVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/peers/webhook_receiver.py"
);

/// One request the receiver got.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    pub webhook_id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    /// Per configured secret: whether `standardwebhooks` verified the request with it.
    pub verified: Vec<bool>,
    /// The verification error, when one failed.
    pub error: Option<String>,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a webhook body is JSON")
    }
}

/// A running receiver; it is killed when dropped.
#[derive(Debug)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    http: reqwest::Client,
    _child: Child,
}

impl Receiver {
    pub async fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(RECEIVER)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting tests/peers/webhook_receiver.py (scripts/install-peers installs its peer)");
        let stdout = child.stdout.take().expect("receiver stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("reading the receiver's port");
        let port: u16 = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the receiver said {line:?}"));
        Self {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _child: child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sets how `path` behaves: the secrets to verify with, how many deliveries to refuse
    /// first, and whether to refuse all of them.
    pub async fn configure(&self, path: &str, settings: Value) {
        let mut body = settings;
        body["path"] = json!(path);
        let response = self
            .http
            .post(self.url("/_control"))
            .json(&body)
            .send()
            .await
            .expect("configuring the receiver");
        assert_eq!(response.status(), 200);
    }

    /// What `path` (plain: letters, digits, `/`, `-`) received so far, in order.
    pub async fn received(&self, path: &str) -> Vec<Received> {
        self.http
            .get(self.url(&format!("/_received?path={path}")))
            .send()
            .await
            .expect("asking the receiver")
            .json()
            .await
            .expect("the receiver's record")
    }
}

impl TestServer {
    /// Polls `check` until it returns Some, moving the server's clock `step` forward between
    /// polls (so delivery retries come due), for at most `limit` of real time.
    pub async fn eventually<T, F, Fut>(
        &self,
        what: &str,
        step: time::Duration,
        limit: Duration,
        mut check: F,
    ) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.clock.advance(step);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
