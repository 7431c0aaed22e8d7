//! The email door: sign-up and sign-in by code or link, mail over a real SMTP server (aiosmtpd)
//! or into the outbox, single use, expiry, burning after wrong codes, send limits, allowed
//! redirects, and adding an address to a signed-in user — over HTTP, on both backends.

use reqwest::Method;
use reqwest::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use tessera_testkit::{SmtpSink, TestServer};

use crate::people::{as_user, register};
use crate::support::{
    expect_error, expect_json, last_mail_to, mail_to, mailed_code, mailed_link, set_cookies,
};

const APP: &str = "https://app.example";

/// The link and the code in a sign-in email's text.
fn secrets(text: &str) -> (String, String) {
    (
        mailed_link(text, "/v1/auth/email/callback"),
        mailed_code(text),
    )
}

/// A server keeping mail in the outbox, with `APP` as an allowed redirect origin.
async fn outbox_server() -> TestServer {
    TestServer::start_with(|config| config.sign_in_redirect_origins = vec![APP.to_owned()]).await
}

async fn start(server: &TestServer, email: &str, token: Option<&str>) -> reqwest::Response {
    start_with(server, json!({"email": email}), token).await
}

async fn start_with(server: &TestServer, body: Value, token: Option<&str>) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/auth/email/start",
        token,
        Some(body),
    )
    .await
}

pub async fn verify(
    server: &TestServer,
    email: &str,
    code: &str,
    token: Option<&str>,
) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/auth/email/verify",
        token,
        Some(json!({"email": email, "code": code})),
    )
    .await
}

