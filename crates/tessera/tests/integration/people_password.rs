//! Password sign-up confirmed by email and password reset: answers that say nothing about the
//! address, the mail each address gets, codes and links that work once and in time, and what
//! is (not) written — over HTTP, on both backends.

use reqwest::Method;
use serde_json::json;
use tessera_testkit::TestServer;

use crate::people::{PASSWORD, as_user, ask_sign_up, confirm, login, register, sign_up_code};
use crate::people_email::{mailed, verify};
use crate::people_passkey::{browser, browser_base, passkey_server};
use crate::support::{
    expect_error, expect_json, last_mail_to, mail_to, mailed_code, mailed_link, set_cookies,
};

#[tokio::test]
async fn sign_up_answers_alike_for_new_and_taken_addresses() {
    let server = TestServer::start().await;
    register(&server, "grace@example.com").await;
    let (_, code) = mailed(&server, "linus@example.com").await;
    expect_json(verify(&server, "linus@example.com", &code, None).await, 200).await;
    let users = server.count_rows("users").await;
    let identities = server.count_rows("identities").await;

    // A new address, an address with a password, an address of an email-door user: the same
    // status and body.
    let ask = |email: &str| {
        ask_sign_up(
            &server,
            json!({"email": email, "password": "another password"}),
            None,
        )
    };
    let new = ask("ken@example.com").await;
    let (new_status, new_body) = (new.status(), new.text().await.unwrap());
    for taken in ["grace@example.com", "Linus@Example.com"] {
        let answer = ask(taken).await;
        assert_eq!(answer.status(), new_status, "{taken}");
        assert_eq!(answer.text().await.unwrap(), new_body, "{taken}");
    }
    assert_eq!(new_status, 202);

    // Only the new address has a sign-up pending; the taken ones were told, with nothing to
    // confirm, and nothing about them changed.
    assert_eq!(server.count_rows("challenges").await, 1);
    assert_eq!(server.count_rows("users").await, users);
    assert_eq!(server.count_rows("identities").await, identities);
    for taken in ["grace@example.com", "linus@example.com"] {
        let note = last_mail_to(&server, taken).await;
        assert_eq!(note.subject, "You already have a Tessera account");
        // Nothing to confirm: no code, no link.
        assert!(!note.body.contains("enter this code"), "{}", note.body);
        assert!(!note.body.contains("callback"), "{}", note.body);
        assert!(note.body.contains("/console/login"), "{}", note.body);
    }
    let confirmation = last_mail_to(&server, "ken@example.com").await;
    assert!(
        confirmation
            .subject
            .starts_with("Confirm your Tessera account")
    );
    expect_json(login(&server, "grace@example.com", PASSWORD).await, 200).await;
    expect_error(
        login(&server, "grace@example.com", "another password").await,
        401,
        "invalid_credentials",
    )
    .await;
    expect_error(
        login(&server, "linus@example.com", "another password").await,
        401,
        "invalid_credentials",
    )
    .await;
    // Until confirmed, the new address has no account either.
    expect_error(
        login(&server, "ken@example.com", "another password").await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn a_sign_up_is_confirmed_once_by_its_own_code_or_link_in_time() {
    let server = TestServer::start().await;
    let nothing_written = || async {
        assert_eq!(server.count_rows("users").await, 0);
        assert_eq!(server.count_rows("identities").await, 0);
        assert_eq!(server.count_rows("sessions").await, 0);
    };

    // A wrong code is refused; the right one then works once, and uses the link up too.
    let code = sign_up_code(&server, "ada@example.com", None).await;
    let link = mailed_link(
        &last_mail_to(&server, "ada@example.com").await.body,
        "/v1/auth/password/callback",
    );
    let wrong = if code == "000000" { "000001" } else { "000000" };
    expect_error(
        confirm(&server, "ada@example.com", wrong, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    // Another address's code is not this one's.
    expect_error(
        confirm(&server, "eve@example.com", &code, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    nothing_written().await;
    let grant = expect_json(confirm(&server, "ada@example.com", &code, None).await, 201).await;
    assert_eq!(grant["created"], true);
    expect_json(login(&server, "ada@example.com", PASSWORD).await, 200).await;
    expect_error(
        confirm(&server, "ada@example.com", &code, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    expect_error(
        server.http.get(&link).send().await.unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(server.count_rows("users").await, 1);

    // An expired code is refused and creates nothing.
    let code = sign_up_code(&server, "bob@example.com", None).await;
    server.clock.advance(time::Duration::minutes(16));
    expect_error(
        confirm(&server, "bob@example.com", &code, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    // A newer sign-up replaces the older one: the first code no longer works.
    let first = sign_up_code(&server, "bob@example.com", None).await;
    let second = sign_up_code(&server, "bob@example.com", None).await;
    if first != second {
        expect_error(
            confirm(&server, "bob@example.com", &first, None).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // Five wrong codes burn it, even for the right code after them.
    let wrong = if second == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..5 {
        expect_error(
            confirm(&server, "bob@example.com", wrong, None).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    expect_error(
        confirm(&server, "bob@example.com", &second, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    // An email-door sign-in code is not a sign-up code.
    let (_, sign_in_code) = mailed(&server, "bob@example.com").await;
    expect_error(
        confirm(&server, "bob@example.com", &sign_in_code, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(server.count_rows("users").await, 1, "only ada");

    // The link signs up once, with cookies, and goes where the sign-up said.
    let body =
        json!({"email": "carol@example.com", "password": PASSWORD, "redirect_to": "/console"});
    expect_json(ask_sign_up(&server, body, None).await, 202).await;
    let link = mailed_link(
        &last_mail_to(&server, "carol@example.com").await.body,
        "/v1/auth/password/callback",
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(&link).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        server.url("/console").as_str()
    );
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("tessera_session="))
    );
    let response = browser.get(&link).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        format!("{}?error=invalid_credentials", server.url("/console")).as_str()
    );
    assert!(set_cookies(&response).is_empty());
    expect_json(login(&server, "carol@example.com", PASSWORD).await, 200).await;
    assert_eq!(server.count_rows("users").await, 2);
    assert_eq!(mail_to(&server, "carol@example.com").await.len(), 1);
}

async fn reset_start(server: &TestServer, email: &str) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/auth/password/reset/start",
        None,
        Some(json!({"email": email})),
    )
    .await
}

async fn reset_finish(
    server: &TestServer,
    email: &str,
    code: &str,
    new_password: &str,
) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/auth/password/reset/finish",
        None,
        Some(json!({"email": email, "code": code, "new_password": new_password})),
    )
    .await
}

#[tokio::test]
async fn a_password_is_reset_by_a_mailed_code_which_ends_every_session() {
    const NEW: &str = "a brand new passphrase";
    let server = TestServer::start().await;
    let laptop = register(&server, "ada@example.com").await;
    let phone = expect_json(login(&server, "ada@example.com", PASSWORD).await, 200).await;
    let (_, code) = mailed(&server, "linus@example.com").await;
    expect_json(verify(&server, "linus@example.com", &code, None).await, 200).await;

    // An account with a password, one without, no account: the same answer.
    let answer = reset_start(&server, "ada@example.com").await;
    let (status, body) = (answer.status(), answer.text().await.unwrap());
    assert_eq!(status, 202);
    for other in ["linus@example.com", "nobody@example.com"] {
        let answer = reset_start(&server, other).await;
        assert_eq!(answer.status(), status, "{other}");
        assert_eq!(answer.text().await.unwrap(), body, "{other}");
        let note = last_mail_to(&server, other).await;
        assert_eq!(note.subject, "Resetting a Tessera password");
        assert!(!note.body.contains("enter this code"), "{}", note.body);
    }
    let mail = last_mail_to(&server, "ada@example.com").await;
    assert!(mail.subject.starts_with("Your Tessera password reset code"));
    assert!(
        !mail.body.contains("http"),
        "a code, no link: {}",
        mail.body
    );
    let code = mailed_code(&mail.body);
    assert_eq!(server.count_rows("challenges").await, 1, "only Ada's");

    // A bad new password is refused before the code is looked at; a wrong code is refused.
    expect_error(
        reset_finish(&server, "ada@example.com", &code, "short").await,
        400,
        "invalid_parameter",
    )
    .await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    expect_error(
        reset_finish(&server, "ada@example.com", wrong, NEW).await,
        401,
        "invalid_credentials",
    )
    .await;
    expect_error(
        reset_finish(&server, "linus@example.com", &code, NEW).await,
        401,
        "invalid_credentials",
    )
    .await;

    // The code sets the password once and signs in; every earlier session has ended.
    let grant = expect_json(
        reset_finish(&server, "ada@example.com", &code, NEW).await,
        200,
    )
    .await;
    assert_eq!(grant["user"]["id"], laptop["user"]["id"]);
    expect_error(
        reset_finish(&server, "ada@example.com", &code, "yet another passphrase").await,
        401,
        "invalid_credentials",
    )
    .await;
    for old in [&laptop, &phone] {
        expect_error(
            as_user(
                &server,
                Method::GET,
                "/v1/me",
                old["access_token"].as_str(),
                None,
            )
            .await,
            401,
            "unauthenticated",
        )
        .await;
        let refresh = as_user(
            &server,
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": old["refresh_token"]})),
        )
        .await;
        expect_error(refresh, 401, "unauthenticated").await;
    }
    expect_json(
        as_user(
            &server,
            Method::GET,
            "/v1/me",
            grant["access_token"].as_str(),
            None,
        )
        .await,
        200,
    )
    .await;
    expect_error(
        login(&server, "ada@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    expect_json(login(&server, "ada@example.com", NEW).await, 200).await;

    // An expired code changes nothing.
    expect_json(reset_start(&server, "ada@example.com").await, 202).await;
    let code = mailed_code(&last_mail_to(&server, "ada@example.com").await.body);
    server.clock.advance(time::Duration::minutes(16));
    expect_error(
        reset_finish(&server, "ada@example.com", &code, "too late a passphrase").await,
        401,
        "invalid_credentials",
    )
    .await;
    expect_json(login(&server, "ada@example.com", NEW).await, 200).await;
    let audit = server.audit_log().await;
    assert!(
        audit
            .iter()
            .any(|row| row.action == "auth.password.reset" && row.outcome == "success")
    );
}

/// The console's "Create an account" and "Forgot your password?" forms in a real browser: the
/// emailed link creates the account and lands on `/console`; a mailed code sets a new password.
#[tokio::test]
async fn the_console_signs_up_and_resets_a_password_in_a_browser() {
    const NEW: &str = "a brand new passphrase";
    let server = passkey_server().await;
    let base = browser_base(&server);
    let email = "grace@example.com";

    let asked = browser(
        "password-signup",
        json!({"base": base, "email": email, "password": PASSWORD, "name": "Grace Hopper"}),
    )
    .await;
    assert!(
        asked["status"]
            .as_str()
            .unwrap()
            .starts_with("Check your mail"),
        "{asked}"
    );
    assert_eq!(server.count_rows("users").await, 0, "only the link creates");
    let link = mailed_link(
        &last_mail_to(&server, email).await.body,
        "/v1/auth/password/callback",
    );
    let seen = browser("visit", json!({"base": base, "url": link})).await;
    let user = seen["user"].as_str().unwrap();
    assert!(user.starts_with("usr_"), "{seen}");
    let mut doors: Vec<_> = seen["identities"].as_array().unwrap().clone();
    doors.sort_by_key(|kind| kind.to_string());
    assert_eq!(doors, [json!("email"), json!("password")]);

    let asked = browser(
        "password-reset-start",
        json!({"base": base, "email": email}),
    )
    .await;
    assert!(
        asked["status"]
            .as_str()
            .unwrap()
            .starts_with("Check your mail"),
        "{asked}"
    );
    let code = mailed_code(&last_mail_to(&server, email).await.body);
    let reset = browser(
        "password-reset-finish",
        json!({"base": base, "email": email, "code": code, "password": NEW}),
    )
    .await;
    assert_eq!(reset["user"], user);
    expect_json(login(&server, email, NEW).await, 200).await;
    expect_error(
        login(&server, email, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
}

/// The console outlives its 15-minute access cookie: without it, `/console` sends the browser
/// to the sign-in page, whose script resumes the session with the refresh cookie (rotating it)
/// and goes back. The same session, no new one.
#[tokio::test]
async fn the_console_resumes_a_session_once_its_access_cookie_is_gone() {
    let server = passkey_server().await;
    let base = browser_base(&server);
    let grant = register(&server, "ada@example.com").await;
    let sessions = server.count_rows("sessions").await;
    let seen = browser(
        "resume",
        json!({"base": base, "email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(seen["signed_in"], grant["user"]["id"], "{seen}");
    assert_eq!(seen["resumed"], grant["user"]["id"], "{seen}");
    assert_eq!(
        seen["visited"],
        json!([
            format!("{base}/console/login?resume"),
            format!("{base}/console")
        ]),
    );
    assert_eq!(
        server.count_rows("sessions").await,
        sessions + 1,
        "the browser's sign-in; resuming starts none"
    );
}
