//! The `tessera` binary itself: first start prints the operator key once, `admin
//! issue-operator-key`, `migrate`, `keys`, graceful shutdown on SIGTERM, and no secret in logs.

use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::json;
use tessera_testkit::{TestDatabase, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The binary, pointed at the store of `server` (its data directory, or its PostgreSQL
/// database with the same master key).
pub async fn tessera(server: &TestServer, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command.args(args).arg("--data-dir").arg(server.data_dir());
    if let Some(db) = server.database() {
        command.arg("--database-url").arg(db.url());
        let key = server
            .config()
            .master_key
            .as_ref()
            .expect("PostgreSQL servers have a master key");
        command.env("TESSERA_MASTER_KEY", key.expose());
    }
    command.output().await.expect("running tessera")
}

pub(crate) struct Serving {
    child: Child,
    pub(crate) stdout_lines: Vec<String>,
    pub(crate) base: String,
    /// Everything the server logs, read continuously: an unread pipe fills up and stalls it.
    stderr: tokio::task::JoinHandle<String>,
}

/// Starts `tessera serve` on a free port and reads its stdout up to the "listening" line.
async fn serve(
    data_dir: &std::path::Path,
    database: Option<&TestDatabase>,
    master_key: Option<&str>,
) -> Serving {
    serve_with(
        data_dir,
        database,
        master_key,
        &["--listen", "127.0.0.1:0"],
        &[],
    )
    .await
}

/// [`serve`] with other arguments (`--listen` among them) and environment variables.
pub(crate) async fn serve_with(
    data_dir: &std::path::Path,
    database: Option<&TestDatabase>,
    master_key: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Serving {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args(["serve", "--internal-listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .arg("--data-dir")
        .arg(data_dir);
    if let Some(db) = database {
        command.arg("--database-url").arg(db.url());
    }
    if let Some(key) = master_key {
        command.env("TESSERA_MASTER_KEY", key);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawning tessera serve");
    let mut err = child.stderr.take().expect("stderr");
    let mut stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut err, &mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stdout_lines = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("reading stdout") {
            stdout_lines.push(line.clone());
            if let Some(rest) = line.strip_prefix("Tessera listening on ") {
                return rest.split(' ').next().expect("address").to_owned();
            }
        }
        let _ = child.wait().await;
        panic!(
            "tessera serve exited early: {stdout_lines:?} {}",
            (&mut stderr).await.unwrap_or_default()
        );
    })
    .await
    .expect("tessera serve did not start in time");
    Serving {
        child,
        stdout_lines,
        base,
        stderr,
    }
}

pub(crate) async fn sigterm_and_wait(mut serving: Serving) -> (std::process::ExitStatus, String) {
    let pid = serving.child.id().expect("pid").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), serving.child.wait())
        .await
        .expect("shutdown in time")
        .expect("wait");
    (status, serving.stderr.await.unwrap_or_default())
}

#[tokio::test]
async fn the_binary_serves_prints_the_operator_key_once_and_shuts_down_gracefully() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::from_env().await.unwrap();
    let master_key = database.as_ref().map(|_| {
        tessera_crypto::MasterKey::generate(1)
            .to_base64()
            .to_string()
    });
    let http = reqwest::Client::new();

    let first = serve(data_dir.path(), database.as_ref(), master_key.as_deref()).await;
    let operator_key = first
        .stdout_lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("tso_").map(|k| format!("tso_{k}")))
        .expect("operator key printed");
    let base = first.base.clone();
    let created = http
        .post(format!("{base}/v1/tenants"))
        .header("x-api-key", &operator_key)
        .json(&json!({"name": "A", "email": "a@b.io", "kind": "consumer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let tenant_key = created["api_key"].as_str().unwrap().to_owned();
    let tenant_path = format!("/v1/tenants/{}", created["tenant"]["id"].as_str().unwrap());
    let tenant_url = format!("{base}{tenant_path}");
    assert_eq!(
        http.get(&tenant_url)
            .header("x-api-key", &tenant_key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metadata: serde_json::Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["issuer"], base,
        "the issuer names the port actually bound"
    );

    let (status, stderr) = sigterm_and_wait(first).await;
    assert!(
        status.success(),
        "SIGTERM ends the server cleanly: {status}"
    );
    assert!(
        stderr.contains("\"message\":\"request\""),
        "JSON access logs on stderr"
    );
    assert!(
        !stderr.contains(&operator_key) && !stderr.contains(&tenant_key),
        "no key in the logs"
    );

    // A second start on the same store creates nothing and prints no key.
    let second = serve(data_dir.path(), database.as_ref(), master_key.as_deref()).await;
    assert!(
        !second.stdout_lines.iter().any(|l| l.contains("tso_")),
        "{:?}",
        second.stdout_lines
    );
    assert_eq!(
        http.get(format!("{}{tenant_path}", second.base))
            .header("x-api-key", &tenant_key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, _) = sigterm_and_wait(second).await;
    assert!(status.success());
}

#[tokio::test]
async fn admin_issues_operator_keys_and_migrate_is_idempotent() {
    let server = TestServer::start().await;
    let output = tessera(&server, &["admin", "issue-operator-key"]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the key on stdout: {stdout}");
    assert!(lines[0].starts_with("tso_"));
    let body = json!({"name": "via new key", "email": "a@b.io", "kind": "consumer"});
    let created = server
        .http
        .post(server.url("/v1/tenants"))
        .header("x-api-key", lines[0])
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let migrate = tessera(&server, &["migrate"]).await;
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
}

#[tokio::test]
async fn postgres_without_a_master_key_refuses_to_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--internal-listen",
            "127.0.0.1:0",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/none",
        ])
        .env_remove("TESSERA_MASTER_KEY")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("master key") || stderr.contains("PostgreSQL"),
        "{stderr}"
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--database-url", "mysql://x"])
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("postgres://"));
}

#[tokio::test]
async fn ten_thousand_events_under_load_survive_sigterm_and_verify() {
    const TOKENS: usize = 10_000;
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::from_env().await.unwrap();
    let master_key = database.as_ref().map(|_| {
        tessera_crypto::MasterKey::generate(1)
            .to_base64()
            .to_string()
    });
    let http = reqwest::Client::new();

    let first = serve(data_dir.path(), database.as_ref(), master_key.as_deref()).await;
    let operator_key = first
        .stdout_lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("tso_").map(|k| format!("tso_{k}")))
        .unwrap();
    let base = first.base.clone();
    let created: serde_json::Value = http
        .post(format!("{base}/v1/tenants"))
        .header("x-api-key", &operator_key)
        .json(&json!({"name": "load", "email": "a@b.io", "kind": "consumer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant_id = created["tenant"]["id"].as_str().unwrap().to_owned();
    let tenant_key = created["api_key"].as_str().unwrap().to_owned();
    let agent: serde_json::Value = http
        .post(format!("{base}/v1/tenants/{tenant_id}/agents"))
        .header("x-api-key", &tenant_key)
        .json(&json!({"name": "busy"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (client_id, secret) = (
        agent["client_id"].as_str().unwrap().to_owned(),
        agent["client_secret"].as_str().unwrap().to_owned(),
    );

    // 32 clients issue tokens as fast as the server answers; each issuance is one audit event.
    let mut workers = Vec::new();
    for worker in 0..32 {
        let (http, base, client_id, secret) = (
            http.clone(),
            base.clone(),
            client_id.clone(),
            secret.clone(),
        );
        workers.push(tokio::spawn(async move {
            for _ in (worker..TOKENS).step_by(32) {
                let response = http
                    .post(format!("{base}/oauth2/token"))
                    .basic_auth(&client_id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    // SIGTERM the moment the last response arrived: the writer may still hold queued events.
    let (status, _) = sigterm_and_wait(first).await;
    assert!(status.success());

    let second = serve(data_dir.path(), database.as_ref(), master_key.as_deref()).await;
    let report: serde_json::Value = http
        .get(format!(
            "{}/v1/tenants/{tenant_id}/audit/verify",
            second.base
        ))
        .header("x-api-key", &tenant_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        report["events_checked"],
        TOKENS + 2,
        "tenant.create, agent.create and every token.issue: {report}"
    );
    assert!(
        report["checkpoints_checked"].as_u64().unwrap() >= 1,
        "the head was signed at shutdown: {report}"
    );
    let (status, _) = sigterm_and_wait(second).await;
    assert!(status.success());
}

/// The agent's `crm` token, read from the vault with its own access token.
async fn vault_read(server: &TestServer, agent: &tessera_testkit::TestAgent) -> serde_json::Value {
    let bearer = server.token(agent, Some("connections:read")).await;
    let response = server
        .http
        .get(server.url(&format!("/v1/agents/{}/connections/crm/token", agent.id)))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<serde_json::Value>().await.unwrap()["access_token"].clone()
}

#[tokio::test]
async fn rotate_master_rewraps_everything_sealed_while_the_server_runs() {
    let server = TestServer::start_with(|config| {
        config.oauth_allow_private_issuers = true;
        config.integrations = [("crm".to_owned(), crate::master_keys::idle_integration())].into();
        // PostgreSQL refuses integrations without one (embedded mode generates it).
        config.oauth_state_secret = Some(tessera_server::Secret::new("s".repeat(32)));
    })
    .await;
    if server.database().is_some() {
        // With PostgreSQL the operator adds the new version to `master_key` on every instance
        // first; the key file (and its re-reading by running servers) is embedded mode's.
        eprintln!("skipped: the master key file is embedded mode's");
        return;
    }
    let tenant = server.register_tenant("A").await;
    let agent = server.create_agent(&tenant, &["connections:read"]).await;
    let body = json!({"scope_kind": "agent", "scope_id": agent.id, "provider": "crm",
        "token_set": {"access_token": "the-access-token", "expires_in": 3600}});
    let ingested = server
        .http
        .post(server.internal_url("/v1/integrations/credentials/ingest"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ingested.status(), 201);
    let output = tessera(&server, &["keys", "rotate-master"]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "2");
    // Every sealed value now names version 2, and the running server still opens them.
    let version = |blob: &[u8]| u32::from_be_bytes(blob[1..5].try_into().unwrap());
    let store = &server.state().store;
    for key in store.signing_keys().await.unwrap() {
        assert_eq!(version(&key.sealed_private_key), 2);
    }
    let key = tessera_core::connection::ConnectionKey {
        tenant_id: tenant.id.parse().unwrap(),
        scope_kind: tessera_core::connection::ScopeKind::Agent,
        scope_id: agent.id.clone(),
        provider: "crm".into(),
        name: "oauth_token".into(),
    };
    let connection = store.connection(&key).await.unwrap().unwrap();
    assert_eq!(version(&connection.sealed_tokens), 2);
    assert_eq!(vault_read(&server, &agent).await, "the-access-token");
    // The key file keeps both versions; after a restart (the signing key unsealed again) all
    // still works.
    let key_file = std::fs::read_to_string(server.config().master_key_path()).unwrap();
    assert_eq!(key_file.lines().count(), 2);
    let server = server.restart().await;
    assert_eq!(vault_read(&server, &agent).await, "the-access-token");
}