/// Asks for an email and reads its link and code from the outbox.
pub async fn mailed(server: &TestServer, email: &str) -> (String, String) {
    expect_json(start(server, email, None).await, 202).await;
    let outbox = server.outbox().await;
    let last = outbox.last().expect("a message in the outbox");
    assert_eq!(last.recipient, email);
    secrets(&last.body)
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn sign_up_by_code_then_sign_in_by_link_over_smtp() {
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(|config| {
        config.smtp_url = Some(tessera_server::Secret::new(sink.url()));
        config.email_from = "Tessera <login@tessera.test>".to_owned();
    })
    .await;
    let started = expect_json(start(&server, "Grace@Example.com", None).await, 202).await;
    assert_eq!(started["expires_in"], 900);
    let mail = sink.wait_for("grace@example.com", 1).await.remove(0);
    assert_eq!(mail.from, "Tessera <login@tessera.test>");
    assert_eq!(mail.mail_from, "login@tessera.test");
    let (link, code) = secrets(mail.text.as_deref().unwrap());
    assert!(mail.subject.contains(&code));
    assert!(link.starts_with(&server.url("/v1/auth/email/callback?token=tml_")));
    assert_eq!(server.count_rows("email_outbox").await, 0, "sent, not kept");

    let grant = expect_json(verify(&server, "grace@example.com", &code, None).await, 200).await;
    assert_eq!(grant["created"], true);
    assert_eq!(grant["user"]["email"], "grace@example.com");
    let user_id = grant["user"]["id"].clone();
    let me = expect_json(
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
    assert_eq!(me["identities"][0]["kind"], "email");
    assert_eq!(me["identities"][0]["subject"], "grace@example.com");
    assert_eq!(me["wallets"].as_array().unwrap().len(), 1, "{me}");

    // Next time, the link: the same person, a new session, as JSON (no redirect_to).
    expect_json(start(&server, "grace@example.com", None).await, 202).await;
    let mail = sink.wait_for("grace@example.com", 2).await.remove(1);
    let (link, code) = secrets(mail.text.as_deref().unwrap());
    let again = expect_json(server.http.get(&link).send().await.unwrap(), 200).await;
    assert_eq!(again["user"]["id"], user_id);
    assert_eq!(again["created"], false);
    // The link used the email up: its code no longer works.
    expect_error(
        verify(&server, "grace@example.com", &code, None).await,
        401,
        "invalid_credentials",
    )
    .await;

    let actions: Vec<(String, String)> = server
        .audit_log()
        .await
        .into_iter()
        .filter(|row| row.action.starts_with("auth.email"))
        .map(|row| (row.action, row.outcome))
        .collect();
    assert!(actions.contains(&("auth.email.start".into(), "success".into())));
    assert!(actions.contains(&("auth.email.sign_in".into(), "failure".into())));
    assert_eq!(
        actions
            .iter()
            .filter(|(a, o)| a == "auth.email.sign_in" && o == "success")
            .count(),
        2
    );
}

#[tokio::test]
async fn without_smtp_mail_is_kept_in_the_outbox_and_each_email_works_once() {
    let server = outbox_server().await;
    let (link, code) = mailed(&server, "ada@example.com").await;
    let kept = server.outbox().await.remove(0);
    assert!(kept.subject.contains(&code));
    assert_eq!(server.count_rows("challenges").await, 1);

    let grant = expect_json(verify(&server, "ada@example.com", &code, None).await, 200).await;
    assert_eq!(grant["created"], true);
    assert_eq!(
        server.count_rows("challenges").await,
        0,
        "the code used it up"
    );
    expect_error(
        verify(&server, "ada@example.com", &code, None).await,
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

    // A new email replaces the last one: only the newest code works.
    let (_, first) = mailed(&server, "ada@example.com").await;
    let (second_link, second) = mailed(&server, "ada@example.com").await;
    assert_eq!(server.outbox().await.len(), 3);
    if first != second {
        expect_error(
            verify(&server, "ada@example.com", &first, None).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let again = expect_json(server.http.get(&second_link).send().await.unwrap(), 200).await;
    assert_eq!(again["user"]["id"], grant["user"]["id"]);
    expect_error(
        server.http.get(&second_link).send().await.unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn links_and_codes_expire_after_15_minutes() {
    let server = outbox_server().await;
    let (_, code) = mailed(&server, "ada@example.com").await;
    server.clock.advance(time::Duration::minutes(14));
    expect_json(verify(&server, "ada@example.com", &code, None).await, 200).await;

    let (link, code) = mailed(&server, "ada@example.com").await;
    server
        .clock
        .advance(time::Duration::minutes(15) + time::Duration::seconds(1));
    expect_error(
        verify(&server, "ada@example.com", &code, None).await,
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
}

#[tokio::test]
async fn five_wrong_codes_burn_the_email() {
    let server = outbox_server().await;
    let (link, code) = mailed(&server, "ada@example.com").await;
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for _ in 0..5 {
        expect_error(
            verify(&server, "ada@example.com", &wrong, None).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_eq!(server.count_rows("challenges").await, 0, "burnt");
    expect_error(
        verify(&server, "ada@example.com", &code, None).await,
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
    assert_eq!(server.count_rows("users").await, 0);

    // Four wrong codes leave the right one working.
    let (_, code) = mailed(&server, "ada@example.com").await;
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for _ in 0..4 {
        expect_error(
            verify(&server, "ada@example.com", &wrong, None).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    expect_json(verify(&server, "ada@example.com", &code, None).await, 200).await;
}

#[tokio::test]
async fn sends_are_limited_per_address_and_say_nothing_about_accounts() {
    let server = outbox_server().await;
    let (_, code) = mailed(&server, "known@example.com").await;
    expect_json(verify(&server, "known@example.com", &code, None).await, 200).await;
    // A known and an unknown address get the same answer.
    let known = expect_json(start(&server, "known@example.com", None).await, 202).await;
    let unknown = expect_json(start(&server, "nobody@example.com", None).await, 202).await;
    assert_eq!(known, unknown);

    for _ in 0..3 {
        expect_json(start(&server, "known@example.com", None).await, 202).await;
    }
    let sent = server.outbox().await.len();
    let limited = start(&server, "known@example.com", None).await;
    let retry_after: u64 = limited.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    expect_error(limited, 429, "rate_limited").await;
    assert_eq!(server.outbox().await.len(), sent, "nothing sent");
    // Other addresses are not held back by it.
    expect_json(start(&server, "other@example.com", None).await, 202).await;
}

#[tokio::test]
async fn redirect_to_must_be_an_allowed_origin() {
    let server = outbox_server().await;
    for bad in [
        "https://evil.example/after",
        "https://app.example.evil.example/",
        "http://app.example/after",
        "javascript:alert(1)",
        // Paths resolve against this server, but these leave it.
        "//evil.example/after",
        "/\\evil.example/after",
        "https://user@app.example/after",
    ] {
        expect_error(
            start_with(
                &server,
                json!({"email": "ada@example.com", "redirect_to": bad}),
                None,
            )
            .await,
            400,
            "invalid_parameter",
        )
        .await;
    }
    assert_eq!(server.count_rows("email_outbox").await, 0);
    assert_eq!(server.count_rows("challenges").await, 0);

    // The server's own origin is allowed too, as a URL or as a path.
    for own in [server.url("/console"), "/console".to_owned()] {
        expect_json(
            start_with(
                &server,
                json!({"email": "ada@example.com", "redirect_to": own}),
                None,
            )
            .await,
            202,
        )
        .await;
    }
}

#[tokio::test]
async fn the_link_signs_in_and_redirects_with_cookies() {
    let server = outbox_server().await;
    let after = format!("{APP}/after?from=email");
    expect_json(
        start_with(
            &server,
            json!({"email": "ada@example.com", "redirect_to": after}),
            None,
        )
        .await,
        202,
    )
    .await;
    let (link, _) = secrets(&server.outbox().await.remove(0).body);
    let browser = browser();
    let response = browser.get(&link).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()[LOCATION], after.as_str());
    let cookies = set_cookies(&response);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("tessera_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    let access = session
        .trim_start_matches("tessera_session=")
        .split(';')
        .next()
        .unwrap();
    let me = expect_json(
        as_user(&server, Method::GET, "/v1/me", Some(access), None).await,
        200,
    )
    .await;
    assert_eq!(me["user"]["email"], "ada@example.com");

    // Used: back to the application with the reason, no cookies.
    let response = browser.get(&link).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()[LOCATION],
        format!("{after}&error=invalid_credentials").as_str()
    );
    assert!(response.headers().get(SET_COOKIE).is_none());
    // A link whose redirect_to was tampered with to another origin fails as JSON instead.
    let tampered = link.replace("app.example", "evil.example");
    let response = browser.get(&tampered).send().await.unwrap();
    expect_error(response, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn a_signed_in_user_adds_an_address() {
    let server = outbox_server().await;
    let grant = register(&server, "pat@example.com").await;
    let token = grant["access_token"].as_str().unwrap();
    expect_json(start(&server, "pat@work.example", Some(token)).await, 202).await;
    let (link, code) = secrets(&last_mail_to(&server, "pat@work.example").await.body);

    // Only the asker's session completes it: a mailed link opened by someone else (or no one
    // signed in) adds nothing.
    let other = register(&server, "eve@example.com").await;
    expect_error(
        verify(
            &server,
            "pat@work.example",
            &code,
            other["access_token"].as_str(),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    expect_error(
        server.http.get(&link).send().await.unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    expect_json(start(&server, "pat@work.example", Some(token)).await, 202).await;
    let (_, code) = secrets(&last_mail_to(&server, "pat@work.example").await.body);
    expect_error(
        verify(&server, "pat@work.example", &code, None).await,
        401,
        "unauthenticated",
    )
    .await;

    expect_json(start(&server, "pat@work.example", Some(token)).await, 202).await;
    let (_, code) = secrets(&last_mail_to(&server, "pat@work.example").await.body);
    let linked = expect_json(
        verify(&server, "pat@work.example", &code, Some(token)).await,
        200,
    )
    .await;
    assert_eq!(linked["user"]["id"], grant["user"]["id"]);
    assert_eq!(linked["created"], false);
    let me = expect_json(
        as_user(&server, Method::GET, "/v1/me", Some(token), None).await,
        200,
    )
    .await;
    let kinds: Vec<&str> = me["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    // The password and its confirmed address from the sign-up, and the added address.
    assert_eq!(kinds.len(), 3, "{me}");
    assert_eq!(kinds.iter().filter(|kind| **kind == "email").count(), 2);
    assert!(kinds.contains(&"password"));

    // Signing in by that address now leads to Pat.
    let (_, code) = mailed(&server, "pat@work.example").await;
    let signed_in = expect_json(verify(&server, "pat@work.example", &code, None).await, 200).await;
    assert_eq!(signed_in["user"]["id"], grant["user"]["id"]);

    // Eve cannot take Pat's address.
    let eve = other["access_token"].as_str().unwrap();
    expect_json(start(&server, "pat@work.example", Some(eve)).await, 202).await;
    let (_, code) = secrets(&last_mail_to(&server, "pat@work.example").await.body);
    expect_error(
        verify(&server, "pat@work.example", &code, Some(eve)).await,
        409,
        "identity_taken",
    )
    .await;
}

#[tokio::test]
async fn bad_input_is_refused_and_writes_nothing() {
    let server = outbox_server().await;
    for body in [
        json!({"email": "not an address"}),
        json!({"email": "a@b"}),
        json!({"email": ""}),
    ] {
        expect_error(
            start_with(&server, body, None).await,
            400,
            "invalid_parameter",
        )
        .await;
    }
    expect_error(
        start_with(&server, json!({"email": "a@example.com", "extra": 1}), None).await,
        422,
        "invalid_body",
    )
    .await;
    expect_error(
        start_with(&server, json!({}), None).await,
        422,
        "invalid_body",
    )
    .await;
    for code in ["12345", "1234567", "abcdef", ""] {
        expect_error(
            verify(&server, "a@example.com", code, None).await,
            400,
            "invalid_parameter",
        )
        .await;
    }
    expect_error(
        verify(&server, "a@example.com", "123456", None).await,
        401,
        "invalid_credentials",
    )
    .await;
    let callback = |query: &str| {
        server
            .http
            .get(server.url(&format!("/v1/auth/email/callback{query}")))
    };
    expect_error(callback("").send().await.unwrap(), 400, "invalid_parameter").await;
    expect_error(
        callback("?token=tml_nope").send().await.unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    // A well-formed token of another kind is not a link.
    let refresh = register(&server, "r@example.com").await["refresh_token"].clone();
    expect_error(
        callback(&format!("?token={}", refresh.as_str().unwrap()))
            .send()
            .await
            .unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        mail_to(&server, "r@example.com").await.len(),
        1,
        "only the sign-up's confirmation"
    );
    assert_eq!(server.count_rows("email_outbox").await, 1);
    assert_eq!(server.count_rows("challenges").await, 0);
    assert_eq!(
        server.count_rows("users").await,
        1,
        "only the password user"
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_a_503_not_a_500() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = TestServer::start_with(|config| {
        config.smtp_url = Some(tessera_server::Secret::new(format!(
            "smtp://127.0.0.1:{port}"
        )));
    })
    .await;
    expect_error(
        start(&server, "ada@example.com", None).await,
        503,
        "unavailable",
    )
    .await;
    assert_eq!(
        server.count_rows("challenges").await,
        0,
        "no code for mail never sent"
    );
    assert_eq!(server.count_rows("email_outbox").await, 0);
}
