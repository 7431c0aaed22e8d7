//! A real OpenID Provider for tests of Tessera as a relying party: npm `oidc-provider` run by
//! `tests/peers/oidc_provider.mjs` on a free loopback port, and a driver for its development
//! login and consent forms, so a test gets a real authorization code without a browser.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use reqwest::header::LOCATION;
use reqwest::{StatusCode, redirect};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use url::Url;

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/peers");

/// How long a start may take to say it listens (node starts in well under a second here).
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// A client registered at the provider.
#[derive(Debug, Clone, Serialize)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    /// `client_secret_basic` (the provider's default) or `client_secret_post`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// RS256 (default), PS256, ES256 or EdDSA; the provider needs a key for it
    /// ([`OidcProviderOptions::signing_algs`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
}

impl OidcClient {
    /// A confidential client authenticating with HTTP Basic, ID tokens signed RS256.
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: vec![redirect_uri.to_owned()],
            token_endpoint_auth_method: None,
            id_token_signed_response_alg: None,
        }
    }
}

/// What the provider is started with; serialized as the script's config JSON.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcProviderOptions {
    pub clients: Vec<OidcClient>,
    /// The issuer to announce, when not `http://127.0.0.1:<port>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Algorithms to hold a signing key for; the script's default is `["RS256"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algs: Option<Vec<String>>,
    /// ID token lifetime in seconds; the script's default is 3600.
    #[serde(rename = "idTokenTTL", skip_serializing_if = "Option::is_none")]
    pub id_token_ttl: Option<u64>,
    /// Whether scope `email`/`profile` claims go into the ID token (the script's default) or
    /// only to the userinfo endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims_in_id_token: Option<bool>,
    /// Whether clients get (rotating) refresh tokens and revocation is on.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub refresh_tokens: bool,
    /// An `azp` (authorized party) claim for every ID token. oidc-provider sets `aud` to the
    /// client that redeemed the code whatever it is told, so naming another client here is
    /// how a test gets a real ID token issued to someone else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_party: Option<String>,
}

#[derive(Deserialize)]
struct Ready {
    issuer: String,
    port: u16,
}

/// A running provider; it is killed when dropped (and exits by itself if this process dies,
/// when its stdin closes).
///
/// Accounts: any login name is an account whose `sub` is that name, with email
/// `<login>@example.test` (verified, except for the login `unverified`) and name `User <login>`.
#[derive(Debug)]
pub struct OidcProvider {
    /// The announced issuer, `http://127.0.0.1:<port>` unless the options named another.
    pub issuer: String,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
    _stdin: ChildStdin,
    _child: Child,
}

impl OidcProvider {
    /// Starts the provider and waits until it listens. A start that says nothing within
    /// [`READY_WITHIN`] is abandoned (the process killed) and tried once more: one CI run hung
    /// forever with node listening and its ready line never read (cause unknown); a second
    /// silence fails the test.
    pub async fn start(options: &OidcProviderOptions) -> Self {
        if let Some(provider) = Self::try_start(options).await {
            return provider;
        }
        eprintln!("oidc_provider.mjs said nothing within {READY_WITHIN:?}; starting it again");
        Self::try_start(options).await.unwrap_or_else(|| {
            panic!("oidc_provider.mjs said nothing within {READY_WITHIN:?}, twice")
        })
    }

