//! The authorization server: OAuth clients of a tenant, `/oauth2/authorize` with PKCE, login
//! and consent, the `authorization_code` and `refresh_token` grants, ID tokens and userinfo —
//! driven end to end by the certified relying party `openid-client` (npm), and every refusal
//! over plain HTTP.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tessera_testkit::{TestServer, TestTenant, peer};
use url::Url;

use crate::people::{ask_sign_up, confirm};
use crate::support::{
    call, expect_error, expect_json, jwt_parts, last_mail_to, mailed_code, set_cookies,
};

pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub(crate) const PASSWORD: &str = "correct horse battery staple";
/// RFC 7636 Appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) struct App {
    pub(crate) client_id: String,
    pub(crate) secret: Option<String>,
}

impl App {
    /// A form `POST` to `path` with the client authenticated as it registered: Basic with its
    /// secret, or its `client_id` in the form when it is public.
    pub(crate) fn post(
        &self,
        server: &TestServer,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let request = server.http.post(server.url(path));
        let mut fields = form.to_vec();
        let request = match &self.secret {
            Some(secret) => request.basic_auth(&self.client_id, Some(secret)),
            None => {
                fields.push(("client_id", self.client_id.as_str()));
                request
            }
        };
        request.form(&fields)
    }
}

pub(crate) async fn register_client(server: &TestServer, tenant: &TestTenant, public: bool) -> App {
    let created = expect_json(
        call(
            server,
            Method::POST,
            &format!("/v1/tenants/{}/oauth-clients", tenant.id),
            Some(&tenant.api_key),
            Some(json!({"name": "Dashboard", "redirect_uris": [REDIRECT], "public": public})),
        )
        .await,
        201,
    )
    .await;
    App {
        client_id: created["client"]["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().map(str::to_owned),
    }
}

/// Signs a person up with the password door (confirmed by the mailed code); returns their user
/// id and session cookie.
pub(crate) async fn person(server: &TestServer, email: &str) -> (String, String) {
    let (user_id, cookie, _) = signed_up(server, email).await;
    (user_id, cookie)
}

/// As [`person`], with the session's access token too.
pub(crate) async fn signed_up(server: &TestServer, email: &str) -> (String, String, String) {
    let body = json!({"email": email, "password": PASSWORD, "name": "Ada"});
    expect_json(ask_sign_up(server, body, None).await, 202).await;
    let code = mailed_code(&last_mail_to(server, email).await.body);
    let response = confirm(server, email, &code, None).await;
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let body = expect_json(response, 201).await;
    (
        body["user"]["id"].as_str().unwrap().to_owned(),
        cookie,
        body["access_token"].as_str().unwrap().to_owned(),
    )
}

/// An authorization request with PKCE-less defaults and `extra` (whose `scope`, if any,
/// replaces the default `openid email offline_access`).
pub(crate) fn authorize_url(server: &TestServer, app: &App, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&server.url("/oauth2/authorize")).unwrap();
    let scope = extra
        .iter()
        .find(|(name, _)| *name == "scope")
        .map_or("openid email offline_access", |(_, scope)| scope);
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", scope)
            .append_pair("state", "s-1");
        for (name, value) in extra.iter().filter(|(name, _)| *name != "scope") {
            query.append_pair(name, value);
        }
    }
    url.to_string()
}

pub(crate) async fn get(server: &TestServer, url: &str, cookie: Option<&str>) -> Response {
    let mut request = server.http.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// The query of a redirect to the client.
pub(crate) fn redirected(response: &Response) -> Vec<(String, String)> {
    assert_eq!(response.status(), 302, "a redirect");
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT), "{location}");
    location.query_pairs().into_owned().collect()
}

pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Runs the authorization with PKCE as `cookie`'s person, consenting if asked; returns the code.
async fn code_for(server: &TestServer, app: &App, cookie: &str) -> String {
    code_with(server, app, cookie, &[]).await
}

