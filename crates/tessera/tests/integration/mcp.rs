//! Tessera as the authorization server of an MCP server behind its gateway, driven by the real
//! MCP client library (npm `@modelcontextprotocol/sdk`): the 401's `resource_metadata`, protected
//! resource metadata (RFC 9728), authorization server metadata, dynamic registration (RFC 7591),
//! the code flow with PKCE and a resource indicator (RFC 8707), and the call with the token.

use std::net::SocketAddr;

use reqwest::Method;
use serde_json::json;
use tessera_testkit::{TestServer, peer};

use crate::authorize::REDIRECT;
use crate::gateway::route;
use crate::resources::{member_of, protected};
use crate::support::{TestRuntime, call, expect_json, free_port, jwt_parts};

#[tokio::test]
async fn the_mcp_sdk_authorizes_through_the_resource_metadata() {
    let runtime = TestRuntime::start().await;
    let first = TestServer::start().await;
    let tenant = first.register_tenant("MCP host").await;
    let tenant_id = tenant.id.parse().unwrap();
    // The MCP server's URL is its resource identifier, so the node's port is chosen first.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp = format!("{base}/api/echo/mcp");
    let upstream = runtime.url();
    let server = first
        .sibling_with(|config| {
            config.listen = SocketAddr::from(([127, 0, 0, 1], port));
            config.dynamic_registration_tenant = Some(tenant_id);
            config.gateway_routes = vec![
                protected("/api/echo/mcp", &upstream, &mcp, &["mcp:tools"]),
                route("/api", &upstream),
            ];
        })
        .await;
    assert_eq!(server.base, base);
    // The person belongs to the tenant: its gateway route takes their token only while they do.
    let (user_id, cookie, _) = member_of(&server, &tenant, "ada@example.com", "member").await;
    let input = json!({
        "server_url": mcp,
        "cookie": cookie,
        "redirect_uri": REDIRECT,
        "client_name": "MCP Inspector",
    });
    let out = tokio::task::spawn_blocking(move || {
        peer::run("node", "mcp_client.mjs", "authorize", &input)
    })
    .await
    .unwrap();

    assert_eq!(
        out["resource_metadata_url"],
        format!("{base}/.well-known/oauth-protected-resource/api/echo/mcp")
    );
    let metadata = &out["resource_metadata"];
    assert_eq!(metadata["resource"], mcp.as_str());
    assert_eq!(metadata["authorization_servers"], json!([base]));
    assert_eq!(metadata["scopes_supported"], json!(["mcp:tools"]));
    assert_eq!(out["authorization_server"]["issuer"], base.as_str());
    assert!(
        out["authorization_server"]["protected_resources"]
            .as_array()
            .unwrap()
            .contains(&json!(mcp))
    );
    // The SDK registered itself, asked for the resource's scopes and the resource itself.
    let client_id = out["client"]["client_id"].as_str().unwrap();
    let authorization = url::Url::parse(out["authorization_url"].as_str().unwrap()).unwrap();
    let query: Vec<(String, String)> = authorization.query_pairs().into_owned().collect();
    for (name, value) in [
        ("client_id", client_id),
        ("resource", mcp.as_str()),
        ("scope", "mcp:tools"),
        ("code_challenge_method", "S256"),
    ] {
        assert!(
            query.iter().any(|(n, v)| n == name && v == value),
            "{name}={value} in {authorization}"
        );
    }
    let listed = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/oauth-clients", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["clients"][0]["client_id"], client_id);

    // The token is the person's, for the MCP server alone, and it got through to it.
    let access = out["tokens"]["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(access);
    assert_eq!(claims["aud"], mcp.as_str());
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["scope"], "mcp:tools");
    assert_eq!(out["call"]["status"], 200, "{out}");
    let echoed: serde_json::Value =
        serde_json::from_str(out["call"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["headers"]["x-user-id"][0], user_id.as_str());
    assert_eq!(echoed["headers"]["x-tenant-id"][0], tenant.id.as_str());
}
