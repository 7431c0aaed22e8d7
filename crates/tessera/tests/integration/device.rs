//! The device authorization grant (RFC 8628): `openid-client` (npm) polls while a signed-in
//! person enters the user code at `/console/device` and approves; over plain HTTP, every polling
//! answer (`authorization_pending`, `slow_down`, `access_denied`, `expired_token`), single use,
//! another tenant's client, bad input, and the guessing limit on user codes.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tessera_testkit::{TestServer, peer};

use crate::authorize::{App, oauth_error, person, register_client};
use crate::support::{call, expect_json, jwt_parts};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn start(server: &TestServer, app: &App, form: &[(&str, &str)]) -> Response {
    app.post(server, "/oauth2/device_authorization", form)
        .send()
        .await
        .unwrap()
}

async fn poll(server: &TestServer, app: &App, device_code: &str) -> Response {
    server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("grant_type", GRANT), ("device_code", device_code)])
        .send()
        .await
        .unwrap()
}

/// The person's browser posting a console form.
async fn console_post(
    server: &TestServer,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> Response {
    server
        .http
        .post(server.url(path))
        .header("cookie", cookie)
        .header("origin", &server.base)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Enters `user_code` and answers the consent screen with `decision`; returns the final page.
async fn answer(server: &TestServer, cookie: &str, user_code: &str, decision: &str) -> String {
    let consent = console_post(
        server,
        "/console/device",
        cookie,
        &[("user_code", user_code)],
    )
    .await;
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.unwrap();
    assert!(html.contains("action=\"/console/device/decide\""), "{html}");
    let decided = console_post(
        server,
        "/console/device/decide",
        cookie,
        &[("request", user_code), ("decision", decision)],
    )
    .await;
    assert_eq!(decided.status(), 200);
    decided.text().await.unwrap()
}

#[tokio::test]
async fn openid_client_polls_while_a_person_approves_at_the_console() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let app = register_client(&server, &tenant, true).await;
    let (user_id, cookie) = person(&server, "ada@example.com").await;
    // openid-client waits out the interval in real time; the server's clock follows.
    let clock = Arc::clone(&server.clock);
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            clock.advance(time::Duration::milliseconds(250));
        }
    });
    let input = json!({
        "issuer": server.base,
        "client_id": app.client_id,
        "scope": "openid email offline_access",
        "cookie": cookie,
    });
    let out = tokio::task::spawn_blocking(move || {
        peer::run("node", "device_rp.mjs", "device-flow", &input)
    })
    .await
    .unwrap();
    ticker.abort();

    let device = &out["device"];
    let user_code = device["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(
        device["verification_uri"],
        server.url("/console/device").as_str()
    );
    assert_eq!(
        device["verification_uri_complete"],
        format!("{}?user_code={user_code}", server.url("/console/device"))
    );
    assert_eq!(
        (&device["interval"], &device["expires_in"]),
        (&json!(5), &json!(600))
    );
    assert_eq!(out["entry_prefilled"], user_code);
    assert_eq!(
        out["consent_scopes"],
        json!(["email", "offline_access", "openid"])
    );
    assert!(out["finished"].as_str().unwrap().starts_with("Approved"));
    assert_eq!(out["id_token_claims"]["sub"], user_id.as_str());
    assert_eq!(out["id_token_claims"]["aud"], app.client_id.as_str());
    let access = out["tokens"]["access_token"].as_str().unwrap();
    assert_eq!(jwt_parts(access).1["sub"], user_id.as_str());
    assert!(server.is_active(access).await);
    assert!(
        out["tokens"]["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("tgr_")
    );
    let audit = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/audit?outcome=success", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["device.authorize", "device.approve", "token.issue"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn polling_is_paced_single_use_and_ends_with_the_persons_answer() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let app = register_client(&server, &a, false).await;
    let intruder = register_client(&server, &b, false).await;
    let (_, cookie) = person(&server, "ada@example.com").await;
    let tick = |seconds| server.clock.advance(time::Duration::seconds(seconds));

    let started = expect_json(start(&server, &app, &[("scope", "openid")]).await, 200).await;
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    assert!(device_code.starts_with("tdc_"));
    oauth_error(
        poll(&server, &app, device_code).await,
        400,
        "authorization_pending",
    )
    .await;
    // Again at once: too fast; the interval grows by 5 seconds.
    oauth_error(poll(&server, &app, device_code).await, 400, "slow_down").await;
    // 6 seconds is still under the 10 now asked for: slower again (15).
    tick(6);
    oauth_error(poll(&server, &app, device_code).await, 400, "slow_down").await;
    tick(16);
    oauth_error(
        poll(&server, &app, device_code).await,
        400,
        "authorization_pending",
    )
    .await;
    // Another tenant's client cannot use it (and does not use it up).
    tick(10);
    oauth_error(
        poll(&server, &intruder, device_code).await,
        400,
        "invalid_grant",
    )
    .await;

    // The person: not signed in, sent to sign in and back; then the code, then approval.
    let anonymous = server
        .http
        .get(server.url(&format!("/console/device?user_code={user_code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    let location = anonymous.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/console/login?return_to=%2Fconsole%2Fdevice%3Fuser_code%3D"),
        "{location}"
    );
    let cross_site = server
        .http
        .post(server.url("/console/device"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&[("user_code", user_code)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let lowercase = user_code.to_lowercase().replace('-', " ");
    let done = answer(&server, &cookie, &lowercase, "allow").await;
    assert!(done.contains("Approved"), "{done}");
    tick(20);
    let tokens = expect_json(poll(&server, &app, device_code).await, 200).await;
    assert_eq!(tokens["scope"], "openid");
    assert!(tokens["id_token"].is_string());
    // Single use: the device code is spent.
    tick(20);
    oauth_error(poll(&server, &app, device_code).await, 400, "invalid_grant").await;
    let again = console_post(
        &server,
        "/console/device",
        &cookie,
        &[("user_code", user_code)],
    )
    .await;
    assert_eq!(again.status(), 400);

    // Denied.
    let denied = expect_json(start(&server, &app, &[]).await, 200).await;
    let done = answer(
        &server,
        &cookie,
        denied["user_code"].as_str().unwrap(),
        "deny",
    )
    .await;
    assert!(done.contains("Denied"), "{done}");
    let refused = poll(&server, &app, denied["device_code"].as_str().unwrap()).await;
    oauth_error(refused, 400, "access_denied").await;

    // Expired: the device hears so, and the code no longer opens a consent screen.
    let late = expect_json(start(&server, &app, &[]).await, 200).await;
    tick(601);
    let refused = poll(&server, &app, late["device_code"].as_str().unwrap()).await;
    oauth_error(refused, 400, "expired_token").await;
    let code = late["user_code"].as_str().unwrap();
    let gone = console_post(&server, "/console/device", &cookie, &[("user_code", code)]).await;
    assert_eq!(gone.status(), 400);
    assert!(gone.text().await.unwrap().contains("matches no device"));

    let refusals = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/audit?outcome=failure", a.id),
            Some(&a.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    let reasons: Vec<&str> = refusals["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    for reason in ["invalid_grant", "access_denied", "expired_token"] {
        assert!(reasons.contains(&reason), "{reason} in {reasons:?}");
    }
}

#[tokio::test]
async fn bad_device_requests_are_refused_and_user_codes_cannot_be_guessed() {
    let server = TestServer::start_with(|config| config.auth_failures_per_minute = 5).await;
    let tenant = server.register_tenant("A").await;
    let app = register_client(&server, &tenant, false).await;
    let (_, cookie) = person(&server, "ada@example.com").await;

    for (form, status, code) in [
        (vec![("scope", "openid admin")], 400, "invalid_scope"),
        (
            vec![("resource", "https://unknown.example.com/")],
            400,
            "invalid_target",
        ),
    ] {
        oauth_error(start(&server, &app, &form).await, status, code).await;
    }
    let json_body = server
        .http
        .post(server.url("/oauth2/device_authorization"))
        .json(&json!({"client_id": app.client_id}))
        .send()
        .await
        .unwrap();
    oauth_error(json_body, 400, "invalid_request").await;
    let no_code = server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("grant_type", GRANT)])
        .send()
        .await
        .unwrap();
    oauth_error(no_code, 400, "invalid_request").await;
    oauth_error(
        poll(&server, &app, "tdc_garbage").await,
        400,
        "invalid_grant",
    )
    .await;

    // Wrong user codes count as failed authentications of the address.
    // Five failures a minute are allowed; the sixth blocks the address.
    for typed in [
        "BCDF-GHJK",
        "nonsense",
        "BCDF-GHJL",
        "BCDF-GHJM",
        "bcdf ghjp",
        "BCDF-GHJQ",
    ] {
        let wrong =
            console_post(&server, "/console/device", &cookie, &[("user_code", typed)]).await;
        assert_eq!(wrong.status(), 400, "{typed}");
    }
    let blocked = console_post(
        &server,
        "/console/device",
        &cookie,
        &[("user_code", "BCDF-GHJN")],
    )
    .await;
    assert_eq!(blocked.status(), 429);
    let unauthenticated = server
        .http
        .post(server.url("/oauth2/device_authorization"))
        .form(&[("client_id", "cli_unknown")])
        .send()
        .await
        .unwrap();
    let body: Value = unauthenticated.json().await.unwrap();
    assert!(
        matches!(body["error"].as_str(), Some("invalid_client" | "slow_down")),
        "{body}"
    );
}