/// As [`code_for`], with `extra` parameters in the authorization request.
pub(crate) async fn code_with(
    server: &TestServer,
    app: &App,
    cookie: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params = vec![
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let url = authorize_url(server, app, &params);
    let mut response = get(server, &url, Some(cookie)).await;
    if response.status() == 200 {
        let html = response.text().await.unwrap();
        let handle = html
            .split("name=\"request\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        response = server
            .http
            .post(server.url("/oauth2/consent"))
            .header("cookie", cookie)
            .header("origin", &server.base)
            .form(&[("request", handle.as_str()), ("decision", "allow")])
            .send()
            .await
            .unwrap();
    }
    let pairs = redirected(&response);
    assert_eq!(param(&pairs, "state"), Some("s-1"));
    assert_eq!(param(&pairs, "iss"), Some(server.base.as_str()));
    param(&pairs, "code").unwrap().to_owned()
}

pub(crate) async fn redeem(server: &TestServer, app: &App, form: &[(&str, &str)]) -> Response {
    let mut fields = vec![("grant_type", "authorization_code")];
    fields.extend_from_slice(form);
    app.post(server, "/oauth2/token", &fields)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn refresh(server: &TestServer, app: &App, token: &str) -> Response {
    let fields = [("grant_type", "refresh_token"), ("refresh_token", token)];
    app.post(server, "/oauth2/token", &fields)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn oauth_error(response: Response, status: u16, code: &str) {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"], code, "{body}");
}

pub(crate) fn redeem_form(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

#[tokio::test]
async fn openid_client_signs_in_through_login_and_consent() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let app = register_client(&server, &tenant, false).await;
    let (user_id, cookie) = person(&server, "ada@example.com").await;
    let input = json!({
        "issuer": server.base,
        "client_id": app.client_id,
        "client_secret": app.secret,
        "redirect_uri": REDIRECT,
        "scope": "openid profile email offline_access",
        "email": "ada@example.com",
        "password": PASSWORD,
    });
    let out = tokio::task::spawn_blocking(move || {
        peer::run("node", "openid_rp.mjs", "code-flow", &input)
    })
    .await
    .unwrap();

    assert!(
        out["login_page"]
            .as_str()
            .unwrap()
            .contains("/console/login?return_to=%2Foauth2%2Fauthorize"),
        "{out}"
    );
    assert_eq!(
        out["consent_page_scopes"],
        json!(["email", "offline_access", "openid", "profile"])
    );
    let claims = &out["id_token_claims"];
    assert_eq!(claims["iss"], server.base);
    assert_eq!(claims["sub"], user_id);
    assert_eq!(claims["aud"], app.client_id);
    assert!(claims["nonce"].is_string() && claims["at_hash"].is_string());
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    // A password sign-up is confirmed by email, so the address is a verified one.
    assert_eq!(
        out["userinfo"],
        json!({"sub": user_id, "name": "Ada", "email": "ada@example.com", "email_verified": true})
    );
    let first = out["first"]["access_token"].as_str().unwrap();
    let (header, access) = jwt_parts(first);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(access["sub"], user_id);
    assert_eq!(access["client_id"], app.client_id);
    assert_eq!(access["tenant_id"], tenant.id);
    assert_eq!(access["scope"], "email offline_access openid profile");

    // The tenant sees its application's tokens as active; the refreshed pair is live.
    let refreshed = out["refreshed"]["access_token"].as_str().unwrap();
    assert_eq!(
        server.introspect(&tenant.api_key, refreshed).await["active"],
        true
    );
    // A token an application holds for a person is not a credential for the gateway.
    let gateway = server
        .http
        .get(server.url("/api/anything"))
        .bearer_auth(refreshed)
        .send()
        .await
        .unwrap();
    assert_eq!(gateway.status(), 401);

    // The first refresh token was used by openid-client: presenting it again revokes the family.
    let used = out["first"]["refresh_token"].as_str().unwrap();
    oauth_error(refresh(&server, &app, used).await, 400, "invalid_grant").await;
    assert_eq!(
        server.introspect(&tenant.api_key, refreshed).await["active"],
        false
    );
    assert_eq!(
        server.introspect(&tenant.api_key, first).await["active"],
        false
    );
    let latest = out["refreshed"]["refresh_token"].as_str().unwrap();
    oauth_error(refresh(&server, &app, latest).await, 400, "invalid_grant").await;

    // Consent is remembered: the next authorization goes straight back with a code.
    let url = authorize_url(
        &server,
        &app,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("prompt", "none"),
        ],
    );
    let pairs = redirected(&get(&server, &url, Some(&cookie)).await);
    assert!(param(&pairs, "code").is_some(), "{pairs:?}");
}

#[tokio::test]
async fn authorization_requests_are_refused_where_they_must_be() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let public = register_client(&server, &tenant, true).await;
    let (_, cookie) = person(&server, "ada@example.com").await;
    let base = server.url("/oauth2/authorize");

    // Not verified: answered here, never redirected.
    for url in [
        format!(
            "{base}?response_type=code&client_id=cli_00000000000000000000000000000000&redirect_uri={REDIRECT}"
        ),
        format!("{base}?response_type=code&client_id=nonsense&redirect_uri={REDIRECT}"),
        format!(
            "{base}?response_type=code&client_id={}&redirect_uri=http://127.0.0.1:9/other",
            public.client_id
        ),
        format!(
            "{base}?response_type=code&client_id={}&redirect_uri={REDIRECT}/",
            public.client_id
        ),
        format!("{base}?response_type=code&client_id={}", public.client_id),
        format!(
            "{base}?client_id={0}&client_id={0}&redirect_uri={REDIRECT}",
            public.client_id
        ),
    ] {
        let response = get(&server, &url, Some(&cookie)).await;
        assert!(response.headers().get("location").is_none(), "{url}");
        oauth_error(response, 400, "invalid_request").await;
    }

    // Verified: the error goes back to the client, with the state and the issuer.
    for (extra, code) in [
        (vec![], "invalid_request"),
        (
            vec![
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (vec![("code_challenge", CHALLENGE)], "invalid_request"),
        (
            vec![
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("scope", "openid admin"),
            ],
            "invalid_scope",
        ),
        (
            vec![
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("response_type", "token"),
            ],
            "unsupported_response_type",
        ),
    ] {
        let mut url = Url::parse(&authorize_url(&server, &public, &[])).unwrap();
        let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        for (name, value) in &extra {
            pairs.retain(|(n, _)| n != name);
            pairs.push(((*name).to_owned(), (*value).to_owned()));
        }
        url.query_pairs_mut().clear().extend_pairs(&pairs);
        let answer = redirected(&get(&server, url.as_str(), Some(&cookie)).await);
        assert_eq!(param(&answer, "error"), Some(code), "{extra:?}: {answer:?}");
        assert_eq!(param(&answer, "state"), Some("s-1"));
        assert_eq!(param(&answer, "iss"), Some(server.base.as_str()));
    }

    let pkce = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    // Nobody signed in: `prompt=none` fails, otherwise the sign-in page comes first.
    let mut silent = pkce.to_vec();
    silent.push(("prompt", "none"));
    let answer = redirected(&get(&server, &authorize_url(&server, &public, &silent), None).await);
    assert_eq!(param(&answer, "error"), Some("login_required"));
    let login = get(&server, &authorize_url(&server, &public, &pkce), None).await;
    assert_eq!(login.status(), 302);
    assert!(
        login.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/console/login?return_to=")
    );
    // Signed in but never asked: `prompt=none` cannot consent for the person.
    let answer = redirected(
        &get(
            &server,
            &authorize_url(&server, &public, &silent),
            Some(&cookie),
        )
        .await,
    );
    assert_eq!(param(&answer, "error"), Some("consent_required"));

    // The consent screen: a cross-site POST is refused, a denial goes back as access_denied.
    let screen = get(
        &server,
        &authorize_url(&server, &public, &pkce),
        Some(&cookie),
    )
    .await;
    assert_eq!(screen.status(), 200);
    let csp = screen.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    let html = screen.text().await.unwrap();
    let handle = html
        .split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let cross_site = server
        .http
        .post(server.url("/oauth2/consent"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&[("request", handle), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let (_, other_cookie) = person(&server, "eve@example.com").await;
    let other_session = server
        .http
        .post(server.url("/oauth2/consent"))
        .header("cookie", &other_cookie)
        .header("origin", &server.base)
        .form(&[("request", handle), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    oauth_error(other_session, 400, "invalid_request").await;
    let screen = get(
        &server,
        &authorize_url(&server, &public, &pkce),
        Some(&cookie),
    )
    .await;
    let html = screen.text().await.unwrap();
    let handle = html
        .split("name=\"request\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let denied = server
        .http
        .post(server.url("/oauth2/consent"))
        .header("cookie", &cookie)
        .header("origin", &server.base)
        .form(&[("request", handle), ("decision", "deny")])
        .send()
        .await
        .unwrap();
    let answer = redirected(&denied);
    assert_eq!(param(&answer, "error"), Some("access_denied"));
}

#[tokio::test]
async fn codes_are_single_use_short_lived_and_bound_to_pkce_redirect_and_client() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let app = register_client(&server, &a, true).await;
    let other = register_client(&server, &b, false).await;
    let (_, cookie) = person(&server, "ada@example.com").await;

    // Wrong verifier: refused, and the code is used up by the attempt.
    let code = code_for(&server, &app, &cookie).await;
    let mut wrong = redeem_form(&code);
    wrong[2] = ("code_verifier", "x".repeat(43).leak());
    oauth_error(redeem(&server, &app, &wrong).await, 400, "invalid_grant").await;
    oauth_error(
        redeem(&server, &app, &redeem_form(&code)).await,
        400,
        "invalid_grant",
    )
    .await;
    // Missing verifier; another redirect URI.
    let code = code_for(&server, &app, &cookie).await;
    oauth_error(
        redeem(&server, &app, &redeem_form(&code)[..2]).await,
        400,
        "invalid_grant",
    )
    .await;
    let code = code_for(&server, &app, &cookie).await;
    let mut elsewhere = redeem_form(&code);
    elsewhere[1] = ("redirect_uri", "http://127.0.0.1:9/other");
    oauth_error(
        redeem(&server, &app, &elsewhere).await,
        400,
        "invalid_grant",
    )
    .await;
    // Expired after 60 seconds.
    let code = code_for(&server, &app, &cookie).await;
    server.clock.advance(time::Duration::seconds(61));
    oauth_error(
        redeem(&server, &app, &redeem_form(&code)).await,
        400,
        "invalid_grant",
    )
    .await;

    // Tenant B's client cannot redeem tenant A's code, nor does trying burn it.
    let code = code_for(&server, &app, &cookie).await;
    oauth_error(
        redeem(&server, &other, &redeem_form(&code)).await,
        400,
        "invalid_grant",
    )
    .await;
    let tokens = expect_json(redeem(&server, &app, &redeem_form(&code)).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert!(tokens["id_token"].is_string());
    // Nor its refresh token, nor sees its tokens.
    oauth_error(
        refresh(&server, &other, refresh_token).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_eq!(server.introspect(&b.api_key, access).await["active"], false);
    assert_eq!(server.introspect(&a.api_key, access).await["active"], true);

    // Replaying a redeemed code revokes what was issued from it.
    oauth_error(
        redeem(&server, &app, &redeem_form(&code)).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_eq!(server.introspect(&a.api_key, access).await["active"], false);
    oauth_error(
        refresh(&server, &app, refresh_token).await,
        400,
        "invalid_grant",
    )
    .await;
    let userinfo = server
        .http
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    assert!(
        userinfo.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // A refresh may narrow the scope, never widen it (and a refused widening costs nothing).
    let code = code_for(&server, &app, &cookie).await;
    let tokens = expect_json(redeem(&server, &app, &redeem_form(&code)).await, 200).await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let widen = server
        .http
        .post(server.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", app.client_id.as_str()),
            ("refresh_token", token),
            ("scope", "openid profile"),
        ])
        .send()
        .await
        .unwrap();
    oauth_error(widen, 400, "invalid_scope").await;
    let narrow = server
        .http
        .post(server.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", app.client_id.as_str()),
            ("refresh_token", token),
            ("scope", "email"),
        ])
        .send()
        .await
        .unwrap();
    let narrowed = expect_json(narrow, 200).await;
    assert_eq!(narrowed["scope"], "email");
    assert!(narrowed.get("id_token").is_none());
    // Without `openid`, userinfo answers insufficient_scope.
    let userinfo = server
        .http
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(narrowed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    oauth_error(userinfo, 403, "insufficient_scope").await;
    // An agent's own token is not a person's.
    let agent = server.create_agent(&a, &["mail:read"]).await;
    let agent_token = server.token(&agent, None).await;
    let userinfo = server
        .http
        .post(server.url("/oauth2/userinfo"))
        .bearer_auth(&agent_token)
        .send()
        .await
        .unwrap();
    oauth_error(userinfo, 401, "invalid_token").await;

    // Deleting the client ends its grants and tokens.
    let live = narrowed["access_token"].as_str().unwrap();
    assert_eq!(server.introspect(&a.api_key, live).await["active"], true);
    let deleted = call(
        &server,
        Method::DELETE,
        &format!("/v1/tenants/{}/oauth-clients/{}", a.id, app.client_id),
        Some(&a.api_key),
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(server.introspect(&a.api_key, live).await["active"], false);
}

#[tokio::test]
async fn clients_are_registered_per_tenant_and_bad_input_writes_nothing() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let path = format!("/v1/tenants/{}/oauth-clients", a.id);
    for body in [
        json!({"name": "x", "redirect_uris": []}),
        json!({"name": "x", "redirect_uris": ["http://app.example.com/cb"]}),
        json!({"name": "x", "redirect_uris": ["https://app.example.com/cb#f"]}),
        json!({"name": "x", "redirect_uris": ["javascript:alert(1)"]}),
        json!({"name": "", "redirect_uris": [REDIRECT]}),
        json!({"name": "x", "redirect_uris": [REDIRECT], "scopes": []}),
        json!({"name": "x", "redirect_uris": [REDIRECT], "scopes": ["bad\"scope"]}),
    ] {
        expect_error(
            call(&server, Method::POST, &path, Some(&a.api_key), Some(body)).await,
            400,
            "invalid_parameter",
        )
        .await;
    }
    expect_error(
        call(
            &server,
            Method::POST,
            &path,
            Some(&a.api_key),
            Some(json!({"name": "x", "redirect_uris": [REDIRECT], "extra": 1})),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;
    let listed = expect_json(
        call(&server, Method::GET, &path, Some(&a.api_key), None).await,
        200,
    )
    .await;
    assert_eq!(listed["clients"], json!([]));

    let public = register_client(&server, &a, true).await;
    assert!(public.secret.is_none());
    let confidential = register_client(&server, &a, false).await;
    assert!(confidential.secret.as_deref().unwrap().starts_with("tcs_"));
    let listed = expect_json(
        call(&server, Method::GET, &path, Some(&a.api_key), None).await,
        200,
    )
    .await;
    let clients = listed["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    assert_eq!(clients[0]["token_endpoint_auth_method"], "none");
    assert_eq!(
        clients[1]["scopes"],
        json!(["email", "offline_access", "openid", "profile"])
    );

    // Tenant B neither sees nor deletes A's clients.
    let foreign = format!("/v1/tenants/{}/oauth-clients/{}", a.id, public.client_id);
    expect_error(
        call(&server, Method::GET, &foreign, Some(&b.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    let through_b = format!("/v1/tenants/{}/oauth-clients/{}", b.id, public.client_id);
    expect_error(
        call(&server, Method::DELETE, &through_b, Some(&b.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    expect_json(
        call(&server, Method::GET, &foreign, Some(&a.api_key), None).await,
        200,
    )
    .await;

    // A confidential client must authenticate; a public one must not send a secret.
    let (_, cookie) = person(&server, "ada@example.com").await;
    let code = code_for(&server, &confidential, &cookie).await;
    let unauthenticated = App {
        client_id: confidential.client_id.clone(),
        secret: None,
    };
    oauth_error(
        redeem(&server, &unauthenticated, &redeem_form(&code)).await,
        401,
        "invalid_client",
    )
    .await;
    let wrong_secret = App {
        client_id: confidential.client_id.clone(),
        secret: Some(public_secret_of(&server, &b).await),
    };
    oauth_error(
        redeem(&server, &wrong_secret, &redeem_form(&code)).await,
        401,
        "invalid_client",
    )
    .await;
    let tokens = expect_json(
        redeem(&server, &confidential, &redeem_form(&code)).await,
        200,
    )
    .await;
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("tgr_")
    );
}

/// A real client secret, of another tenant's client.
async fn public_secret_of(server: &TestServer, tenant: &TestTenant) -> String {
    register_client(server, tenant, false).await.secret.unwrap()
}

#[tokio::test]
async fn dynamic_registration_is_off_unless_the_operator_names_a_tenant() {
    let server = TestServer::start().await;
    let response = server
        .http
        .post(server.url("/oauth2/register"))
        .json(&json!({"redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "not_found").await;
    let metadata = expect_json(
        get(
            &server,
            &server.url("/.well-known/oauth-authorization-server"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(metadata.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn a_client_registers_itself_signs_a_person_in_and_manages_its_registration() {
    let first = TestServer::start().await;
    let tenant = first.register_tenant("MCP host").await;
    let tenant_id = tenant.id.parse().unwrap();
    // The operator switches registration on for this tenant (a second node with that setting).
    let server = first
        .sibling_with(|c| c.dynamic_registration_tenant = Some(tenant_id))
        .await;
    let metadata = expect_json(
        get(
            &server,
            &server.url("/.well-known/oauth-authorization-server"),
            None,
        )
        .await,
        200,
    )
    .await;
    let endpoint = metadata["registration_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(endpoint, server.url("/oauth2/register"));
    let list = format!("/v1/tenants/{}/oauth-clients", tenant.id);

    // Refused metadata: RFC 7591 errors, and nothing is registered.
    for (body, code) in [
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "scope": "openid bad\"scope"}),
            "invalid_client_metadata",
        ),
    ] {
        let response = server
            .http
            .post(&endpoint)
            .json(&body)
            .send()
            .await
            .unwrap();
        oauth_error(response, 400, code).await;
    }
    let listed = expect_json(
        call(&server, Method::GET, &list, Some(&tenant.api_key), None).await,
        200,
    )
    .await;
    assert_eq!(listed["clients"], json!([]));

    let registered = server
        .http
        .post(&endpoint)
        .json(&json!({
            "redirect_uris": [REDIRECT],
            "client_name": "MCP Inspector",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "unknown_metadata": "ignored",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.headers()["cache-control"], "no-store");
    let registered = expect_json(registered, 201).await;
    assert!(registered.get("client_secret").is_none());
    assert_eq!(registered["token_endpoint_auth_method"], "none");
    assert_eq!(registered["scope"], "email offline_access openid profile");
    let token = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("tra_"));
    let uri = registered["registration_client_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = App {
        client_id: registered["client_id"].as_str().unwrap().to_owned(),
        secret: None,
    };
    // The tenant sees (and could delete) the client that registered itself.
    let listed = expect_json(
        call(&server, Method::GET, &list, Some(&tenant.api_key), None).await,
        200,
    )
    .await;
    assert_eq!(listed["clients"][0]["client_id"], app.client_id.as_str());

    // The registered client runs the code flow like any other.
    let (user_id, cookie) = person(&server, "ada@example.com").await;
    let code = code_for(&server, &app, &cookie).await;
    let tokens = expect_json(redeem(&server, &app, &redeem_form(&code)).await, 200).await;
    let (_, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], user_id);
    assert_eq!(claims["aud"], app.client_id.as_str());
    let access = tokens["access_token"].as_str().unwrap();

    // RFC 7592: the registration access token reads and deletes the registration; nothing
    // else does.
    let read = server
        .http
        .get(&uri)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let read = expect_json(read, 200).await;
    assert_eq!(read["client_name"], "MCP Inspector");
    assert!(read.get("registration_access_token").is_none());
    for wrong in [tenant.api_key.as_str(), access, "tra_x"] {
        let response = server
            .http
            .get(&uri)
            .bearer_auth(wrong)
            .send()
            .await
            .unwrap();
        oauth_error(response, 401, "invalid_token").await;
    }
    let other = server
        .http
        .post(&endpoint)
        .json(&json!({"redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    let other = expect_json(other, 201).await;
    assert!(other["client_secret"].as_str().unwrap().starts_with("tcs_"));
    let other_token = other["registration_access_token"].as_str().unwrap();
    let crossed = server
        .http
        .delete(&uri)
        .bearer_auth(other_token)
        .send()
        .await
        .unwrap();
    oauth_error(crossed, 401, "invalid_token").await;
    let deleted = server
        .http
        .delete(&uri)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        server.introspect(&tenant.api_key, access).await["active"],
        false
    );
    let gone = get(&server, &authorize_url(&server, &app, &[]), Some(&cookie)).await;
    oauth_error(gone, 400, "invalid_request").await;
}
