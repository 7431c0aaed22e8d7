//! Tokens for agents' workloads: `/v1/agents/{agent_id}/oidc-token` (a Tessera-issued OIDC JWT,
//! verified by PyJWT from the discovery document and JWKS alone) and
//! `/v1/agents/{agent_id}/aws-credentials`, against moto (PyPI) standing in for AWS STS: moto
//! checks nothing about the token, so the test reads moto's request recording and verifies
//! the `WebIdentityToken` Tessera sent.

use std::process::Stdio;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_testkit::{TestAgent, TestServer, TestTenant};

use crate::support::{call, expect_error, expect_json, free_port};

const ROLE: &str = "arn:aws:iam::123456789012:role/deploy";

/// Runs tests/peers/verify_token.py ISSUER TOKEN AUDIENCE JWT: the claims when it verifies.
async fn verified(issuer: &str, token: &str, audience: &str) -> Option<Value> {
    let script = tessera_testkit::peer::peers_dir().join("verify_token.py");
    let output = tokio::process::Command::new("python3")
        .args([script.to_str().unwrap(), issuer, token, audience, "JWT"])
        .output()
        .await
        .unwrap();
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).unwrap())
}

/// `moto_server` on a free loopback port, recording every request; killed when dropped.
struct Moto {
    url: String,
    _recording: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl Moto {
    async fn start() -> Self {
        let port = free_port();
        let recording = tempfile::tempdir().unwrap();
        let child = tokio::process::Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("MOTO_ENABLE_RECORDING", "True")
            .env(
                "MOTO_RECORDER_FILEPATH",
                recording.path().join("moto.jsonl"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 -m moto.server (run scripts/install-peers)");
        let url = format!("http://127.0.0.1:{port}");
        let moto = Self {
            url,
            _recording: recording,
            _child: child,
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return moto;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("moto did not start on port {port} (is moto[server] installed?)");
    }

    /// The forms of the requests moto recorded, oldest first.
    async fn recorded(&self) -> Vec<Vec<(String, String)>> {
        let url = format!("{}/moto-api/recorder/download-recording", self.url);
        let response = reqwest::get(url).await.unwrap();
        // Before the first request there is no recording file, and moto answers 500.
        if !response.status().is_success() {
            return Vec::new();
        }
        let text = response.text().await.unwrap();
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let entry: Value = serde_json::from_str(line).unwrap();
                let body = entry["body"].as_str().unwrap_or_default();
                let bytes = if entry["body_encoded"] == true {
                    STANDARD.decode(body).unwrap()
                } else {
                    body.as_bytes().to_vec()
                };
                url::form_urlencoded::parse(&bytes).into_owned().collect()
            })
            .collect()
    }
}

fn field<'f>(form: &'f [(String, String)], name: &str) -> &'f str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} not in {form:?}"))
}

