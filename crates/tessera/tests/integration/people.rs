//! People: password sign-up and sign-in (the flows' edges are in `people_password`), sessions (refresh rotation, reuse detection, sign-out,
//! revocation), `/v1/me`, identities, and the custodial wallet — over HTTP, on both backends.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_testkit::{TestServer, peer};

use crate::support::{
    expect_error, expect_json, jwt_parts, last_mail_to, mailed_code, set_cookies,
};

pub const PASSWORD: &str = "correct horse battery";

/// Sends `method path` with a session bearer token (when given) and a JSON body (when given).
pub async fn as_user(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = server.http.request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

pub async fn ask_sign_up(
    server: &TestServer,
    body: Value,
    token: Option<&str>,
) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/auth/password/register",
        token,
        Some(body),
    )
    .await
}

pub async fn confirm(
    server: &TestServer,
    email: &str,
    code: &str,
    token: Option<&str>,
) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/auth/password/confirm",
        token,
        Some(json!({"email": email, "code": code})),
    )
    .await
}

/// Asks to sign `email` up with `PASSWORD` (with `token`: to add it to that user) and returns
/// the confirmation's code from the outbox.
pub async fn sign_up_code(server: &TestServer, email: &str, token: Option<&str>) -> String {
    let body = json!({"email": email, "password": PASSWORD});
    let answer = expect_json(ask_sign_up(server, body, token).await, 202).await;
    assert_eq!(answer, json!({"expires_in": 900}));
    let mail = last_mail_to(server, &email.to_lowercase()).await;
    assert!(
        mail.subject.starts_with("Confirm your Tessera account"),
        "{mail:?}"
    );
    mailed_code(&mail.body)
}

/// Signs `email` up with a password, confirmed by the code mailed to it; returns the session.
pub async fn register(server: &TestServer, email: &str) -> Value {
    let code = sign_up_code(server, email, None).await;
    expect_json(
        confirm(server, &email.to_lowercase(), &code, None).await,
        201,
    )
    .await
}

