//! `did:web` documents (Tessera's at `/.well-known/did.json`, each agent's at
//! `/v1/agents/{agent_id}/did.json`) and the per-agent card export.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_crypto::Algorithm;
use tessera_testkit::TestServer;

use crate::client_jwt::{ClientSigner, register_key};
use crate::support::{call, expect_error, expect_json};

fn server_did(server: &TestServer) -> String {
    let url = url::Url::parse(&server.base).unwrap();
    format!(
        "did:web:{}%3A{}",
        url.host_str().unwrap(),
        url.port().unwrap()
    )
}

#[tokio::test]
async fn tessera_and_its_agents_publish_did_documents() {
    let server = TestServer::start().await;
    let did = server_did(&server);
    let document = expect_json(
        call(&server, Method::GET, "/.well-known/did.json", None, None).await,
        200,
    )
    .await;
    assert_eq!(document["id"], did);
    let jwks = expect_json(
        call(&server, Method::GET, "/.well-known/jwks.json", None, None).await,
        200,
    )
    .await;
    let published: Vec<&Value> = jwks["keys"].as_array().unwrap().iter().collect();
    let methods = document["verificationMethod"].as_array().unwrap();
    assert_eq!(methods.len(), published.len());
    for (method, jwk) in methods.iter().zip(published) {
        assert_eq!(method["type"], "JsonWebKey2020");
        assert_eq!(
            method["id"],
            format!("{did}#{}", jwk["kid"].as_str().unwrap())
        );
        assert_eq!(&method["publicKeyJwk"], jwk);
        assert!(
            document["assertionMethod"]
                .as_array()
                .unwrap()
                .contains(&method["id"])
        );
    }

    let tenant = server.register_tenant("A").await;
    let other = server.register_tenant("B").await;
    let agent = server.create_agent(&tenant, &["read"]).await;
    let signer = ClientSigner::new(Algorithm::EdDsa);
    let stored = register_key(&server, &tenant, &agent, &signer).await;
    let path = format!("/v1/agents/{}/did.json", agent.id);
    let agent_document =
        expect_json(call(&server, Method::GET, &path, None, None).await, 200).await;
    let agent_did = format!("{did}:v1:agents:{}", agent.id);
    assert_eq!(agent_document["id"], agent_did);
    assert_eq!(agent_document["controller"], did);
    assert_eq!(
        agent_document["verificationMethod"],
        json!([{
            "id": format!("{agent_did}#{}", signer.kid),
            "type": "JsonWebKey2020",
            "controller": agent_did,
            "publicKeyJwk": stored["jwk"],
        }])
    );
    assert_eq!(
        agent_document["authentication"],
        json!([format!("{agent_did}#{}", signer.kid)])
    );

    // The card names the DID; only the agent's tenant reads it.
    let card_path = format!("/v1/tenants/{}/agents/{}/card", tenant.id, agent.id);
    let card = expect_json(
        call(
            &server,
            Method::GET,
            &card_path,
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(card["annotations"]["tessera.did"], agent_did);
    assert_eq!(card["annotations"]["tessera.agent_id"], agent.id);
    let foreign = format!("/v1/tenants/{}/agents/{}/card", other.id, agent.id);
    expect_error(
        call(&server, Method::GET, &foreign, Some(&other.api_key), None).await,
        404,
        "not_found",
    )
    .await;

    // A disabled, unknown or malformed agent has no document.
    let agent_path = format!("/v1/tenants/{}/agents/{}", tenant.id, agent.id);
    let disabled = call(
        &server,
        Method::PATCH,
        &agent_path,
        Some(&tenant.api_key),
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(disabled.status(), 200);
    expect_error(
        call(&server, Method::GET, &path, None, None).await,
        404,
        "not_found",
    )
    .await;
    let unknown = format!("/v1/agents/agt_{}/did.json", "0".repeat(32));
    let response = call(&server, Method::GET, &unknown, None, None).await;
    assert!(
        matches!(response.status().as_u16(), 400 | 404),
        "{}",
        response.status()
    );
    expect_error(
        call(&server, Method::GET, "/v1/agents/nope/did.json", None, None).await,
        400,
        "invalid_id",
    )
    .await;
}
