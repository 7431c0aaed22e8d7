//! Waiting until a runtime answers its health path.

use std::time::Duration;

use super::ProvisionError;

/// Polls `<address><path>` until it answers 2xx or the timeout passes.
#[derive(Debug, Clone)]
pub struct Health {
    path: String,
    timeout: Duration,
    http: reqwest::Client,
}

/// Between polls: short, because a start is waited on by an HTTP request.
const POLL: Duration = Duration::from_millis(100);

impl Health {
    pub fn new(path: &str, timeout: Duration) -> Self {
        Self {
            path: path.to_owned(),
            timeout,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap_or_default(),
        }
    }

    pub async fn wait(&self, address: &str) -> Result<(), ProvisionError> {
        let url = format!("{address}{}", self.path);
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let last = match self.http.get(&url).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => format!("it answered {}", response.status()),
                Err(error) => format!("{error}"),
            };
            if tokio::time::Instant::now() + POLL > deadline {
                return Err(ProvisionError::Runtime(format!(
                    "the runtime did not answer GET {} within {} s ({last})",
                    self.path,
                    self.timeout.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
