//! OpenID Connect re-authentication at `/oauth2/authorize`, driven over HTTP with the console's
//! sign-in as the other authorization tests: `prompt=login` sends a signed-in person to sign in
//! again and back, `max_age` does so when the sign-in is older, `prompt=none` refuses instead,
//! and the ID token's `auth_time` is when the person last signed in.

use serde_json::Value;
use tessera_testkit::TestServer;
use url::Url;

use crate::authorize::{
    App, CHALLENGE, authorize_url, code_with, get, param, redeem, redeem_form, redirected,
    register_client,
};
use crate::people::login;
use crate::support::{expect_json, jwt_parts, set_cookies};

const PASSWORD: &str = "correct horse battery staple";

fn pkce<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    params
}

/// The sign-in page a redirect leads to, and the authorization request it brings back to.
fn to_login(response: &reqwest::Response, server: &TestServer) -> (Url, Vec<(String, String)>) {
    assert_eq!(response.status(), 302);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/console/login", "{location}");
    let return_to = location
        .query_pairs()
        .find(|(name, _)| name == "return_to")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    let back = Url::parse(&server.url(&return_to)).unwrap();
    assert_eq!(back.path(), "/oauth2/authorize");
    (location, back.query_pairs().into_owned().collect())
}

async fn id_token(server: &TestServer, app: &App, code: &str) -> Value {
    let tokens = expect_json(redeem(server, app, &redeem_form(code)).await, 200).await;
    jwt_parts(tokens["id_token"].as_str().unwrap()).1
}

async fn sign_in_again(server: &TestServer, email: &str) -> String {
    let response = login(server, email, PASSWORD).await;
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    assert_eq!(response.status(), 200);
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn prompt_login_and_max_age_send_a_signed_in_person_to_sign_in_again() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let app = register_client(&server, &tenant, false).await;
    let (_, cookie) = crate::authorize::person(&server, "ada@example.com").await;
    let signed_up = server.clock_now().unix_timestamp();
    // Consent once, so that later requests go straight back with a code.
    let code = code_with(&server, &app, &cookie, &[]).await;
    assert_eq!(id_token(&server, &app, &code).await["auth_time"], signed_up);

    server.clock.advance(time::Duration::minutes(10));
    // prompt=login: to the sign-in page even with a session — not resumed from the refresh
    // cookie — and back to the same request without `login`.
    let url = authorize_url(&server, &app, &pkce(&[("prompt", "login consent")]));
    let response = get(&server, &url, Some(&cookie)).await;
    let (login_page, back) = to_login(&response, &server);
    assert!(
        !login_page.query_pairs().any(|(name, _)| name == "resume"),
        "{login_page}"
    );
    assert_eq!(param(&back, "prompt"), Some("consent"));
    assert_eq!(param(&back, "state"), Some("s-1"));
    assert_eq!(param(&back, "client_id"), Some(app.client_id.as_str()));
    let fresh = sign_in_again(&server, "ada@example.com").await;
    let signed_in = server.clock_now().unix_timestamp();
    let mut again = Url::parse(&server.url("/oauth2/authorize")).unwrap();
    again.query_pairs_mut().extend_pairs(&back);
    let consent = get(&server, again.as_str(), Some(&fresh)).await;
    assert_eq!(consent.status(), 200, "prompt=consent still asks");
    // Without `consent`, the fresh session gets its code at once, and the ID token names the
    // new sign-in.
    let code = code_with(&server, &app, &fresh, &[]).await;
    let claims = id_token(&server, &app, &code).await;
    assert_eq!(claims["auth_time"], signed_in);
    assert!(claims["auth_time"].as_i64().unwrap() > signed_up);

    // max_age: a sign-in 10 minutes old is too old for 5 minutes, fine for an hour.
    server.clock.advance(time::Duration::minutes(10));
    let url = authorize_url(&server, &app, &pkce(&[("max_age", "300")]));
    let (_, back) = to_login(&get(&server, &url, Some(&fresh)).await, &server);
    assert_eq!(param(&back, "max_age"), None);
    let url = authorize_url(
        &server,
        &app,
        &pkce(&[("max_age", "300"), ("prompt", "none")]),
    );
    let pairs = redirected(&get(&server, &url, Some(&fresh)).await);
    assert_eq!(param(&pairs, "error"), Some("login_required"));
    let code = code_with(&server, &app, &fresh, &[("max_age", "3600")]).await;
    assert_eq!(id_token(&server, &app, &code).await["auth_time"], signed_in);
    // max_age=0 is prompt=login.
    let url = authorize_url(&server, &app, &pkce(&[("max_age", "0")]));
    to_login(&get(&server, &url, Some(&fresh)).await, &server);

    // Refused requests go back to the client: nothing is issued.
    for (prompt, max_age) in [
        ("none login", None),
        ("none consent", None),
        ("select_account", None),
        ("login", Some("-1")),
        ("login", Some("soon")),
    ] {
        let mut extra = vec![("prompt", prompt)];
        if let Some(max_age) = max_age {
            extra.push(("max_age", max_age));
        }
        let url = authorize_url(&server, &app, &pkce(&extra));
        let pairs = redirected(&get(&server, &url, Some(&fresh)).await);
        assert_eq!(
            param(&pairs, "error"),
            Some("invalid_request"),
            "{prompt} {max_age:?}"
        );
        assert_eq!(param(&pairs, "code"), None);
    }

    let metadata = expect_json(
        get(
            &server,
            &server.url("/.well-known/openid-configuration"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        metadata["prompt_values_supported"],
        serde_json::json!(["none", "login", "consent"])
    );
    let claims = metadata["claims_supported"].as_array().unwrap();
    assert!(claims.iter().any(|c| c == "auth_time"));
}
