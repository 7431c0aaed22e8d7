//! Reading token-endpoint answers for connections, each provider's quirks included: Slack's
//! user token nested under `authed_user` (and its `ok: false` errors with HTTP 200), Notion's
//! workspace owner, GitHub's comma-separated scopes and optional expiry, and the account named
//! by an OpenID provider's ID token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::ConnectError;
use super::config::ConnectorKind;
use crate::config::Secret;
use crate::http;

/// What a token endpoint granted. Tokens never print.
#[derive(Debug, Clone)]
pub struct Granted {
    pub access_token: Secret,
    /// None when the provider issues none, or kept the old one on a refresh.
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<u64>,
    pub scopes: Vec<String>,
    /// The connected account (email, login, user id) when the answer says.
    pub account: Option<String>,
}

fn text(value: &Value, field: &str) -> Option<String> {
    value[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn seconds(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The `email` (else `sub`) of an ID token received straight from the token endpoint: OpenID
/// Connect Core §3.1.3.7 lets TLS stand in for the signature there, and it only labels the
/// connection for people (nobody signs in with it).
fn id_token_account(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    text(&claims, "email").or_else(|| text(&claims, "sub"))
}

pub(crate) fn parse(
    kind: ConnectorKind,
    status: u16,
    body: &[u8],
) -> Result<Granted, ConnectError> {
    let refused = |error: Option<String>| ConnectError::Refused { error, status };
    let value: Value = match http::parse_json(body) {
        Ok(value) => value,
        Err(_) if !(200..300).contains(&status) => return Err(refused(None)),
        Err(why) => return Err(ConnectError::Invalid(why)),
    };
    let slack_failed = kind == ConnectorKind::Slack && value["ok"] == Value::Bool(false);
    if !(200..300).contains(&status)
        || value.get("error").is_some_and(|e| !e.is_null())
        || slack_failed
    {
        return Err(match text(&value, "error").as_deref() {
            Some("invalid_grant" | "invalid_refresh_token" | "token_revoked") => {
                ConnectError::InvalidGrant
            }
            other => refused(other.map(str::to_owned)),
        });
    }
    // Slack: a user token (asked with `user_scope`) is under `authed_user`; a bot token at the top.
    let tokens = match value.get("authed_user") {
        Some(user) if kind == ConnectorKind::Slack && user.get("access_token").is_some() => user,
        _ => &value,
    };
    let access_token = text(tokens, "access_token")
        .ok_or_else(|| ConnectError::Invalid("no access_token".into()))?;
    if let Some(token_type) = text(tokens, "token_type")
        && !token_type.eq_ignore_ascii_case("bearer")
        // Slack names its user tokens `user` and bot tokens `bot`.
        && kind != ConnectorKind::Slack
    {
        return Err(ConnectError::Invalid(format!(
            "token_type {token_type:?} is not Bearer"
        )));
    }
    let scopes = text(tokens, "scope")
        .map(|s| {
            // GitHub and Slack separate scopes with commas, RFC 6749 with spaces.
            s.split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let account = match kind {
        ConnectorKind::Slack => text(tokens, "id"),
        ConnectorKind::Notion => value["owner"]["user"]["person"]["email"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| text(&value, "workspace_name")),
        _ => text(&value, "id_token").and_then(|t| id_token_account(&t)),
    };
    Ok(Granted {
        access_token: Secret::new(access_token),
        refresh_token: text(tokens, "refresh_token").map(Secret::new),
        expires_in: seconds(&tokens["expires_in"]),
        scopes,
        account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(kind: ConnectorKind, body: Value) -> Granted {
        parse(kind, 200, body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn slack_user_tokens_are_nested() {
        let granted = ok(
            ConnectorKind::Slack,
            serde_json::json!({"ok": true, "access_token": "xoxb-bot", "token_type": "bot",
                "authed_user": {"id": "U1", "access_token": "xoxp-user", "scope": "a,b",
                    "token_type": "user", "refresh_token": "xoxe-1", "expires_in": 43200}}),
        );
        assert_eq!(granted.access_token.expose(), "xoxp-user");
        assert_eq!(granted.refresh_token.unwrap().expose(), "xoxe-1");
        assert_eq!(granted.scopes, ["a", "b"]);
        assert_eq!(granted.account.as_deref(), Some("U1"));
        assert_eq!(granted.expires_in, Some(43200));
        let failed = parse(
            ConnectorKind::Slack,
            200,
            br#"{"ok": false, "error": "invalid_refresh_token"}"#,
        );
        assert!(matches!(failed, Err(ConnectError::InvalidGrant)));
    }

    #[test]
    fn notion_names_the_workspace_owner_and_github_may_not_expire() {
        let notion = ok(
            ConnectorKind::Notion,
            serde_json::json!({"access_token": "ntn", "token_type": "bearer",
                "workspace_name": "Acme", "owner": {"user": {"person": {"email": "a@b.c"}}}}),
        );
        assert_eq!(notion.account.as_deref(), Some("a@b.c"));
        assert_eq!(notion.expires_in, None);
        let github = ok(
            ConnectorKind::Github,
            serde_json::json!({"access_token": "gho", "token_type": "bearer", "scope": "repo,user"}),
        );
        assert_eq!(github.scopes, ["repo", "user"]);
        assert!(github.refresh_token.is_none());
    }

    #[test]
    fn errors_are_told_apart_without_echoing_the_body() {
        let revoked = parse(ConnectorKind::Oidc, 400, br#"{"error": "invalid_grant"}"#);
        assert!(matches!(revoked, Err(ConnectError::InvalidGrant)));
        let other = parse(
            ConnectorKind::Oauth2,
            401,
            br#"{"error": "invalid_client"}"#,
        );
        assert!(
            matches!(other, Err(ConnectError::Refused { error: Some(e), status: 401 }) if e == "invalid_client")
        );
        let garbage = parse(ConnectorKind::Oauth2, 200, b"access_token=secret");
        assert!(matches!(garbage, Err(ConnectError::Invalid(why)) if !why.contains("secret")));
    }

    #[test]
    fn an_id_token_names_the_account() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"s1","email":"x@y.z"}"#);
        let granted = ok(
            ConnectorKind::Google,
            serde_json::json!({"access_token": "ya29", "token_type": "Bearer",
                "id_token": format!("h.{payload}.s"), "expires_in": 3599}),
        );
        assert_eq!(granted.account.as_deref(), Some("x@y.z"));
    }
}
