//! Passkeys and the console pages: sign-up, sign-out and usernameless sign-in in a real browser
//! (Debian Chromium driven by playwright-core, holding a CDP virtual authenticator), a passkey
//! linked to a password user, replayed, forged and counter-regressed assertions refused, and
//! bad input refused before anything is written — over HTTP, on both backends.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_core::people::IdentityKind;
use tessera_testkit::{TestServer, peer};

use crate::people::{as_user, register};
use crate::support::{expect_error, expect_json, free_port, set_cookies};

const PASSWORD: &str = "correct horse battery";

/// A server at `http://localhost:<port>`: WebAuthn refuses an IP address as relying party id.
pub async fn passkey_server() -> TestServer {
    let port = free_port();
    TestServer::start_with(|config| {
        config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        config.public_url = Some(format!("http://localhost:{port}").parse().unwrap());
    })
    .await
}

pub fn browser_base(server: &TestServer) -> String {
    server.config().issuer()
}

/// Runs `tests/peers/passkey_browser.mjs <mode>` off the runtime (the server runs on it).
pub async fn browser(mode: &'static str, input: Value) -> Value {
    tokio::task::spawn_blocking(move || peer::run("node", "passkey_browser.mjs", mode, &input))
        .await
        .unwrap()
}

async fn post(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    as_user(server, Method::POST, path, token, Some(body)).await
}

/// The rows a sign-in may write, to show a refusal wrote none.
async fn written(server: &TestServer) -> [i64; 4] {
    let mut counts = [0; 4];
    for (count, table) in counts
        .iter_mut()
        .zip(["users", "identities", "sessions", "wallets"])
    {
        *count = server.count_rows(table).await;
    }
    counts
}

/// A credential of the right shape whose bytes prove nothing.
fn fake_attestation() -> Value {
    json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key",
           "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}})
}

fn fake_assertion() -> Value {
    json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key",
           "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA",
                        "signature": "AAAA", "userHandle": null}})
}