    async fn try_start(options: &OidcProviderOptions) -> Option<Self> {
        let peers = Path::new(PEERS);
        assert!(
            peers
                .join("node_modules/oidc-provider/package.json")
                .exists(),
            "npm oidc-provider is not installed under tests/peers: run scripts/install-peers"
        );
        let config = serde_json::to_string(options).expect("provider options as JSON");
        let mut child = Command::new("node")
            .arg(peers.join("oidc_provider.mjs"))
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting node (run scripts/install-peers): {e}"));
        let stdin = child.stdin.take().expect("provider stdin");
        let stdout = child.stdout.take().expect("provider stdout");
        let mut stderr_pipe = child.stderr.take().expect("provider stderr");
        // Kept for failure messages; oidc-provider also prints development-mode warnings here.
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut buffer).await {
                let text = String::from_utf8_lossy(&buffer[..n]);
                sink.lock().expect("stderr buffer").push_str(&text);
            }
        });
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let read = tokio::time::timeout(READY_WITHIN, stdout.read_line(&mut line))
            .await
            .ok()?;
        let ready: Ready = match read.ok().and_then(|_| serde_json::from_str(&line).ok()) {
            Some(ready) => ready,
            None => {
                // Let the stderr task collect what the script said before it exited.
                let _ = child.wait().await;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                panic!(
                    "oidc_provider.mjs did not start (said {line:?}); stderr:\n{}",
                    stderr.lock().expect("stderr buffer")
                );
            }
        };
        // Keep reading, so a later write from the script never meets a closed pipe.
        tokio::spawn(async move {
            let mut rest = Vec::new();
            let _ = stdout.read_to_end(&mut rest).await;
        });
        Some(Self {
            issuer: ready.issuer,
            port: ready.port,
            stderr,
            _stdin: stdin,
            _child: child,
        })
    }

    /// Signs `account` in at `authorization_url` through the provider's login and consent
    /// forms, and returns the URL the provider redirects to (the client's redirect URI with
    /// `code`, `state` and `iss`, or with `error`), without fetching it.
    pub async fn login(&self, authorization_url: &str, account: &str) -> Url {
        let issuer = Url::parse(&self.issuer).expect("the issuer is a URL");
        // A fresh cookie jar per login: each one is a new browser session.
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let mut url = Url::parse(authorization_url).expect("the authorization URL is a URL");
        let mut form: Option<Vec<(&str, &str)>> = None;
        for _ in 0..16 {
            let request = match form.take() {
                Some(fields) => http.post(url.clone()).form(&fields),
                None => http.get(url.clone()),
            };
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("requesting {url}: {e}"));
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or_else(|| panic!("a {status} from {url} without Location"));
                let target = url.join(location).expect("a valid Location");
                if target.origin() != issuer.origin() {
                    return target;
                }
                url = target;
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            assert_eq!(status, StatusCode::OK, "{url} answered {status}: {body}");
            form = Some(match prompt(&body) {
                Some("login") => vec![("prompt", "login"), ("login", account), ("password", "any")],
                Some("consent") => vec![("prompt", "consent")],
                other => panic!("{url}: unexpected interaction {other:?}: {body}"),
            });
        }
        panic!(
            "no redirect to the client after 16 steps; provider stderr:\n{}",
            self.stderr.lock().expect("stderr buffer")
        );
    }
}

impl OidcProvider {
    /// Attempts of the refresh_token grant so far, counted by the provider.
    pub async fn refresh_count(&self) -> u64 {
        self.counts().await["refresh"]
            .as_u64()
            .expect("a refresh count")
    }

    /// Requests the provider has seen for `path` (its own endpoints and `/api/whoami`).
    pub async fn path_count(&self, path: &str) -> u64 {
        self.counts().await["paths"][path].as_u64().unwrap_or(0)
    }

    async fn counts(&self) -> serde_json::Value {
        reqwest::get(format!("{}/_test/counts", self.issuer))
            .await
            .expect("the provider's counts")
            .json()
            .await
            .expect("counts as JSON")
    }

    /// Destroys every refresh token the provider issued (the user revoked the grant).
    pub async fn revoke_refresh_tokens(&self) {
        self.test_call("revoke-refresh").await;
    }

    /// Destroys every access token: they stop working before they expire.
    pub async fn revoke_access_tokens(&self) {
        self.test_call("revoke-access").await;
    }

    async fn test_call(&self, what: &str) {
        let status = reqwest::Client::new()
            .post(format!("{}/_test/{what}", self.issuer))
            .send()
            .await
            .expect("a test call to the provider")
            .status();
        assert!(status.is_success(), "{what}: {status}");
    }
}

/// The value of the devInteractions form's hidden `prompt` input.
fn prompt(html: &str) -> Option<&str> {
    let marker = r#"name="prompt" value=""#;
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(&html[start..start + end])
}
