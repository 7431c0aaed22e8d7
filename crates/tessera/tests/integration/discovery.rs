//! Metadata, JWKS, and Tessera's tokens verified by JOSE libraries of other ecosystems (PyJWT,
//! npm `jose`) from discovery and the JWKS alone.

use std::path::PathBuf;

use serde_json::Value;
use tessera_testkit::TestServer;

use crate::support::expect_json;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn metadata_names_the_issuer_and_its_endpoints() {
    let server = TestServer::start().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let metadata =
            expect_json(server.http.get(server.url(path)).send().await.unwrap(), 200).await;
        assert_eq!(metadata["issuer"], server.base);
        assert_eq!(
            metadata["token_endpoint"],
            format!("{}/oauth2/token", server.base)
        );
        assert_eq!(
            metadata["jwks_uri"],
            format!("{}/.well-known/jwks.json", server.base)
        );
        assert_eq!(
            metadata["introspection_endpoint"],
            format!("{}/oauth2/introspect", server.base)
        );
        assert_eq!(
            metadata["revocation_endpoint"],
            format!("{}/oauth2/revoke", server.base)
        );
        assert_eq!(
            metadata["grant_types_supported"],
            serde_json::json!([
                "client_credentials",
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "urn:ietf:params:oauth:grant-type:device_code"
            ])
        );
        assert_eq!(
            metadata["authorization_endpoint"],
            format!("{}/oauth2/authorize", server.base)
        );
        assert_eq!(
            metadata["userinfo_endpoint"],
            format!("{}/oauth2/userinfo", server.base)
        );
        assert_eq!(
            metadata["response_types_supported"],
            serde_json::json!(["code"])
        );
        assert_eq!(
            metadata["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            metadata["authorization_response_iss_parameter_supported"],
            true
        );
    }
    let response = server
        .http
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0].get("d").is_none(), "no private parameters");
}

#[tokio::test]
async fn public_url_sets_the_issuer() {
    let server =
        TestServer::start_with(|c| c.public_url = Some("https://id.example.com/".parse().unwrap()))
            .await;
    let metadata = expect_json(
        server
            .http
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(metadata["issuer"], "https://id.example.com");
    assert_eq!(
        metadata["jwks_uri"],
        "https://id.example.com/.well-known/jwks.json"
    );
}

pub async fn run_verifier(
    program: &str,
    script: &str,
    issuer: &str,
    token: &str,
    audience: &str,
) -> (bool, String) {
    let output = tokio::process::Command::new(program)
        .arg(repo_root().join("tests/peers").join(script))
        .args([issuer, token, audience])
        .current_dir(repo_root())
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("running {program} (scripts/install-peers installs the peers): {e}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn tokens_verify_with_pyjwt_and_jose_from_the_jwks_alone() {
    for alg in [
        tessera_crypto::Algorithm::Es256,
        tessera_crypto::Algorithm::EdDsa,
        tessera_crypto::Algorithm::Rs256,
    ] {
        let server = TestServer::start_with(|c| c.signing_alg = alg).await;
        let a = server.register_tenant("A").await;
        let agent = server.create_agent(&a, &["read"]).await;
        let token = server.token(&agent, None).await;
        for (program, script) in [("python3", "verify_token.py"), ("node", "verify_token.mjs")] {
            let (ok, output) =
                run_verifier(program, script, &server.base, &token, &server.base).await;
            assert!(ok, "{script} refused a valid {alg} token: {output}");
            assert!(output.contains(&agent.id), "{output}");
            let (ok, output) = run_verifier(
                program,
                script,
                &server.base,
                &token,
                "https://someone-else",
            )
            .await;
            assert!(
                !ok,
                "{script} accepted a token for another audience: {output}"
            );
        }
    }
}
