//! Schemathesis (PyPI) fuzzes every operation in `/openapi.json` with the operator's key:
//! no request may get a 5xx, and every response must match the documented status codes,
//! content types and schemas.

use crate::people_passkey::passkey_server;

/// The paths that answer 503 by design on an unconfigured server.
const PATHS_503: &str = "^/v1/(start|auth/oauth/|integrations/|agents/[^/]+/((integrations|connections)/|aws-credentials$))";

#[tokio::test]
async fn schemathesis_finds_no_server_error_or_undocumented_response() {
    // On a host name, not an IP address, so that the passkey doors are on and fuzzed too.
    let server = passkey_server().await;
    let checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";
    // Provisioning is off on this server, and `/v1/start*` then answers 503
    // `provisioning_not_configured` by design; so do the OAuth doors and the connection
    // (token vault) routes (`<provider>_oauth_not_configured`): no provider is configured, and
    // AWS credentials (`aws_not_configured`): no STS endpoint. All are documented, so
    // still checked for conformance.
    let runs = [
        ("--exclude-path-regex", checks),
        (
            "--include-path-regex",
            &checks["not_a_server_error,".len()..],
        ),
    ];
    for (select, checks) in runs {
        let output = tokio::process::Command::new("st")
            .arg("run")
            .arg(server.url("/openapi.json"))
            .args(["--header", &format!("X-API-Key: {}", server.operator_key)])
            .args([select, PATHS_503])
            .args(["--checks", checks])
            // A fixed seed keeps CI repeatable; run `st` by hand with other seeds to explore. One
            // worker: CPython 3.11 can crash parsing in several threads (python/cpython#106905).
            .args([
                "--max-examples",
                "15",
                "--seed",
                "20261123",
                "--workers",
                "1",
            ])
            .env("SCHEMATHESIS_TELEMETRY", "false")
            .output()
            .await
            .expect("running schemathesis (`st`; scripts/install-peers installs it)");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "schemathesis found failures ({select} {PATHS_503}):\n{report}"
        );
    }
}