pub async fn login(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/auth/password/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

#[tokio::test]
async fn password_sign_up_sign_in_and_me() {
    let server = TestServer::start().await;
    let grant = register(&server, "Ada@Example.com").await;
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 900);
    assert_eq!(grant["created"], true);
    assert!(grant["refresh_token"].as_str().unwrap().starts_with("trt_"));
    let user_id = grant["user"]["id"].as_str().unwrap().to_owned();
    assert!(user_id.starts_with("usr_"));
    let (header, claims) = jwt_parts(grant["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "session+jwt");
    assert_eq!(claims["sub"], user_id);
    assert_eq!(claims["entity_ids"], json!([]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    // The address is normalized; signing in returns another session of the same user.
    let again = expect_json(login(&server, "ada@example.com", PASSWORD).await, 200).await;
    assert_eq!(again["user"]["id"], user_id);
    assert_eq!(again["created"], false);
    let token = again["access_token"].as_str().unwrap();

    let me = expect_json(
        as_user(&server, Method::GET, "/v1/me", Some(token), None).await,
        200,
    )
    .await;
    assert_eq!(me["user"]["id"], user_id);
    // The confirmed address is a door of its own, and the user's address.
    assert_eq!(me["user"]["email"], "ada@example.com");
    let mut doors: Vec<(&str, &str)> = me["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["kind"].as_str().unwrap(), i["subject"].as_str().unwrap()))
        .collect();
    doors.sort_unstable();
    assert_eq!(
        doors,
        [
            ("email", "ada@example.com"),
            ("password", "ada@example.com")
        ]
    );
    assert_eq!(me["memberships"], json!([]));
    // Exactly one custodial wallet, an Ethereum address, no key anywhere.
    let wallets = me["wallets"].as_array().unwrap();
    assert_eq!(wallets.len(), 1);
    assert_eq!(wallets[0]["chain"], "eip155");
    assert!(wallets[0]["address"].as_str().unwrap().starts_with("0x"));
    assert!(!me.to_string().contains("key"), "{me}");

    // Two sessions, the asking one marked current.
    let sessions = expect_json(
        as_user(&server, Method::GET, "/v1/me/sessions", Some(token), None).await,
        200,
    )
    .await;
    let sessions = sessions["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions[0]["method"], "password");

    let audit = server.audit_log().await;
    for action in [
        "auth.password.register",
        "user.create",
        "auth.password.confirm",
        "auth.password.login",
    ] {
        assert!(audit.iter().any(|row| row.action == action), "{action}");
    }
}

#[tokio::test]
async fn password_refusals_reveal_nothing_and_write_nothing() {
    let server = TestServer::start().await;
    register(&server, "grace@example.com").await;

    // Wrong password and unknown address: the same status, code and message.
    let wrong = expect_error(
        login(&server, "grace@example.com", "not the password!").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = expect_error(
        login(&server, "nobody@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
    let malformed = expect_error(
        login(&server, "not-an-email", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(malformed, unknown);

    // Bad input: a clear error, no mail, nothing pending, no user.
    let written = || async {
        (
            server.count_rows("email_outbox").await,
            server.count_rows("challenges").await,
            server.count_rows("users").await,
            server.count_rows("identities").await,
        )
    };
    let before = written().await;
    for (body, status, code) in [
        (
            json!({"email": "x@example.com", "password": "short"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"email": "x@example.com", "password": "y".repeat(1025)}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"email": "x@example.com", "password": PASSWORD, "redirect_to": "https://evil.example/"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"email": "x@example.com", "password": PASSWORD, "admin": true}),
            422,
            "invalid_body",
        ),
    ] {
        expect_error(ask_sign_up(&server, body, None).await, status, code).await;
    }
    for (email, code) in [("x@example.com", "12345"), ("nope", "123456")] {
        expect_error(
            confirm(&server, email, code, None).await,
            400,
            "invalid_parameter",
        )
        .await;
    }
    assert_eq!(written().await, before);
    expect_json(login(&server, "grace@example.com", PASSWORD).await, 200).await;
    expect_error(
        login(&server, "x@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn password_backoff_engages_after_repeated_failures() {
    let server = TestServer::start().await;
    register(&server, "linus@example.com").await;
    for _ in 0..3 {
        expect_error(
            login(&server, "linus@example.com", "wrong password!!").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // Now even the right password waits, and says for how long.
    let response = login(&server, "linus@example.com", PASSWORD).await;
    assert_eq!(response.headers()["retry-after"], "1");
    expect_error(response, 429, "rate_limited").await;
    // Another account from the same address is not held back.
    register(&server, "ken@example.com").await;
    expect_json(login(&server, "ken@example.com", PASSWORD).await, 200).await;
    // Once the wait is over, the right password works and clears the count.
    server.clock.advance(time::Duration::seconds(2));
    expect_json(login(&server, "linus@example.com", PASSWORD).await, 200).await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let server = TestServer::start().await;
    let grant = register(&server, "barbara@example.com").await;
    let first = grant["refresh_token"].as_str().unwrap();
    let refresh = |token: &str| {
        as_user(
            &server,
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
    };
    let rotated = expect_json(refresh(first).await, 200).await;
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    let access = rotated["access_token"].as_str().unwrap();
    expect_json(
        as_user(&server, Method::GET, "/v1/me", Some(access), None).await,
        200,
    )
    .await;

    // The first token again: reuse. The whole session ends, the newer tokens with it.
    expect_error(refresh(first).await, 401, "refresh_token_reused").await;
    expect_error(refresh(second).await, 401, "unauthenticated").await;
    expect_error(
        as_user(&server, Method::GET, "/v1/me", Some(access), None).await,
        401,
        "unauthenticated",
    )
    .await;
    // Garbage and other kinds of secrets are plain refusals.
    expect_error(refresh("trt_nope").await, 401, "unauthenticated").await;
    expect_error(
        as_user(&server, Method::POST, "/v1/auth/refresh", None, None).await,
        401,
        "unauthenticated",
    )
    .await;
    assert!(
        server
            .audit_log()
            .await
            .iter()
            .any(|row| row.action == "session.refresh" && row.reason == "refresh_token_reused")
    );
}

#[tokio::test]
async fn sign_out_and_session_revocation_take_effect_at_once() {
    let server = TestServer::start().await;
    let laptop = register(&server, "alan@example.com").await;
    let phone = expect_json(login(&server, "alan@example.com", PASSWORD).await, 200).await;
    let laptop_token = laptop["access_token"].as_str().unwrap();
    let phone_token = phone["access_token"].as_str().unwrap();

    // The laptop ends the phone's session.
    let (_, phone_claims) = jwt_parts(phone_token);
    let path = format!("/v1/me/sessions/{}", phone_claims["sid"].as_str().unwrap());
    let response = as_user(&server, Method::DELETE, &path, Some(laptop_token), None).await;
    assert_eq!(response.status(), 204);
    expect_error(
        as_user(&server, Method::GET, "/v1/me", Some(phone_token), None).await,
        401,
        "unauthenticated",
    )
    .await;
    expect_error(
        as_user(&server, Method::DELETE, &path, Some(laptop_token), None).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        as_user(
            &server,
            Method::DELETE,
            "/v1/me/sessions/nope",
            Some(laptop_token),
            None,
        )
        .await,
        400,
        "invalid_id",
    )
    .await;

    // Sign-out clears the cookies and ends the laptop's session too.
    let response = as_user(
        &server,
        Method::POST,
        "/v1/auth/logout",
        Some(laptop_token),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    let cleared = set_cookies(&response);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("tessera_session=;") && c.contains("Max-Age=0"))
    );
    expect_error(
        as_user(&server, Method::GET, "/v1/me", Some(laptop_token), None).await,
        401,
        "unauthenticated",
    )
    .await;
    let refresh = as_user(
        &server,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": laptop["refresh_token"]})),
    )
    .await;
    expect_error(refresh, 401, "unauthenticated").await;
}

#[tokio::test]
async fn browsers_get_http_only_cookies_and_can_use_them() {
    let server = TestServer::start().await;
    let code = sign_up_code(&server, "cookie@example.com", None).await;
    let response = confirm(&server, "cookie@example.com", &code, None).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookies = set_cookies(&response);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("tessera_refresh="))
        .unwrap();
    for cookie in [session, refresh] {
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        // Plain http on 127.0.0.1: no Secure, or the browser would drop it.
        assert!(!cookie.contains("Secure"), "{cookie}");
    }
    assert!(refresh.contains("Path=/v1/auth"));
    let pair = |cookie: &str| cookie.split(';').next().unwrap().to_owned();

    let me = server
        .http
        .get(server.url("/v1/me"))
        .header("cookie", pair(session))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(me, 200).await["user"]["email"],
        "cookie@example.com"
    );
    // Refresh by cookie alone (no body).
    let refreshed = server
        .http
        .post(server.url("/v1/auth/refresh"))
        .header("cookie", pair(refresh))
        .send()
        .await
        .unwrap();
    expect_json(refreshed, 200).await;
}

/// The ids of the user's doors of `kind`.
async fn doors(server: &TestServer, token: &str, kind: &str) -> Vec<String> {
    let me = expect_json(
        as_user(server, Method::GET, "/v1/me", Some(token), None).await,
        200,
    )
    .await;
    me["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == kind)
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn unlink(server: &TestServer, token: &str, id: &str) -> reqwest::Response {
    let path = format!("/v1/me/identities/{id}");
    as_user(server, Method::DELETE, &path, Some(token), None).await
}

#[tokio::test]
async fn the_last_identity_cannot_be_unlinked() {
    let server = TestServer::start().await;
    let grant = register(&server, "edsger@example.com").await;
    let token = grant["access_token"].as_str().unwrap();
    // Two doors from the sign-up: the password goes, the address is the last one and stays.
    let password = doors(&server, token, "password").await.remove(0);
    assert_eq!(unlink(&server, token, &password).await.status(), 204);
    expect_error(
        login(&server, "edsger@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let address = doors(&server, token, "email").await.remove(0);
    expect_error(unlink(&server, token, &address).await, 409, "last_identity").await;

    // A password for another address, added while signed in: confirmed by its email, and only
    // by this user's session (a used-up code asks for a new email).
    let code = sign_up_code(&server, "edsger@work.example", Some(token)).await;
    expect_error(
        confirm(&server, "edsger@work.example", &code, None).await,
        401,
        "unauthenticated",
    )
    .await;
    let code = sign_up_code(&server, "edsger@work.example", Some(token)).await;
    let linked = expect_json(
        confirm(&server, "edsger@work.example", &code, Some(token)).await,
        200,
    )
    .await;
    assert_eq!(linked["user"]["id"], grant["user"]["id"]);
    assert_eq!(linked["created"], false);
    assert_eq!(doors(&server, token, "email").await.len(), 2);
    assert_eq!(unlink(&server, token, &address).await.status(), 204);
    expect_json(login(&server, "edsger@work.example", PASSWORD).await, 200).await;

    // Another user cannot unlink his doors, nor get a password on his address.
    let other = register(&server, "mallory@example.com").await;
    let other_token = other["access_token"].as_str().unwrap();
    let remaining = doors(&server, token, "password").await.remove(0);
    expect_error(
        unlink(&server, other_token, &remaining).await,
        404,
        "not_found",
    )
    .await;
    let asked = ask_sign_up(
        &server,
        json!({"email": "edsger@work.example", "password": "mallory's password"}),
        Some(other_token),
    )
    .await;
    expect_json(asked, 202).await;
    let note = last_mail_to(&server, "edsger@work.example").await;
    assert_eq!(note.subject, "You already have a Tessera account");
    expect_error(
        login(&server, "edsger@work.example", "mallory's password").await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn the_custodial_wallet_signs_eip191_messages_checked_by_eth_account() {
    let server = TestServer::start().await;
    let grant = register(&server, "satoshi@example.com").await;
    let token = grant["access_token"].as_str().unwrap();
    let wallets = expect_json(
        as_user(&server, Method::GET, "/v1/me/wallets", Some(token), None).await,
        200,
    )
    .await;
    let wallet = &wallets["wallets"][0];
    let path = format!("/v1/me/wallets/{}/sign", wallet["id"].as_str().unwrap());
    let signed = expect_json(
        as_user(
            &server,
            Method::POST,
            &path,
            Some(token),
            Some(json!({"message": "hello, tessera"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(signed["address"], wallet["address"]);
    // A real Ethereum library recovers the wallet's address from the signature.
    let recovered = peer::run(
        "python3",
        "siwe_sign.py",
        "recover",
        &json!({"message": "hello, tessera", "signature": signed["signature"]}),
    );
    assert_eq!(
        recovered["address"].as_str().unwrap().to_lowercase(),
        wallet["address"].as_str().unwrap().to_lowercase()
    );

    // Another user's wallet is not found; bad input is refused.
    let other = register(&server, "eve@example.com").await;
    expect_error(
        as_user(
            &server,
            Method::POST,
            &path,
            other["access_token"].as_str(),
            Some(json!({"message": "x"})),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        as_user(
            &server,
            Method::POST,
            &path,
            Some(token),
            Some(json!({"message": ""})),
        )
        .await,
        400,
        "invalid_parameter",
    )
    .await;
    expect_error(
        as_user(
            &server,
            Method::POST,
            &path,
            None,
            Some(json!({"message": "x"})),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    assert!(
        server
            .audit_log()
            .await
            .iter()
            .any(|row| row.action == "wallet.sign")
    );
}

#[tokio::test]
async fn session_tokens_and_api_keys_are_not_interchangeable() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let grant = register(&server, "mixed@example.com").await;
    // An API key is not a session.
    expect_error(
        as_user(&server, Method::GET, "/v1/me", Some(&tenant.api_key), None).await,
        401,
        "unauthenticated",
    )
    .await;
    // A session token is not an agent access token.
    let introspected = server
        .introspect(&tenant.api_key, grant["access_token"].as_str().unwrap())
        .await;
    assert_eq!(introspected, json!({"active": false}));
}
