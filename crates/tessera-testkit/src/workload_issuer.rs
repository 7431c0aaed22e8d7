//! An outside workload issuer for workload identity tests (the "GitHub Actions" whose tokens a
//! trust policy accepts): npm `oidc-provider` run by `tests/peers/workload_issuer.mjs`, issuing
//! real signed JWTs whose `aud` and CI claims the test chooses, with a key rotation on demand.

use std::path::Path;
use std::process::Stdio;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/peers");

/// A running issuer; killed when dropped (and gone by itself when this process dies).
#[derive(Debug)]
pub struct WorkloadIssuer {
    /// `http://127.0.0.1:<port>`, or the URL it was told to announce.
    pub issuer: String,
    /// Where it listens (differs from `issuer` for an impostor).
    pub base: String,
    http: reqwest::Client,
    _stdin: ChildStdin,
    _child: Child,
}

#[derive(Deserialize)]
struct Ready {
    issuer: String,
    port: u16,
}

impl WorkloadIssuer {
    /// An issuer announcing its own loopback URL; tokens live `ttl_secs`.
    pub async fn start(ttl_secs: u64) -> Self {
        Self::spawn(json!({"tokenTTL": ttl_secs})).await
    }

    /// An impostor: announces `issuer` (someone else's URL) but signs with keys of its own.
    pub async fn impostor_of(issuer: &str) -> Self {
        Self::spawn(json!({"issuer": issuer})).await
    }

    async fn spawn(config: Value) -> Self {
        let peers = Path::new(PEERS);
        assert!(
            peers.join("node_modules/oidc-provider").exists(),
            "npm oidc-provider is not installed under tests/peers: run scripts/install-peers"
        );
        let mut child = Command::new("node")
            .arg(peers.join("workload_issuer.mjs"))
            .arg(config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting node (run scripts/install-peers): {e}"));
        let stdin = child.stdin.take().expect("issuer stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("issuer stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line).await;
        let Ok(ready) = serde_json::from_str::<Ready>(&line) else {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr).await;
            }
            panic!("workload_issuer.mjs did not start (said {line:?}): {stderr}");
        };
        // Drain both pipes so the script never blocks on a full one.
        tokio::spawn(async move {
            let mut rest = Vec::new();
            let _ = stdout.read_to_end(&mut rest).await;
        });
        if let Some(mut stderr) = child.stderr.take() {
            tokio::spawn(async move {
                let mut rest = Vec::new();
                let _ = stderr.read_to_end(&mut rest).await;
            });
        }
        Self {
            issuer: ready.issuer,
            base: format!("http://127.0.0.1:{}", ready.port),
            http: reqwest::Client::new(),
            _stdin: stdin,
            _child: child,
        }
    }

    /// A token for `audience` carrying `claims` (repository, ref, environment, workflow,
    /// actor, repository_owner).
    pub async fn token(&self, audience: &str, claims: Value) -> String {
        let response = self
            .http
            .post(format!("{}/token", self.base))
            .basic_auth("ci", Some("ci-secret"))
            .header("x-workload-claims", claims.to_string())
            .form(&[("grant_type", "client_credentials"), ("resource", audience)])
            .send()
            .await
            .expect("the issuer's token endpoint");
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON token response");
        assert_eq!(status, 200, "the issuer refused: {body}");
        body["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Replaces the signing key: new tokens name a key id the old key set does not hold.
    pub async fn rotate_key(&self) {
        let status = self
            .http
            .post(format!("{}/_test/rotate", self.base))
            .send()
            .await
            .expect("rotating the issuer's key")
            .status();
        assert!(status.is_success(), "rotate: {status}");
    }

    /// How often the issuer's key set was fetched.
    pub async fn jwks_fetches(&self) -> u64 {
        let counts: Value = self
            .http
            .get(format!("{}/_test/counts", self.base))
            .send()
            .await
            .expect("the issuer's counts")
            .json()
            .await
            .expect("counts as JSON");
        counts["paths"]["/jwks"].as_u64().unwrap_or(0)
    }
}
