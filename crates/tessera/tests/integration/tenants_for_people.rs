//! Tenants for people: a signed-in person creates tenants (and owns them), roles gate the tenant
//! API, user API keys act as their person, and sessions and user keys pass the gateway into the
//! tenants the person belongs to — on both backends.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_core::placement::{Placement, PlacementBackend, PlacementState, PlacementStatus};
use tessera_testkit::TestServer;

use crate::gateway::gateway_to;
use crate::people::{as_user, register};
use crate::support::{TestRuntime, expect_error, expect_json, jwt_parts};

pub async fn create_tenant(server: &TestServer, token: &str, name: &str) -> Value {
    expect_json(
        as_user(
            server,
            Method::POST,
            "/v1/me/tenants",
            Some(token),
            Some(json!({"name": name})),
        )
        .await,
        201,
    )
    .await
}

async fn refreshed_token(server: &TestServer, grant: &Value) -> Value {
    expect_json(
        as_user(
            server,
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": grant["refresh_token"]})),
        )
        .await,
        200,
    )
    .await
}

#[tokio::test]
async fn a_person_creates_and_owns_a_tenant() {
    let server = TestServer::start().await;
    let ada = register(&server, "ada@example.com").await;
    let token = ada["access_token"].as_str().unwrap();
    let tenant = create_tenant(&server, token, "Analytical Engines").await;
    let tenant_id = tenant["id"].as_str().unwrap();
    assert_eq!(tenant["plan"], "explorer");

    // The membership shows in /v1/me and, after a refresh, in the token's entity ids.
    let me = expect_json(
        as_user(&server, Method::GET, "/v1/me", Some(token), None).await,
        200,
    )
    .await;
    assert_eq!(me["memberships"][0]["tenant_id"], tenant_id);
    assert_eq!(me["memberships"][0]["role"], "owner");
    assert_eq!(me["memberships"][0]["tenant_name"], "Analytical Engines");
    let refreshed = refreshed_token(&server, &ada).await;
    let (_, claims) = jwt_parts(refreshed["access_token"].as_str().unwrap());
    assert_eq!(claims["entity_ids"], json!([tenant_id]));

    // The owner uses the tenant API with the session: agents, keys, members.
    let agents = format!("/v1/tenants/{tenant_id}/agents");
    let agent = expect_json(
        as_user(
            &server,
            Method::POST,
            &agents,
            Some(token),
            Some(json!({"name": "bot"})),
        )
        .await,
        201,
    )
    .await;
    assert!(agent["client_id"].as_str().unwrap().starts_with("agt_"));
    let members = expect_json(
        as_user(
            &server,
            Method::GET,
            &format!("/v1/tenants/{tenant_id}/members"),
            Some(token),
            None,
        )
        .await,
        200,
    )
    .await;
    let ada_id = ada["user"]["id"].as_str().unwrap();
    assert_eq!(
        members["members"],
        json!([{
            "user_id": ada_id, "email": "ada@example.com", "name": null, "role": "owner",
            "created_at": members["members"][0]["created_at"],
        }])
    );

    // The last owner can neither leave nor step down.
    let own = format!("/v1/tenants/{tenant_id}/members/{ada_id}");
    expect_error(
        as_user(&server, Method::DELETE, &own, Some(token), None).await,
        409,
        "last_owner",
    )
    .await;
    expect_error(
        as_user(
            &server,
            Method::PATCH,
            &own,
            Some(token),
            Some(json!({"role": "admin"})),
        )
        .await,
        409,
        "last_owner",
    )
    .await;
    expect_error(
        as_user(
            &server,
            Method::PATCH,
            &own,
            Some(token),
            Some(json!({"role": "emperor"})),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;

    // Another person sees nothing of it, and cannot touch it.
    let grace = register(&server, "grace@example.com").await;
    let other = grace["access_token"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/v1/tenants/{tenant_id}")),
        (Method::GET, format!("/v1/tenants/{tenant_id}/members")),
        (Method::POST, agents.clone()),
        (Method::DELETE, own.clone()),
    ] {
        expect_error(
            as_user(
                &server,
                method,
                &path,
                Some(other),
                Some(json!({"name": "x"})),
            )
            .await,
            404,
            "not_found",
        )
        .await;
    }
    // Bad input writes nothing; without a session there is no tenant to create.
    expect_error(
        as_user(
            &server,
            Method::POST,
            "/v1/me/tenants",
            Some(token),
            Some(json!({"name": ""})),
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
            "/v1/me/tenants",
            None,
            Some(json!({"name": "x"})),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(server.count_rows("tenants").await, 1);
    // Tenant registration stays for anonymous callers and the operator.
    expect_error(
        as_user(
            &server,
            Method::POST,
            "/v1/tenants",
            Some(token),
            Some(json!({"name": "x", "email": "x@example.com", "kind": "consumer"})),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    let audit = server.audit_log().await;
    assert!(audit.iter().any(|row| row.action == "tenant.create"
        && row.actor == format!("user:{ada_id}")
        && row.tenant_id.as_deref() == Some(tenant_id)));
}

#[tokio::test]
async fn user_api_keys_act_as_their_person() {
    let server = TestServer::start().await;
    let ada = register(&server, "ada@example.com").await;
    let token = ada["access_token"].as_str().unwrap();
    let tenant = create_tenant(&server, token, "Engines").await;
    let tenant_id = tenant["id"].as_str().unwrap();
    let agents = format!("/v1/tenants/{tenant_id}/agents");

    let full = expect_json(
        as_user(
            &server,
            Method::POST,
            "/v1/me/api-keys",
            Some(token),
            Some(json!({"name": "ci", "scopes": ["*"]})),
        )
        .await,
        201,
    )
    .await;
    let key = full["key"].as_str().unwrap();
    assert!(key.starts_with("tsk_"));
    let reader = expect_json(
        as_user(
            &server,
            Method::POST,
            "/v1/me/api-keys",
            Some(token),
            Some(json!({"name": "ro", "scopes": ["read"]})),
        )
        .await,
        201,
    )
    .await;
    let read_key = reader["key"].as_str().unwrap();

    let with_key = |key: &str, method: Method, path: &str, body: Option<Value>| {
        let mut request = server
            .http
            .request(method, server.url(path))
            .header("x-api-key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let created = expect_json(
        with_key(key, Method::POST, &agents, Some(json!({"name": "bot"})))
            .await
            .unwrap(),
        201,
    )
    .await;
    assert!(created["client_id"].is_string());
    expect_json(
        with_key(read_key, Method::GET, &agents, None)
            .await
            .unwrap(),
        200,
    )
    .await;
    expect_error(
        with_key(read_key, Method::POST, &agents, Some(json!({"name": "no"})))
            .await
            .unwrap(),
        403,
        "insufficient_scope",
    )
    .await;
    // The user's own tenants only.
    let other = server.register_tenant("Other").await;
    expect_error(
        with_key(
            key,
            Method::GET,
            &format!("/v1/tenants/{}/agents", other.id),
            None,
        )
        .await
        .unwrap(),
        404,
        "not_found",
    )
    .await;
    // Listed without secrets; revoked, refused at once; another user cannot revoke it.
    let listed = expect_json(
        as_user(&server, Method::GET, "/v1/me/api-keys", Some(token), None).await,
        200,
    )
    .await;
    assert_eq!(listed["api_keys"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains("tsk_"));
    let grace = register(&server, "grace@example.com").await;
    let revoke_path = format!("/v1/me/api-keys/{}", full["id"].as_str().unwrap());
    expect_error(
        as_user(
            &server,
            Method::DELETE,
            &revoke_path,
            grace["access_token"].as_str(),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let response = as_user(&server, Method::DELETE, &revoke_path, Some(token), None).await;
    assert_eq!(response.status(), 204);
    expect_error(
        with_key(key, Method::GET, &agents, None).await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    // Bad input: unknown scope, admin, empty scopes.
    for scopes in [json!(["root"]), json!(["admin"]), json!([])] {
        expect_error(
            as_user(
                &server,
                Method::POST,
                "/v1/me/api-keys",
                Some(token),
                Some(json!({"name": "x", "scopes": scopes})),
            )
            .await,
            400,
            "invalid_parameter",
        )
        .await;
    }
}

#[tokio::test]
async fn sessions_and_user_keys_pass_the_gateway_into_their_tenants() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let ada = register(&server, "ada@example.com").await;
    let token = ada["access_token"].as_str().unwrap().to_owned();
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let gateway = |credential: &str, entity: Option<&str>| {
        let mut request = server
            .http
            .get(server.url("/api/echo"))
            .bearer_auth(credential);
        if let Some(entity) = entity {
            request = request.header("x-entity", entity);
        }
        request.send()
    };

    // No tenant yet: nothing to reach.
    expect_error(gateway(&token, None).await.unwrap(), 403, "tenant_mismatch").await;
    let first = create_tenant(&server, &token, "One").await;
    let first_id = first["id"].as_str().unwrap();
    let echoed = expect_json(gateway(&token, None).await.unwrap(), 200).await;
    assert_eq!(echoed["headers"]["x-tenant-id"], json!([first_id]));
    assert_eq!(echoed["headers"]["x-user-id"], json!([ada_id]));
    assert!(
        echoed["headers"].get("authorization").is_none(),
        "the session stays here"
    );

    // Two tenants: the request names one, by its runtime's placement (registered here through
    // the store, as provisioning would).
    let second = create_tenant(&server, &token, "Two").await;
    let second_id = second["id"].as_str().unwrap();
    let now = server.clock_now();
    server
        .state()
        .store
        .insert_placement(&Placement {
            entity_id: second_id.parse().unwrap(),
            agent_id: None,
            address: runtime.url(),
            port: None,
            backend: PlacementBackend::Static,
            owner: "test".to_owned(),
            status: PlacementStatus::Running,
            state: PlacementState::default(),
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    expect_error(gateway(&token, None).await.unwrap(), 403, "tenant_mismatch").await;
    let echoed = expect_json(gateway(&token, Some(second_id)).await.unwrap(), 200).await;
    assert_eq!(echoed["headers"]["x-tenant-id"], json!([second_id]));

    // Someone else's tenant: refused.
    let stranger = server.register_tenant("Stranger").await;
    expect_error(
        gateway(&token, Some(&stranger.id)).await.unwrap(),
        403,
        "tenant_mismatch",
    )
    .await;

    // A user API key works the same way.
    let key = expect_json(
        as_user(
            &server,
            Method::POST,
            "/v1/me/api-keys",
            Some(&token),
            Some(json!({"name": "k", "scopes": ["read"]})),
        )
        .await,
        201,
    )
    .await;
    let echoed = expect_json(
        gateway(key["key"].as_str().unwrap(), Some(second_id))
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(echoed["headers"]["x-user-id"], json!([ada_id]));
    assert_eq!(echoed["headers"]["x-scopes"], json!(["read"]));

    // The browser's cookie is a session too; a signed-out session is refused at once.
    let by_cookie = server
        .http
        .get(server.url("/api/echo"))
        .header("cookie", format!("tessera_session={token}"))
        .header("x-entity", second_id)
        .send()
        .await
        .unwrap();
    let echoed = expect_json(by_cookie, 200).await;
    assert_eq!(echoed["headers"]["x-user-id"], json!([ada_id]));
    assert!(
        echoed["headers"].get("cookie").is_none(),
        "tessera_* cookies stay here"
    );
    let response = as_user(&server, Method::POST, "/v1/auth/logout", Some(&token), None).await;
    assert_eq!(response.status(), 204);
    expect_error(
        gateway(&token, Some(second_id)).await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
}
