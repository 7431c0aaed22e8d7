//! Invitations: owners and admins invite an address with a role; the person signed in with that
//! address accepts once and becomes a member; roles gate the tenant API; removal takes effect at
//! once (tenant API and gateway) — on both backends.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_testkit::TestServer;

use crate::gateway::gateway_to;
use crate::people::{as_user, register};
use crate::people_email::{mailed, verify};
use crate::support::{
    TestRuntime, expect_error, expect_json, last_mail_to, mailed_link, set_cookies,
};

async fn create_tenant(server: &TestServer, token: &str, name: &str) -> String {
    let tenant = crate::tenants_for_people::create_tenant(server, token, name).await;
    tenant["id"].as_str().unwrap().to_owned()
}

/// Signs `email` in through the email door; returns the access token.
async fn signed_in_by_email(server: &TestServer, email: &str) -> String {
    let (_, code) = mailed(server, email).await;
    let grant = expect_json(verify(server, email, &code, None).await, 200).await;
    grant["access_token"].as_str().unwrap().to_owned()
}

async fn invite(
    server: &TestServer,
    token: &str,
    tenant: &str,
    email: &str,
    role: &str,
) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        &format!("/v1/tenants/{tenant}/invitations"),
        Some(token),
        Some(json!({"email": email, "role": role})),
    )
    .await
}

/// Invites `email` and returns the invitation and the token mailed to the address.
pub async fn invited(
    server: &TestServer,
    token: &str,
    tenant: &str,
    email: &str,
    role: &str,
) -> (Value, String) {
    let invitation = expect_json(invite(server, token, tenant, email, role).await, 201).await;
    let mail = server.outbox().await.pop().unwrap();
    assert_eq!(mail.recipient, email.to_lowercase());
    let secret = mail
        .body
        .split('"')
        .find(|part| part.starts_with("tml_"))
        .expect("a token in the invitation")
        .to_owned();
    (invitation, secret)
}

pub async fn accept(server: &TestServer, token: Option<&str>, secret: &str) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/invitations/accept",
        token,
        Some(json!({"token": secret})),
    )
    .await
}

