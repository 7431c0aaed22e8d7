//! Small request helpers shared by the test modules.

use reqwest::{Method, Response};
use serde_json::Value;
use tessera_testkit::{OutboxRow, TestServer};

/// Sends `method path` with `key` as `X-API-Key` (when given) and `body` as JSON (when given).
pub async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut request = server.http.request(method, server.url(path));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

/// Asserts an error response: status, `error` code, a non-empty `message`; returns the body.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.expect("an error body is JSON");
    assert_eq!(actual, status, "status of {body}");
    assert_eq!(body["error"], code, "error code of {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message of {body}"
    );
    body
}

/// Asserts a 2xx JSON response and returns its body.
pub async fn expect_json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "status of {text}");
    serde_json::from_str(&text).expect("JSON body")
}

/// The server's Prometheus exposition, from the internal listener.
pub async fn metrics(server: &TestServer) -> String {
    let response = server
        .http
        .get(server.internal_url("/metrics"))
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

/// The claims and header of a JWT, decoded without verification (for asserting their shape).
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine;
    let decode = |part: &str| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    };
    let mut parts = token.split('.');
    let header = decode(parts.next().expect("header"));
    let claims = decode(parts.next().expect("claims"));
    (header, claims)
}

/// The workspace's test runtime (`tessera-test-runtime`), started on a free loopback port and
/// killed when dropped.
pub struct TestRuntime {
    pub port: u16,
    /// Held for `kill_on_drop`.
    _child: tokio::process::Child,
}

impl TestRuntime {
    pub async fn start() -> Self {
        let port = free_port();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera-test-runtime"))
            .env("PORT", port.to_string())
            .kill_on_drop(true)
            .spawn()
            .expect("the test runtime starts");
        let runtime = Self {
            port,
            _child: child,
        };
        let health = format!("{}/health", runtime.url());
        for _ in 0..200 {
            if reqwest::get(&health).await.is_ok_and(|r| r.status() == 200) {
                return runtime;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the test runtime did not answer on port {port}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Every `Set-Cookie` header of `response`, as text.
pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The mail kept in the outbox for `recipient`, oldest first.
pub async fn mail_to(server: &TestServer, recipient: &str) -> Vec<OutboxRow> {
    server
        .outbox()
        .await
        .into_iter()
        .filter(|mail| mail.recipient == recipient)
        .collect()
}

/// The newest mail kept in the outbox for `recipient`.
pub async fn last_mail_to(server: &TestServer, recipient: &str) -> OutboxRow {
    mail_to(server, recipient)
        .await
        .pop()
        .unwrap_or_else(|| panic!("no mail for {recipient} in the outbox"))
}

/// The 6-digit code in an email's text.
pub fn mailed_code(text: &str) -> String {
    let code = text
        .split("enter this code: ")
        .nth(1)
        .and_then(|rest| rest.get(..6))
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    code
}

/// The link to `path` in an email's text.
pub fn mailed_link(text: &str, path: &str) -> String {
    text.split_whitespace()
        .find(|word| word.contains(&format!("{path}?")))
        .unwrap_or_else(|| panic!("no link to {path} in {text:?}"))
        .to_owned()
}
