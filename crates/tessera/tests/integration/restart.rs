//! What survives a restart and a key rotation: revocations, unexpired tokens, old keys until
//! their tokens have expired.

use std::time::Duration;

use serde_json::Value;
use tessera_testkit::TestServer;

use crate::cli::tessera;
use crate::support::jwt_parts;

#[tokio::test]
async fn revocation_and_tokens_survive_a_restart() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &[]).await;
    let revoked = server.token(&agent, None).await;
    let kept = server.token(&agent, None).await;
    let response = server
        .http
        .post(server.url("/oauth2/revoke"))
        .header("x-api-key", &a.api_key)
        .form(&[("token", &revoked)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let server = server.restart().await;
    assert!(
        !server.is_active(&revoked).await,
        "a revoked token stays revoked after a restart"
    );
    assert!(
        server.is_active(&kept).await,
        "an unexpired token issued before the restart is accepted"
    );
    assert_eq!(
        server.token_response(&agent, None).await.status(),
        200,
        "the agent's secret still works"
    );
}

async fn published_kids(server: &TestServer) -> Vec<String> {
    let jwks: Value = server
        .http
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls until the server's key ring (refreshed every second in tests) shows `expected` keys.
async fn wait_for_published(server: &TestServer, expected: usize) -> Vec<String> {
    for _ in 0..100 {
        let kids = published_kids(server).await;
        if kids.len() == expected {
            return kids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the JWKS never reached {expected} keys: {:?}",
        published_kids(server).await
    );
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_until_they_expire() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &[]).await;
    let old_token = server.token(&agent, None).await;
    let old_kid = jwt_parts(&old_token).0["kid"].as_str().unwrap().to_owned();

    let output = tessera(
        &server,
        &["keys", "rotate", "--alg", "EdDSA", "--activate-in", "0"],
    )
    .await;
    assert!(
        output.status.success(),
        "keys rotate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let new_kid = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_ne!(new_kid, old_kid);

    let kids = wait_for_published(&server, 2).await;
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid));
    // The test clock started when the server did; move it past the new key's activation.
    server.clock.advance(time::Duration::seconds(5));
    let mut new_token = server.token(&agent, None).await;
    for _ in 0..100 {
        if jwt_parts(&new_token).0["kid"] == new_kid.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        new_token = server.token(&agent, None).await;
    }
    let (header, _) = jwt_parts(&new_token);
    assert_eq!(header["kid"], new_kid.as_str());
    assert_eq!(header["alg"], "EdDSA");
    assert!(
        server.is_active(&old_token).await,
        "tokens of the retired key validate until they expire"
    );
    assert!(server.is_active(&new_token).await);

    let list = tessera(&server, &["keys", "list"]).await;
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains(&new_kid) && list.contains("signing") && list.contains("retired"),
        "{list}"
    );

    // Once the last token the old key signed has expired, the JWKS drops it.
    server.clock.advance(time::Duration::seconds(3600 + 10));
    assert!(!server.is_active(&old_token).await);
    assert_eq!(wait_for_published(&server, 1).await, vec![new_kid]);
}