#[tokio::test]
async fn an_invited_person_joins_with_the_role_until_removed() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let ada = register(&server, "ada@example.com").await;
    let ada_token = ada["access_token"].as_str().unwrap();
    let tenant = create_tenant(&server, ada_token, "Engines").await;

    let (invitation, secret) =
        invited(&server, ada_token, &tenant, "Grace@Example.com", "viewer").await;
    assert_eq!(invitation["email"], "grace@example.com");
    assert_eq!(invitation["role"], "viewer");
    assert!(invitation["id"].as_str().unwrap().starts_with("inv_"));
    let listed = expect_json(
        as_user(
            &server,
            Method::GET,
            &format!("/v1/tenants/{tenant}/invitations"),
            Some(ada_token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["invitations"], json!([invitation]));

    let grace = signed_in_by_email(&server, "grace@example.com").await;
    let membership = expect_json(accept(&server, Some(&grace), &secret).await, 201).await;
    assert_eq!(membership["tenant_id"], tenant.as_str());
    assert_eq!(membership["tenant_name"], "Engines");
    assert_eq!(membership["role"], "viewer");
    // Once only; and it is no longer pending.
    expect_error(
        accept(&server, Some(&grace), &secret).await,
        404,
        "not_found",
    )
    .await;
    let listed = expect_json(
        as_user(
            &server,
            Method::GET,
            &format!("/v1/tenants/{tenant}/invitations"),
            Some(ada_token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["invitations"], json!([]));

    // A viewer reads the tenant but cannot create agents or invite.
    let members = format!("/v1/tenants/{tenant}/members");
    let list = expect_json(
        as_user(&server, Method::GET, &members, Some(&grace), None).await,
        200,
    )
    .await;
    assert_eq!(list["members"].as_array().unwrap().len(), 2);
    expect_error(
        as_user(
            &server,
            Method::POST,
            &format!("/v1/tenants/{tenant}/agents"),
            Some(&grace),
            Some(json!({"name": "bot"})),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        invite(&server, &grace, &tenant, "x@example.com", "viewer").await,
        403,
        "insufficient_scope",
    )
    .await;
    let gateway = || {
        server
            .http
            .get(server.url("/api/echo"))
            .bearer_auth(&grace)
            .send()
    };
    let echoed = expect_json(gateway().await.unwrap(), 200).await;
    assert_eq!(echoed["headers"]["x-tenant-id"], json!([tenant]));

    // Removed: the same session loses the tenant at once, in the API and at the gateway.
    let grace_id = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "viewer")
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = as_user(
        &server,
        Method::DELETE,
        &format!("{members}/{grace_id}"),
        Some(ada_token),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    expect_error(
        as_user(&server, Method::GET, &members, Some(&grace), None).await,
        404,
        "not_found",
    )
    .await;
    expect_error(gateway().await.unwrap(), 403, "tenant_mismatch").await;

    let audit: Vec<String> = server
        .audit_log()
        .await
        .into_iter()
        .filter(|row| row.action.starts_with("invitation.") && row.outcome == "success")
        .map(|row| row.action)
        .collect();
    assert_eq!(audit, ["invitation.create", "invitation.accept"]);
}

#[tokio::test]
async fn invitations_stay_with_their_address_their_tenant_and_their_week() {
    let server = TestServer::start().await;
    let ada = register(&server, "ada@example.com").await;
    let ada_token = ada["access_token"].as_str().unwrap();
    let tenant = create_tenant(&server, ada_token, "A").await;
    let bob = register(&server, "bob@example.com").await;
    let bob_token = bob["access_token"].as_str().unwrap();
    create_tenant(&server, bob_token, "B").await;

    // Another tenant's owner cannot invite into A (A does not exist for them).
    expect_error(
        invite(&server, bob_token, &tenant, "mallory@example.com", "owner").await,
        404,
        "not_found",
    )
    .await;

    // An admin invites, but not owners.
    let (_, secret) = invited(&server, ada_token, &tenant, "carol@example.com", "admin").await;
    let carol = signed_in_by_email(&server, "carol@example.com").await;
    expect_json(accept(&server, Some(&carol), &secret).await, 201).await;
    expect_error(
        invite(&server, &carol, &tenant, "dave@example.com", "owner").await,
        403,
        "insufficient_scope",
    )
    .await;
    let (invitation, secret) =
        invited(&server, &carol, &tenant, "dave@example.com", "member").await;

    // Someone signed in with another address cannot use Dave's invitation, which stays his.
    let eve = signed_in_by_email(&server, "eve@example.com").await;
    expect_error(
        accept(&server, Some(&eve), &secret).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(accept(&server, None, &secret).await, 401, "unauthenticated").await;
    // Dave signs up with a password: confirming it proved his address, so the invitation is his.
    let dave = register(&server, "dave@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let joined = expect_json(accept(&server, Some(&dave), &secret).await, 201).await;
    assert_eq!(joined["role"], "member");
    assert_eq!(invitation["role"], "member");
    expect_error(
        accept(&server, Some(&dave), &secret).await,
        404,
        "not_found",
    )
    .await;

    // Revoked and expired invitations are refused.
    let (invitation, secret) =
        invited(&server, ada_token, &tenant, "erin@example.com", "viewer").await;
    let path = format!(
        "/v1/tenants/{tenant}/invitations/{}",
        invitation["id"].as_str().unwrap()
    );
    let revoked = as_user(&server, Method::DELETE, &path, Some(ada_token), None).await;
    assert_eq!(revoked.status(), 204);
    expect_error(
        as_user(&server, Method::DELETE, &path, Some(ada_token), None).await,
        404,
        "not_found",
    )
    .await;
    let erin = signed_in_by_email(&server, "erin@example.com").await;
    expect_error(
        accept(&server, Some(&erin), &secret).await,
        404,
        "not_found",
    )
    .await;
    let members = expect_json(
        as_user(
            &server,
            Method::GET,
            &format!("/v1/tenants/{tenant}/members"),
            Some(ada_token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        members["members"].as_array().unwrap().len(),
        3,
        "ada, carol, dave"
    );

    // Bad input: a clear 4xx, nothing sent.
    let sent = server.outbox().await.len();
    expect_error(
        invite(&server, ada_token, &tenant, "not an address", "viewer").await,
        400,
        "invalid_parameter",
    )
    .await;
    expect_error(
        invite(&server, ada_token, &tenant, "x@example.com", "emperor").await,
        422,
        "invalid_body",
    )
    .await;
    expect_error(
        accept(&server, Some(&erin), "tml_nope").await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(server.outbox().await.len(), sent);

    // Expired (the last step: moving the clock a week ends every session too).
    let (_, secret) = invited(&server, ada_token, &tenant, "erin@example.com", "viewer").await;
    server
        .clock
        .advance(time::Duration::days(7) + time::Duration::seconds(1));
    let erin = signed_in_by_email(&server, "erin@example.com").await;
    expect_error(
        accept(&server, Some(&erin), &secret).await,
        404,
        "not_found",
    )
    .await;
}

/// The session access token among a response's cookies.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookies(response).iter().find_map(|cookie| {
        let value = cookie.strip_prefix("tessera_session=")?.split(';').next()?;
        Some(value.to_owned())
    })
}

#[tokio::test]
async fn the_invitation_link_signs_the_address_in_and_joins_once() {
    let server = TestServer::start().await;
    let ada = register(&server, "ada@example.com").await;
    let ada_token = ada["access_token"].as_str().unwrap();
    let tenant = create_tenant(&server, ada_token, "Engines").await;
    let issuer = server.config().issuer();

    // A new address: the link makes its user (the address its door), a member with the
    // invited role, signed in with cookies on /console; the session names the tenant.
    let (_, secret) = invited(&server, ada_token, &tenant, "grace@example.com", "admin").await;
    let link = mailed_link(
        &last_mail_to(&server, "grace@example.com").await.body,
        "/v1/invitations/accept",
    );
    assert_eq!(
        link,
        format!("{issuer}/v1/invitations/accept?token={secret}")
    );
    let users = server.count_rows("users").await;
    let joined = server.http.get(&link).send().await.unwrap();
    assert_eq!(joined.status(), 302);
    assert_eq!(joined.headers()["location"], format!("{issuer}/console"));
    let grace = session_cookie(&joined).expect("a session cookie");
    assert_eq!(server.count_rows("users").await, users + 1);
    let me = expect_json(
        as_user(&server, Method::GET, "/v1/me", Some(&grace), None).await,
        200,
    )
    .await;
    assert_eq!(me["identities"][0]["kind"], "email");
    assert_eq!(me["identities"][0]["subject"], "grace@example.com");
    assert_eq!(me["memberships"][0]["tenant_id"], tenant.as_str());
    assert_eq!(me["memberships"][0]["role"], "admin");
    let agents = format!("/v1/tenants/{tenant}/agents");
    expect_json(
        as_user(&server, Method::GET, &agents, Some(&grace), None).await,
        200,
    )
    .await;

    // Once only: again, it goes back to the sign-in page with the reason, and signs no one in.
    let again = server.http.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 302);
    assert_eq!(
        again.headers()["location"],
        format!("{issuer}/console/login?error=not_found")
    );
    assert!(session_cookie(&again).is_none());
    let forged = format!("{issuer}/v1/invitations/accept?token=tml_nope");
    let forged = server.http.get(&forged).send().await.unwrap();
    assert_eq!(
        forged.headers()["location"],
        format!("{issuer}/console/login?error=not_found")
    );
    assert_eq!(server.count_rows("users").await, users + 1);

    // An address that already has a user: that user joins, and a member just signs in.
    let (_, secret) = invited(&server, ada_token, &tenant, "ada@example.com", "viewer").await;
    let link = format!("{issuer}/v1/invitations/accept?token={secret}");
    let signed_in = server.http.get(&link).send().await.unwrap();
    assert_eq!(signed_in.headers()["location"], format!("{issuer}/console"));
    let again = session_cookie(&signed_in).expect("a session cookie");
    let me = expect_json(
        as_user(&server, Method::GET, "/v1/me", Some(&again), None).await,
        200,
    )
    .await;
    assert_eq!(me["user"]["id"], ada["user"]["id"]);
    assert_eq!(me["memberships"][0]["role"], "owner", "unchanged");
    assert_eq!(server.count_rows("users").await, users + 1);

    // Another tenant's invitation brings no one into this tenant (isolation).
    let bob = register(&server, "bob@example.com").await;
    let other = create_tenant(&server, bob["access_token"].as_str().unwrap(), "B").await;
    let (_, secret) = invited(
        &server,
        bob["access_token"].as_str().unwrap(),
        &other,
        "carol@example.com",
        "member",
    )
    .await;
    let link = format!("{issuer}/v1/invitations/accept?token={secret}");
    let carol = session_cookie(&server.http.get(&link).send().await.unwrap()).unwrap();
    expect_error(
        as_user(&server, Method::GET, &agents, Some(&carol), None).await,
        404,
        "not_found",
    )
    .await;
}