/// CDP reports credential ids in standard base64; Tessera's subjects are base64url.
fn base64url(standard: &str) -> String {
    standard
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// The signature counter Tessera stored for a passkey.
async fn stored_counter(server: &TestServer, subject: &str) -> u64 {
    let identity = server
        .state()
        .store
        .identity(&IdentityKind::Passkey, subject)
        .await
        .unwrap()
        .expect("the passkey identity");
    let stored: Value = serde_json::from_str(identity.credential.as_deref().unwrap()).unwrap();
    stored["passkey"]["cred"]["counter"]
        .as_u64()
        .expect("a counter")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_up_with_a_passkey_signs_out_and_signs_in_again_usernameless() {
    let server = passkey_server().await;
    let before = written(&server).await;
    let seen = browser(
        "signup",
        json!({"base": browser_base(&server), "name": "Ada Lovelace"}),
    )
    .await;

    // One new user, whose only door is the passkey; the same user again without a username.
    let user = seen["signed_up"].as_str().unwrap();
    assert!(user.starts_with("usr_"), "{seen}");
    assert_eq!(seen["signed_in"], user, "{seen}");
    assert_eq!(seen["signed_up_name"], "Ada Lovelace");
    assert_eq!(seen["identities"], json!(["passkey"]));
    assert_eq!(
        seen["after_sign_out"],
        format!("{}/console/login?resume", browser_base(&server))
    );
    let after = written(&server).await;
    assert_eq!(after[0] - before[0], 1, "one user");
    assert_eq!(after[1] - before[1], 1, "one identity");
    assert_eq!(after[3] - before[3], 1, "one custodial wallet");

    // The identity is the authenticator's resident credential, with its counter.
    let credentials = seen["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1, "{seen}");
    assert_eq!(credentials[0]["resident"], true);
    let subject = base64url(credentials[0]["id"].as_str().unwrap());
    let identity = server
        .state()
        .store
        .identity(&IdentityKind::Passkey, &subject)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(identity.user_id.to_string(), user);
    let counter = stored_counter(&server, &subject).await;
    assert!(counter > 0, "the virtual authenticator counts signatures");

    // The sign-in's own answer, sent again: its ceremony is used up.
    let used = seen["login_finish"].clone();
    assert!(used["handle"].as_str().unwrap().starts_with("tpc_"));
    let replay = post(&server, "/v1/auth/passkey/login/finish", None, used.clone()).await;
    expect_error(replay, 400, "invalid_state").await;

    // The same answer to a fresh ceremony: it signed another challenge.
    let fresh = start_login(&server).await;
    let replayed = json!({"handle": fresh, "credential": used["credential"]});
    let replay = post(&server, "/v1/auth/passkey/login/finish", None, replayed).await;
    expect_error(replay, 401, "sign_in_failed").await;

    // Held answers (the browser signed them; they were never sent): a forged signature is
    // refused, a true one signs in, and one whose counter is behind the stored one is refused.
    let held = seen["held"].as_array().unwrap();
    assert_eq!(held.len(), 2, "{seen}");
    let mut forged = held[0].clone();
    let signature = forged["credential"]["response"]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if signature.starts_with('M') { "N" } else { "M" };
    forged["credential"]["response"]["signature"] = json!(format!("{flipped}{}", &signature[1..]));
    forged["handle"] = json!(start_login(&server).await);
    let refused = post(&server, "/v1/auth/passkey/login/finish", None, forged).await;
    expect_error(refused, 401, "sign_in_failed").await;
    // The forgery burnt its ceremony only, not the held one's: that one still signs in.
    let sessions = server.count_rows("sessions").await;
    let grant = expect_json(
        post(
            &server,
            "/v1/auth/passkey/login/finish",
            None,
            held[0].clone(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(grant["user"]["id"], user);
    assert_eq!(grant["created"], false);
    assert_eq!(server.count_rows("sessions").await, sessions + 1);
    let moved = stored_counter(&server, &subject).await;
    assert!(
        moved > counter,
        "the new counter is stored: {moved} > {counter}"
    );

    // A stored counter ahead of the authenticator's (a clone signed meanwhile): refused.
    set_counter(&server, &subject, moved + 100).await;
    let sessions = server.count_rows("sessions").await;
    let behind = post(
        &server,
        "/v1/auth/passkey/login/finish",
        None,
        held[1].clone(),
    )
    .await;
    let body = expect_error(behind, 401, "sign_in_failed").await;
    assert!(
        body["message"].as_str().unwrap().contains("counter"),
        "{body}"
    );
    assert_eq!(server.count_rows("sessions").await, sessions);
    assert_eq!(stored_counter(&server, &subject).await, moved + 100);
}

/// Starts a usernameless sign-in; returns its handle.
async fn start_login(server: &TestServer) -> String {
    let ceremony = expect_json(
        as_user(
            server,
            Method::POST,
            "/v1/auth/passkey/login/start",
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    ceremony["handle"].as_str().unwrap().to_owned()
}

/// Writes a passkey's stored counter (as if another sign-in had moved it).
async fn set_counter(server: &TestServer, subject: &str, counter: u64) {
    let store = &server.state().store;
    let identity = store
        .identity(&IdentityKind::Passkey, subject)
        .await
        .unwrap()
        .unwrap();
    let old = identity.credential.unwrap();
    let mut stored: Value = serde_json::from_str(&old).unwrap();
    stored["passkey"]["cred"]["counter"] = json!(counter);
    let replaced = store
        .replace_identity_credential(identity.id, &old, &stored.to_string())
        .await
        .unwrap();
    assert!(replaced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_user_links_a_passkey_in_the_console_and_signs_in_with_it() {
    let server = passkey_server().await;
    let ada = register(&server, "ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let grace = register(&server, "grace@example.com").await;
    let seen = browser(
        "link",
        json!({"base": browser_base(&server), "email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(seen["password_user"], ada_id, "{seen}");
    assert_eq!(
        seen["signed_in"], ada_id,
        "the passkey signs in the password user"
    );
    let mut kinds: Vec<_> = seen["identities"].as_array().unwrap().clone();
    kinds.sort_by_key(|kind| kind.to_string());
    assert_eq!(kinds, [json!("email"), json!("passkey"), json!("password")]);
    // The authenticator holds one passkey: the second registration was excluded by the server.
    assert!(!seen["second_add"].as_str().unwrap().is_empty(), "{seen}");
    assert_eq!(seen["credentials"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen["identities_after"].as_array().unwrap().len(), 3);
    let subject = base64url(seen["credentials"][0]["id"].as_str().unwrap());

    // A signed-in registration excludes the person's own passkeys, and only theirs.
    let token = ada["access_token"].as_str().unwrap();
    let start = post(
        &server,
        "/v1/auth/passkey/register/start",
        Some(token),
        json!({}),
    )
    .await;
    let options = expect_json(start, 200).await["options"]["publicKey"].clone();
    let excluded: Vec<_> = options["excludeCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().trim_end_matches('=').to_owned())
        .collect();
    assert_eq!(excluded, [subject]);
    // The authenticator names the account by the person's email or name, else their id.
    assert_eq!(options["user"]["name"], "ada@example.com");
    let token = grace["access_token"].as_str().unwrap();
    let start = post(
        &server,
        "/v1/auth/passkey/register/start",
        Some(token),
        json!({}),
    )
    .await;
    let options = expect_json(start, 200).await["options"]["publicKey"].clone();
    assert!(
        options["excludeCredentials"]
            .as_array()
            .is_none_or(|ids| ids.is_empty()),
        "{options}"
    );
    let grace_doors = server
        .state()
        .store
        .identities(grace["user"]["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    // Her password and its confirmed address, nothing more.
    assert_eq!(grace_doors.len(), 2, "grace's doors are untouched");
}

#[tokio::test]
async fn bad_passkey_input_gets_a_clear_error_and_writes_nothing() {
    let server = passkey_server().await;
    let ada = register(&server, "ada@example.com").await;
    let before = written(&server).await;
    for (path, fake) in [
        ("/v1/auth/passkey/register/finish", fake_attestation()),
        ("/v1/auth/passkey/login/finish", fake_assertion()),
    ] {
        // Finish without a start, with a handle that was never issued, or of the wrong kind.
        for handle in [
            "",
            "tpc_1111",
            "trt_2JtNp6dop8LAvXXb6iAdTCFbTy3nU1WUeF8HMZJG7szEYmjPTu",
        ] {
            let response = post(
                &server,
                path,
                None,
                json!({"handle": handle, "credential": fake}),
            )
            .await;
            expect_error(response, 400, "invalid_state").await;
        }
        // Garbage where the credential goes; fields missing or unknown; not JSON at all.
        for garbage in [
            json!("garbage"),
            json!({"rawId": 7}),
            json!([1, 2, 3]),
            json!(null),
        ] {
            let response = post(
                &server,
                path,
                None,
                json!({"handle": "tpc_1", "credential": garbage}),
            )
            .await;
            expect_error(response, 400, "invalid_parameter").await;
        }
        let response = post(&server, path, None, json!({"credential": fake})).await;
        expect_error(response, 422, "invalid_body").await;
        let response = post(
            &server,
            path,
            None,
            json!({"handle": "x", "credential": fake, "extra": 1}),
        )
        .await;
        expect_error(response, 422, "invalid_body").await;
        let response = server
            .http
            .post(server.url(path))
            .body("handle=x")
            .send()
            .await
            .unwrap();
        expect_error(response, 415, "unsupported_media_type").await;
    }

    // A real ceremony: garbage leaves it in place; a fake answer uses it up; then it is gone.
    let start = post(&server, "/v1/auth/passkey/register/start", None, json!({})).await;
    let handle = expect_json(start, 200).await["handle"].clone();
    let path = "/v1/auth/passkey/register/finish";
    let garbage = post(
        &server,
        path,
        None,
        json!({"handle": handle, "credential": {"id": 1}}),
    )
    .await;
    expect_error(garbage, 400, "invalid_parameter").await;
    let fake = post(
        &server,
        path,
        None,
        json!({"handle": handle, "credential": fake_attestation()}),
    )
    .await;
    expect_error(fake, 401, "sign_in_failed").await;
    let again = post(
        &server,
        path,
        None,
        json!({"handle": handle, "credential": fake_attestation()}),
    )
    .await;
    expect_error(again, 400, "invalid_state").await;

    // The same for a sign-in ceremony.
    let handle = start_login(&server).await;
    let path = "/v1/auth/passkey/login/finish";
    let fake = post(
        &server,
        path,
        None,
        json!({"handle": handle, "credential": fake_assertion()}),
    )
    .await;
    expect_error(fake, 401, "sign_in_failed").await;
    let again = post(
        &server,
        path,
        None,
        json!({"handle": handle, "credential": fake_assertion()}),
    )
    .await;
    expect_error(again, 400, "invalid_state").await;

    // A registration started with a session is finished with that session or not at all.
    let token = ada["access_token"].as_str().unwrap();
    let start = post(
        &server,
        "/v1/auth/passkey/register/start",
        Some(token),
        json!({}),
    )
    .await;
    let handle = expect_json(start, 200).await["handle"].clone();
    let other = post(
        &server,
        "/v1/auth/passkey/register/finish",
        None,
        json!({"handle": handle, "credential": fake_attestation()}),
    )
    .await;
    expect_error(other, 400, "invalid_state").await;

    // Names are checked; a bad session is refused rather than ignored.
    for name in ["", "   ", "a\u{7}b"] {
        let start = post(
            &server,
            "/v1/auth/passkey/register/start",
            None,
            json!({"name": name}),
        )
        .await;
        expect_error(start, 400, "invalid_parameter").await;
    }
    let start = post(
        &server,
        "/v1/auth/passkey/register/start",
        Some("a.b.c"),
        json!({}),
    )
    .await;
    expect_error(start, 401, "unauthenticated").await;

    assert_eq!(
        written(&server).await,
        before,
        "no user, door, session or wallet written"
    );
}

#[tokio::test]
async fn ceremonies_name_this_server_as_relying_party() {
    let server = passkey_server().await;
    let start = post(
        &server,
        "/v1/auth/passkey/register/start",
        None,
        json!({"name": "Ada"}),
    )
    .await;
    let ceremony = expect_json(start, 200).await;
    assert!(ceremony["handle"].as_str().unwrap().starts_with("tpc_"));
    let options = &ceremony["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["user"]["name"], "Ada");
    assert!(
        options["challenge"].as_str().unwrap().len() >= 43,
        "256-bit challenge"
    );

    let login = as_user(
        &server,
        Method::POST,
        "/v1/auth/passkey/login/start",
        None,
        None,
    )
    .await;
    let ceremony = expect_json(login, 200).await;
    let options = &ceremony["options"]["publicKey"];
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["userVerification"], "required");
    assert!(
        options["allowCredentials"]
            .as_array()
            .is_none_or(|ids| ids.is_empty()),
        "usernameless: {options}"
    );
    assert_ne!(
        ceremony["handle"],
        start_login(&server).await,
        "every ceremony its own handle"
    );
}

#[tokio::test]
async fn passkeys_are_off_when_the_public_url_is_an_ip_address() {
    let server = TestServer::start().await;
    for (path, body) in [
        ("/v1/auth/passkey/register/start", Some(json!({}))),
        ("/v1/auth/passkey/login/start", None),
        (
            "/v1/auth/passkey/register/finish",
            Some(json!({"handle": "tpc_1", "credential": fake_attestation()})),
        ),
        (
            "/v1/auth/passkey/login/finish",
            Some(json!({"handle": "tpc_1", "credential": fake_assertion()})),
        ),
    ] {
        let response = as_user(&server, Method::POST, path, None, body).await;
        expect_error(response, 503, "passkeys_not_configured").await;
    }
    let page = server
        .http
        .get(server.url("/console/login"))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(!html.contains("passkey-login"), "no passkey button");
    assert!(html.contains("password-login"));
}

#[tokio::test]
async fn console_pages_are_locked_down_and_sign_out_needs_this_origin() {
    let server = passkey_server().await;
    let page = server
        .http
        .get(server.url("/console/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("passkey-login") && html.contains("password-login"));
    // Scripts only from files of this origin: no inline script, no handler attributes.
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=\"/console/assets/").count()
    );
    assert!(!html.contains(" onclick="));
    let script = server
        .http
        .get(server.url("/console/assets/console.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // Not signed in: the landing page sends the browser to sign in (or resume its session).
    let home = server
        .http
        .get(server.url("/console"))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 303);
    assert_eq!(home.headers()["location"], "/console/login?resume");

    // Signed in with the cookie: the landing page shows the person, and no token.
    let grant = register(&server, "ada@example.com").await;
    let token = grant["access_token"].as_str().unwrap();
    let cookie = format!("tessera_session={token}");
    let home = server
        .http
        .get(server.url("/console"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains(grant["user"]["id"].as_str().unwrap()));
    assert!(html.contains("ada@example.com"));
    assert!(!html.contains(token) && !html.contains(grant["refresh_token"].as_str().unwrap()));

    // Sign-out from another origin, or with no origin, is refused and ends nothing.
    let origin = browser_base(&server);
    for bad in [Some("http://evil.example"), Some("null"), None] {
        let mut request = server
            .http
            .post(server.url("/console/logout"))
            .header("cookie", &cookie);
        if let Some(bad) = bad {
            request = request.header("origin", bad);
        }
        assert_eq!(request.send().await.unwrap().status(), 403, "{bad:?}");
        let me = as_user(&server, Method::GET, "/v1/me", Some(token), None).await;
        assert_eq!(me.status(), 200);
    }
    let out = server
        .http
        .post(server.url("/console/logout"))
        .header("cookie", &cookie)
        .header("origin", &origin)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()["location"], "/console/login");
    let cleared = set_cookies(&out);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("tessera_session=;") && c.contains("Max-Age=0"))
    );
    let me = as_user(&server, Method::GET, "/v1/me", Some(token), None).await;
    expect_error(me, 401, "unauthenticated").await;
}