async fn post(
    server: &TestServer,
    path: &str,
    bearer: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = server.http.post(server.url(path)).json(&body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    request.send().await.unwrap()
}

async fn read_key(server: &TestServer, tenant: &TestTenant) -> String {
    let path = format!("/v1/tenants/{}/api-keys", tenant.id);
    let body = json!({"name": "reader", "scopes": ["read"]});
    let created = call(
        server,
        Method::POST,
        &path,
        Some(&tenant.api_key),
        Some(body),
    )
    .await;
    expect_json(created, 201).await["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn setup(server: &TestServer) -> (TestTenant, TestAgent, String) {
    let tenant = server.register_tenant("Acme").await;
    let agent = server.create_agent(&tenant, &["deploy"]).await;
    let token = server.token(&agent, None).await;
    (tenant, agent, token)
}

#[tokio::test]
async fn oidc_tokens_verify_from_discovery_and_only_the_agent_or_its_tenant_mint_them() {
    let server = TestServer::start().await;
    let (tenant, agent, token) = setup(&server).await;
    let path = format!("/v1/agents/{}/oidc-token", agent.id);
    let audience = "https://cloud.example/pool";

    let minted = expect_json(
        post(&server, &path, Some(&token), json!({"audience": audience})).await,
        200,
    )
    .await;
    assert_eq!(minted["token_type"], "urn:ietf:params:oauth:token-type:jwt");
    assert_eq!(minted["expires_in"], 300);
    let jwt = minted["token"].as_str().unwrap();
    let claims = verified(&server.base, jwt, audience)
        .await
        .expect("PyJWT verifies it");
    assert_eq!(claims["sub"], agent.id.as_str());
    assert_eq!(claims["iss"], server.base.as_str());
    assert_eq!(claims["tenant_id"], tenant.id.as_str());
    assert!(
        verified(&server.base, jwt, "https://other.example")
            .await
            .is_none()
    );
    // It is no access token of Tessera's: not active, and no credential here.
    assert!(!server.is_active(jwt).await);
    let response = post(&server, &path, Some(jwt), json!({"audience": audience})).await;
    expect_error(response, 401, "unauthenticated").await;

    // The tenant's key may mint for its agent; a read-only key may not.
    let by_key = call(
        &server,
        Method::POST,
        &path,
        Some(&tenant.api_key),
        Some(json!({"audience": "sts.amazonaws.com"})),
    )
    .await;
    expect_json(by_key, 200).await;
    let reader = read_key(&server, &tenant).await;
    let response = call(
        &server,
        Method::POST,
        &path,
        Some(&reader),
        Some(json!({"audience": audience})),
    )
    .await;
    expect_error(response, 403, "insufficient_scope").await;

    // Another tenant, and another agent's token, learn nothing.
    let (other, _, other_token) = setup(&server).await;
    let response = call(
        &server,
        Method::POST,
        &path,
        Some(&other.api_key),
        Some(json!({"audience": audience})),
    )
    .await;
    expect_error(response, 404, "not_found").await;
    let response = post(
        &server,
        &path,
        Some(&other_token),
        json!({"audience": audience}),
    )
    .await;
    expect_error(response, 404, "not_found").await;

    // Bad input: audiences that are Tessera's own or empty, a missing field, a bad id.
    for bad in [String::new(), server.base.clone(), agent.id.clone()] {
        let response = post(&server, &path, Some(&token), json!({"audience": bad})).await;
        expect_error(response, 400, "invalid_parameter").await;
    }
    let response = post(&server, &path, Some(&token), json!({})).await;
    expect_error(response, 422, "invalid_body").await;
    let response = post(
        &server,
        "/v1/agents/agt_x/oidc-token",
        Some(&token),
        json!({"audience": audience}),
    )
    .await;
    expect_error(response, 400, "invalid_id").await;

    // A disabled agent gets none.
    let agent_path = format!("/v1/tenants/{}/agents/{}", tenant.id, agent.id);
    let disabled = call(
        &server,
        Method::PATCH,
        &agent_path,
        Some(&tenant.api_key),
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(disabled.status(), 200);
    let response = call(
        &server,
        Method::POST,
        &path,
        Some(&tenant.api_key),
        Some(json!({"audience": audience})),
    )
    .await;
    expect_error(response, 409, "conflict").await;

    server.flush_audit().await;
    let audit_path = format!("/v1/tenants/{}/audit?action=oidc_token.issue", tenant.id);
    let events = call(
        &server,
        Method::GET,
        &audit_path,
        Some(&tenant.api_key),
        None,
    )
    .await;
    let events = expect_json(events, 200).await;
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["actor"], format!("agent:{}", agent.id));
    assert_eq!(events[0]["target"], audience);
    assert!(!serde_json::to_string(events).unwrap().contains(jwt));
}

#[tokio::test]
async fn aws_credentials_come_from_sts_for_the_token_tessera_minted() {
    let moto = Moto::start().await;
    let sts = url::Url::parse(&moto.url).unwrap();
    let server = TestServer::start_with(|config| config.aws_sts_endpoint = Some(sts)).await;
    let (tenant, agent, token) = setup(&server).await;
    let path = format!("/v1/agents/{}/aws-credentials", agent.id);

    let response = post(&server, &path, Some(&token), json!({"role_arn": ROLE})).await;
    let credentials = expect_json(response, 200).await;
    let access_key = credentials["access_key_id"].as_str().unwrap();
    assert!(access_key.starts_with("ASIA"), "{credentials}");
    let secret = credentials["secret_access_key"].as_str().unwrap();
    let session = credentials["session_token"].as_str().unwrap();
    assert!(!secret.is_empty() && !session.is_empty());
    assert!(
        credentials["expiration"]
            .as_str()
            .unwrap()
            .starts_with("20")
    );
    assert_eq!(
        credentials["assumed_role_arn"],
        format!("arn:aws:sts::123456789012:assumed-role/deploy/{}", agent.id)
    );

    // What moto received: this role, the agent as session name, and Tessera's JWT for the
    // agent with the audience AWS expects.
    let recorded = moto.recorded().await;
    let calls: Vec<_> = recorded
        .iter()
        .filter(|form| {
            form.iter()
                .any(|(k, v)| k == "Action" && v == "AssumeRoleWithWebIdentity")
        })
        .collect();
    assert_eq!(calls.len(), 1, "{recorded:?}");
    let form = calls[0];
    assert_eq!(field(form, "RoleArn"), ROLE);
    assert_eq!(field(form, "RoleSessionName"), agent.id.as_str());
    assert_eq!(field(form, "DurationSeconds"), "3600");
    let sent = field(form, "WebIdentityToken");
    let claims = verified(&server.base, sent, "sts.amazonaws.com")
        .await
        .expect("the token moto received verifies from Tessera's JWKS");
    assert_eq!(claims["sub"], agent.id.as_str());
    assert_eq!(claims["iss"], server.base.as_str());

    // The tenant's key works too, with a duration; bad input reaches no one.
    let body = json!({"role_arn": ROLE, "duration_seconds": 900});
    let by_key = call(
        &server,
        Method::POST,
        &path,
        Some(&tenant.api_key),
        Some(body),
    )
    .await;
    expect_json(by_key, 200).await;
    for bad in [
        json!({"role_arn": "arn:aws:iam::1:role/x"}),
        json!({"role_arn": "deploy"}),
        json!({"role_arn": ROLE, "duration_seconds": 60}),
        json!({"role_arn": ROLE, "duration_seconds": 50_000}),
    ] {
        let response = post(&server, &path, Some(&token), bad).await;
        expect_error(response, 400, "invalid_parameter").await;
    }
    let response = post(&server, &path, Some(&token), json!({"role": ROLE})).await;
    expect_error(response, 422, "invalid_body").await;
    let (other, _, _) = setup(&server).await;
    let response = call(
        &server,
        Method::POST,
        &path,
        Some(&other.api_key),
        Some(json!({"role_arn": ROLE})),
    )
    .await;
    expect_error(response, 404, "not_found").await;
    let assumed = moto
        .recorded()
        .await
        .iter()
        .filter(|f| f.iter().any(|(k, _)| k == "WebIdentityToken"))
        .count();
    assert_eq!(assumed, 2);

    // Audited without the secrets or the token.
    server.flush_audit().await;
    let audit_path = format!(
        "/v1/tenants/{}/audit?action=aws_credentials.issue",
        tenant.id
    );
    let events = call(
        &server,
        Method::GET,
        &audit_path,
        Some(&tenant.api_key),
        None,
    )
    .await;
    let events = expect_json(events, 200).await;
    let text = serde_json::to_string(&events["events"]).unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 2);
    assert!(text.contains(ROLE));
    for hidden in [secret, session, sent] {
        assert!(!text.contains(hidden));
    }
}

#[tokio::test]
async fn aws_credentials_need_an_sts_endpoint_that_answers() {
    let unset = TestServer::start().await;
    let (_, agent, token) = setup(&unset).await;
    let path = format!("/v1/agents/{}/aws-credentials", agent.id);
    let response = post(&unset, &path, Some(&token), json!({"role_arn": ROLE})).await;
    let body = expect_error(response, 503, "aws_not_configured").await;
    assert_eq!(body["setup_required"], true);

    // An endpoint nothing listens on: 502, audited as a failure.
    let dead = url::Url::parse(&format!("http://127.0.0.1:{}", free_port())).unwrap();
    let server = TestServer::start_with(|config| config.aws_sts_endpoint = Some(dead)).await;
    let (tenant, agent, token) = setup(&server).await;
    let path = format!("/v1/agents/{}/aws-credentials", agent.id);
    let response = post(&server, &path, Some(&token), json!({"role_arn": ROLE})).await;
    expect_error(response, 502, "cloud_failed").await;
    server.flush_audit().await;
    let audit_path = format!(
        "/v1/tenants/{}/audit?action=aws_credentials.issue",
        tenant.id
    );
    let events = call(
        &server,
        Method::GET,
        &audit_path,
        Some(&tenant.api_key),
        None,
    )
    .await;
    let events = expect_json(events, 200).await;
    assert_eq!(events["events"][0]["outcome"], "failure");
    assert_eq!(events["events"][0]["reason"], "cloud_failed");
}
