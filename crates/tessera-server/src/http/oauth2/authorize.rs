//! `GET /oauth2/authorize` (RFC 6749 §4.1, PKCE per RFC 7636, OpenID Connect Core §3.1) and
//! `POST /oauth2/consent`, the answer of the consent screen.
//!
//! Until the client and its redirect URI are verified (exact match against the registration),
//! errors are answered here as JSON and never redirected (§4.1.2.1); after that they go back to
//! the client with `error`, `state` and `iss` (RFC 9207). A browser without a session is sent to
//! the console's sign-in page, which brings it back; so is one whose person must authenticate
//! again (`prompt=login`, or a sign-in older than `max_age`). Consent is asked once per client,
//! scopes and resource (RFC 8707: a request may name several, each remembered on its own): the
//! request waits server-side as a one-time challenge bound to the session, and the screen's
//! form carries only its random handle — unguessable to another site, so it doubles as the
//! CSRF token, beside the same-origin check every console form gets.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::authz::{AppGrant, EMAIL, Grant, OAuthClient, OFFLINE_ACCESS, OPENID, PROFILE};
use tessera_core::people::{Challenge, ChallengeKind};
use tessera_core::tenant::TenantStatus;
use tessera_core::{GrantId, OAuthClientId, Scopes, UserId};
use tessera_crypto::oidc::is_pkce_value;
use tessera_crypto::{GeneratedSecret, SecretKind, sha256};
use tessera_proto::{OAuthErrorBody, OAuthErrorCode};
use time::Duration;
use url::Url;

use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::http::console::{browser_session, page_posting_to, same_origin};
use crate::people::redirect::found;
use crate::people::sessions::actor;
use crate::people::signed_in::SignedIn;
use crate::state::AppState;

/// How long a code may wait to be redeemed.
const CODE_TTL: Duration = Duration::seconds(60);
/// How long the consent screen's request stays answerable.
const CONSENT_TTL: Duration = Duration::minutes(10);
const MAX_STATE_LEN: usize = 2048;
const MAX_NONCE_LEN: usize = 512;

/// An authorization request whose client and redirect URI are verified and whose parameters
/// are checked: what a code is issued for, and what waits for consent.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    client_id: OAuthClientId,
    redirect_uri: String,
    scope: Scopes,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    /// The resources (RFC 8707) the tokens are for, in the request's order; empty: Tessera's
    /// default audience.
    #[serde(default)]
    resources: Vec<String>,
    /// The DPoP key (RFC 9449 §10) the code is bound to: its redemption needs a proof by it.
    #[serde(default)]
    dpop_jkt: Option<String>,
}

/// Where the answer goes once the redirect URI is verified.
struct Back<'a> {
    state: &'a AppState,
    redirect_uri: Url,
    client_state: Option<String>,
}

impl Back<'_> {
    fn answer(self, pairs: &[(&str, &str)]) -> Response {
        let mut url = self.redirect_uri;
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in pairs {
                query.append_pair(name, value);
            }
            if let Some(client_state) = &self.client_state {
                query.append_pair("state", client_state);
            }
            query.append_pair("iss", &self.state.issuer);
        }
        found(HeaderMap::new(), &url)
    }

    fn error(self, code: OAuthErrorCode, description: &str) -> Response {
        self.answer(&[("error", code.code()), ("error_description", description)])
    }

    fn refuse(self, error: &OAuthError) -> Response {
        self.error(error.code(), error.description())
    }
}

/// Start an authorization (authorization code with PKCE; OpenID Connect).
#[utoipa::path(get, path = "/oauth2/authorize", tag = "oauth2",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query),
        ("redirect_uri" = String, Query, description = "One of the client's registered redirect URIs, exactly"),
        ("scope" = Option<String>, Query, description = "Space-separated; default: the client's scopes"),
        ("state" = Option<String>, Query, description = "Returned unchanged with the code"),
        ("nonce" = Option<String>, Query, description = "Returned in the ID token"),
        ("code_challenge" = Option<String>, Query, description = "PKCE; required for public clients"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256`"),
        ("prompt" = Option<String>, Query, description = "`none` (fail instead of asking), or `login` (sign in again, even with a session) and/or `consent` (ask again)"),
        ("max_age" = Option<u32>, Query, description = "Seconds: a person who signed in longer ago signs in again (`login_required` with `prompt=none`)"),
        ("resource" = Option<Vec<String>>, Query, description = "RFC 8707, repeatable: the resources the tokens are for (Tessera's API or gateway routes' resources); each token request picks one as the token's `aud` (the first by default)"),
        ("dpop_jkt" = Option<String>, Query, description = "RFC 9449 §10: the thumbprint of the DPoP key the code is bound to; the token request must carry a proof by that key"),
    ),
    responses(
        (status = 200, description = "the consent screen", content_type = "text/html"),
        (status = 302, description = "to the redirect URI with `code` or `error`, or to the sign-in page"),
        (status = 400, body = OAuthErrorBody, description = "the client or redirect URI is not verified; nothing is redirected"),
    ))]
pub(super) async fn authorize(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (params, resources) = match parameters(query.as_deref().unwrap_or("")) {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };
    let client = match verified_client(&state, &params).await {
        Ok(client) => client,
        Err(error) => return error.into_response(),
    };
    let back = Back {
        state: &state,
        redirect_uri: match Url::parse(params.get("redirect_uri").map_or("", String::as_str)) {
            Ok(url) => url,
            Err(_) => {
                return OAuthError::invalid_request("redirect_uri is not a URI").into_response();
            }
        },
        client_state: params.get("state").cloned(),
    };
    let request = match checked(&state, &client, &params, &resources).await {
        Ok(request) => request,
        Err(error) => return back.refuse(&error),
    };
    let (prompt, max_age) = match (Prompt::parse(&params), max_age(&params)) {
        (Ok(prompt), Ok(max_age)) => (prompt, max_age),
        (Err(error), _) | (_, Err(error)) => return back.refuse(&error),
    };
    let Some(me) = browser_session(&state, &ctx, &headers).await else {
        if prompt.none {
            return back.error(OAuthErrorCode::LoginRequired, "nobody is signed in");
        }
        // `resume`: the page first tries the refresh cookie, as `/console` does, so a person
        // whose 15-minute access cookie is gone is not asked to sign in again.
        return to_login(&state, query.as_deref().unwrap_or(""), true);
    };
    if prompt.login || max_age.is_some() {
        // The session began when the person authenticated: its start is the `auth_time`.
        let auth_time = match state.store.session(me.session_id).await {
            Ok(Some(session)) => session.created_at,
            Ok(None) => return back.error(OAuthErrorCode::LoginRequired, "the session has ended"),
            Err(error) => return back.refuse(&OAuthError::from(error)),
        };
        let too_old = max_age.is_some_and(|max| state.clock.now() - auth_time > max);
        if prompt.login || too_old {
            if prompt.none {
                return back.error(
                    OAuthErrorCode::LoginRequired,
                    "the person signed in longer ago than max_age allows",
                );
            }
            return to_login(&state, &reauthenticated(&params, &resources), false);
        }
    }
    let remembered = match consented_before(&state, &request, me.user_id).await {
        Ok(remembered) => remembered,
        Err(error) => return error.into_response(),
    };
    if !prompt.consent && remembered {
        return issue_code(&state, &ctx, &client, request, me, back).await;
    }
    if prompt.none {
        return back.error(
            OAuthErrorCode::ConsentRequired,
            "the person has not consented to this client and scope",
        );
    }
    ask_consent(&state, &client, request, me, &back.redirect_uri)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Whether the person has consented to this client and scopes for every resource the request
/// names (Tessera's API when it names none): consent to one resource never covers another.
async fn consented_before(
    state: &AppState,
    request: &Request,
    user: UserId,
) -> Result<bool, OAuthError> {
    for resource in consent_resources(state, request) {
        let consented = state
            .store
            .consent(request.client_id, user, resource)
            .await?;
        if !consented.is_some_and(|c| request.scope.is_subset(&c)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The resources consent to the request is remembered under (None: Tessera's API).
fn consent_resources<'a>(state: &AppState, request: &'a Request) -> Vec<Option<&'a str>> {
    if request.resources.is_empty() {
        return vec![None];
    }
    request
        .resources
        .iter()
        .map(|r| state.consent_resource(r))
        .collect()
}

/// OpenID Connect Core §3.1.2.1 `prompt`: space-separated, `none` alone or any of `login`
/// (authenticate again, even with a session) and `consent` (ask again).
#[derive(Debug, Default)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

impl Prompt {
    fn parse(params: &HashMap<String, String>) -> Result<Self, OAuthError> {
        let mut prompt = Self::default();
        for value in params.get("prompt").map_or("", String::as_str).split(' ') {
            match value {
                "" => {}
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                _ => {
                    return Err(OAuthError::invalid_request(
                        "prompt: Tessera supports `none`, `login` and `consent`",
                    ));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(OAuthError::invalid_request(
                "prompt: `none` cannot be combined with other values",
            ));
        }
        Ok(prompt)
    }
}

/// OpenID Connect Core §3.1.2.1 `max_age`: the most seconds since the person authenticated.
fn max_age(params: &HashMap<String, String>) -> Result<Option<Duration>, OAuthError> {
    params
        .get("max_age")
        .map(|raw| {
            raw.parse::<u32>()
                .map(|secs| Duration::seconds(i64::from(secs)))
                .map_err(|_| OAuthError::invalid_request("max_age: a number of seconds"))
        })
        .transpose()
}

/// Sends the browser to the sign-in page, which brings it back to the authorization request
/// `query`; `resume` lets the page resume the session with the refresh cookie first.
fn to_login(state: &AppState, query: &str, resume: bool) -> Response {
    let here = format!("/oauth2/authorize?{query}");
    let mut login = url::form_urlencoded::Serializer::new(String::new());
    login.append_pair("return_to", &here);
    if resume {
        login.append_pair("resume", "");
    }
    let login = format!("/console/login?{}", login.finish());
    match Url::parse(&state.issuer).and_then(|base| base.join(&login)) {
        Ok(to) => found(HeaderMap::new(), &to),
        Err(error) => internal(error).into_response(),
    }
}

/// The request to come back to once the person has signed in again: without `login` in
/// `prompt` and without `max_age`, both now satisfied (else `max_age=0` would send the person
/// round forever). The ID token's `auth_time` tells the client when that sign-in was.
fn reauthenticated(params: &HashMap<String, String>, resources: &[String]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for resource in resources {
        query.append_pair("resource", resource);
    }
    for (name, value) in params {
        match name.as_str() {
            "max_age" => {}
            "prompt" => {
                let rest: Vec<&str> = value.split(' ').filter(|v| *v != "login").collect();
                if !rest.is_empty() {
                    query.append_pair(name, &rest.join(" "));
                }
            }
            _ => {
                query.append_pair(name, value);
            }
        }
    }
    query.finish()
}

/// The query's parameters, and its `resource`s: RFC 8707 §2 lets that one repeat; another sent
/// twice is an error (RFC 6749 §3.1). An empty one is absent.
fn parameters(query: &str) -> Result<(HashMap<String, String>, Vec<String>), OAuthError> {
    let mut params = HashMap::new();
    let mut resources = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name == "resource" {
            if !value.is_empty() {
                resources.push(value.into_owned());
            }
            continue;
        }
        if params.contains_key(name.as_ref()) {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{name}` is repeated"
            )));
        }
        if !value.is_empty() {
            params.insert(name.into_owned(), value.into_owned());
        }
    }
    Ok((params, resources))
}

/// The client named by `client_id`, if its registration holds `redirect_uri` exactly.
async fn verified_client(
    state: &AppState,
    params: &HashMap<String, String>,
) -> Result<OAuthClient, OAuthError> {
    let raw = params
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_request("parameter `client_id` is required"))?;
    let unknown = || OAuthError::invalid_request("client_id names no registered client");
    let id: OAuthClientId = raw.parse().map_err(|_| unknown())?;
    let client = state
        .store
        .oauth_client_by_id(id)
        .await?
        .ok_or_else(unknown)?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("parameter `redirect_uri` is required"))?;
    if !client.redirect_uris.contains(redirect_uri) {
        return Err(OAuthError::invalid_request(
            "redirect_uri is not one of the client's registered redirect URIs",
        ));
    }
    Ok(client)
}

/// The rest of the request, checked once the answer can go back to the client.
async fn checked(
    state: &AppState,
    client: &OAuthClient,
    params: &HashMap<String, String>,
    resources: &[String],
) -> Result<Request, OAuthError> {
    let param = |name: &str| params.get(name).map(String::as_str);
    if state.tenant_status(client.tenant_id).await? != Some(TenantStatus::Active) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the client's tenant is suspended",
        ));
    }
    match param("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                "response_type must be `code`",
            ));
        }
        None => {
            return Err(OAuthError::invalid_request(
                "parameter `response_type` is required",
            ));
        }
    }
    let scope = client.grantable(match param("scope") {
        None => client.scopes.clone(),
        Some(text) => Scopes::parse(text)
            .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))?,
    });
    if scope.is_empty() || !scope.is_subset(&client.scopes) {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            "the requested scope exceeds what the client may ask for",
        ));
    }
    let code_challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (Some(challenge), Some("S256")) if is_pkce_value(challenge) => Some(challenge.to_owned()),
        (Some(_), Some("S256")) => {
            return Err(OAuthError::invalid_request(
                "code_challenge must be 43 to 128 characters of base64url",
            ));
        }
        // `plain` (the default method) gives no protection against a stolen request.
        (Some(_), _) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be `S256`",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) if client.is_public() => {
            return Err(OAuthError::invalid_request(
                "public clients must use PKCE: send code_challenge with code_challenge_method=S256",
            ));
        }
        (None, None) => None,
    };
    if param("state").is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(OAuthError::invalid_request(format!(
            "state: at most {MAX_STATE_LEN} characters"
        )));
    }
    if param("nonce").is_some_and(|n| n.len() > MAX_NONCE_LEN) {
        return Err(OAuthError::invalid_request(format!(
            "nonce: at most {MAX_NONCE_LEN} characters"
        )));
    }
    if !client.allows(AppGrant::AuthorizationCode) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the client did not register the authorization_code grant",
        ));
    }
    let mut known = Vec::with_capacity(resources.len());
    for resource in resources {
        if let Some(aud) = state.requested_audience(Some(resource))?
            && !known.contains(&aud)
        {
            known.push(aud);
        }
    }
    let dpop_jkt = match param("dpop_jkt") {
        Some(jkt) if crate::dpop::is_thumbprint(jkt) => Some(jkt.to_owned()),
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "dpop_jkt must be a JWK SHA-256 thumbprint (43 characters of base64url)",
            ));
        }
        None => None,
    };
    Ok(Request {
        dpop_jkt,
        resources: known,
        client_id: client.id,
        redirect_uri: param("redirect_uri").unwrap_or_default().to_owned(),
        scope,
        state: param("state").map(str::to_owned),
        nonce: param("nonce").map(str::to_owned),
        code_challenge,
    })
}

/// Records the grant with its single-use code and sends the code to the client.
async fn issue_code(
    state: &AppState,
    ctx: &RequestContext,
    client: &OAuthClient,
    request: Request,
    me: SignedIn,
    back: Back<'_>,
) -> Response {
    let auth_time = match state.store.session(me.session_id).await {
        Ok(Some(session)) => session.created_at,
        Ok(None) => return back.error(OAuthErrorCode::LoginRequired, "the session has ended"),
        Err(error) => return back.refuse(&OAuthError::from(error)),
    };
    let now = state.clock.now();
    let code = GeneratedSecret::new(SecretKind::AuthorizationCode);
    let grant = Grant {
        id: GrantId::generate(),
        tenant_id: client.tenant_id,
        client_id: client.id,
        user_id: me.user_id,
        scope: request.scope,
        auth_time,
        code_hash: code.hash,
        redirect_uri: request.redirect_uri,
        code_challenge: request.code_challenge,
        nonce: request.nonce,
        code_expires_at: now + CODE_TTL,
        code_used_at: None,
        created_at: now,
        revoked_at: None,
        resources: request.resources,
        dpop_jkt: request.dpop_jkt,
    };
    if let Err(error) = state.store.create_grant(&grant).await {
        return back.refuse(&OAuthError::from(error));
    }
    let fact = Fact::success(
        Some(client.tenant_id),
        actor(me.user_id),
        "authorization.grant",
        grant.id,
    );
    state.audit(ctx, fact).await;
    back.answer(&[("code", code.secret.expose())])
}

/// The consent screen, shared with the device flow's (`/console/device`).
#[derive(Template)]
#[template(path = "console/consent.html")]
pub(crate) struct ConsentPage {
    pub client_name: String,
    pub tenant_name: String,
    pub scopes: Vec<ScopeLine>,
    /// The resources (RFC 8707) the access is for; empty: Tessera's API.
    pub resources: Vec<String>,
    /// The form's handle: where the answer's request waits.
    pub request: String,
    /// Where the form posts.
    pub action: &'static str,
}

pub(crate) struct ScopeLine {
    scope: String,
    meaning: &'static str,
}

impl ScopeLine {
    pub(crate) fn all(scope: &Scopes) -> Vec<Self> {
        scope
            .iter()
            .map(|scope| Self {
                scope: scope.to_owned(),
                meaning: meaning(scope),
            })
            .collect()
    }
}

fn meaning(scope: &str) -> &'static str {
    match scope {
        OPENID => "know who you are (your Tessera user id)",
        PROFILE => "see your name",
        EMAIL => "see your email address",
        OFFLINE_ACCESS => "keep this access while you are away",
        _ => "a permission the application defines",
    }
}

/// Keeps the request as a challenge bound to the session and shows the consent screen.
async fn ask_consent(
    state: &AppState,
    client: &OAuthClient,
    request: Request,
    me: SignedIn,
    redirect_uri: &Url,
) -> Result<Response, OAuthError> {
    let tenant_name = state
        .store
        .tenant(client.tenant_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let scopes = ScopeLine::all(&request.scope);
    let handle = GeneratedSecret::new(SecretKind::ConsentRequest);
    let now = state.clock.now();
    let payload = serde_json::to_string(&request).map_err(internal)?;
    state
        .store
        .insert_challenge(&Challenge {
            key: handle.hash,
            kind: ChallengeKind::AuthorizationRequest,
            subject: me.session_id.to_string(),
            payload,
            failures: 0,
            expires_at: now + CONSENT_TTL,
            created_at: now,
        })
        .await?;
    let page = ConsentPage {
        client_name: client.name.clone(),
        tenant_name,
        scopes,
        resources: request.resources.clone(),
        request: handle.secret.expose().to_owned(),
        action: "/oauth2/consent",
    };
    Ok(page_posting_to(&page, redirect_uri))
}

/// The consent screen's answer: allow (remember it, issue the code) or deny (`access_denied`).
pub(super) async fn consent(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !same_origin(&headers, &state.issuer) {
        return (StatusCode::FORBIDDEN, "cross-origin form refused").into_response();
    }
    let Some(me) = browser_session(&state, &ctx, &headers).await else {
        return OAuthError::new(
            OAuthErrorCode::LoginRequired,
            "sign in again and start over",
        )
        .into_response();
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let (Some(handle), Some(decision)) = (form.get("request"), form.get("decision")) else {
        return OAuthError::invalid_request("send `request` and `decision` as a form")
            .into_response();
    };
    let expired =
        || OAuthError::invalid_request("the consent request is unknown or expired; start again");
    let taken = state
        .store
        .take_challenge(
            ChallengeKind::AuthorizationRequest,
            &sha256(handle.as_bytes()),
            state.clock.now(),
        )
        .await;
    let challenge = match taken {
        Ok(Some(challenge)) if challenge.subject == me.session_id.to_string() => challenge,
        Ok(_) => return expired().into_response(),
        Err(error) => return OAuthError::from(error).into_response(),
    };
    let Ok(request) = serde_json::from_str::<Request>(&challenge.payload) else {
        return expired().into_response();
    };
    // The client may have been deleted, or its redirect URIs changed, while the screen was up.
    let client = match state.store.oauth_client_by_id(request.client_id).await {
        Ok(Some(client)) if client.redirect_uris.contains(&request.redirect_uri) => client,
        Ok(_) => return expired().into_response(),
        Err(error) => return OAuthError::from(error).into_response(),
    };
    let Ok(redirect_uri) = Url::parse(&request.redirect_uri) else {
        return expired().into_response();
    };
    let back = Back {
        state: &state,
        redirect_uri,
        client_state: request.state.clone(),
    };
    match decision.as_str() {
        "allow" => {
            let now = state.clock.now();
            for resource in consent_resources(&state, &request) {
                if let Err(error) = state
                    .store
                    .save_consent(client.id, me.user_id, resource, &request.scope, now)
                    .await
                {
                    return back.refuse(&OAuthError::from(error));
                }
            }
            let fact = Fact::success(
                Some(client.tenant_id),
                actor(me.user_id),
                "authorization.consent",
                client.id,
            );
            state.audit(&ctx, fact).await;
            issue_code(&state, &ctx, &client, request, me, back).await
        }
        "deny" => back.error(OAuthErrorCode::AccessDenied, "the person declined"),
        _ => OAuthError::invalid_request("decision must be `allow` or `deny`").into_response(),
    }
}

/// A failure of Tessera itself: logged, and the client told only that Tessera failed.
fn internal(error: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %error, "authorization endpoint failed");
    OAuthError::new(
        OAuthErrorCode::ServerError,
        OAuthErrorCode::ServerError.description(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn prompt_none_stands_alone() {
        let parsed = Prompt::parse(&params(&[("prompt", "login consent")])).unwrap();
        assert!(parsed.login && parsed.consent && !parsed.none);
        assert!(Prompt::parse(&params(&[])).is_ok());
        for bad in ["none login", "consent none", "select_account"] {
            assert!(Prompt::parse(&params(&[("prompt", bad)])).is_err(), "{bad}");
        }
    }

    #[test]
    fn coming_back_from_sign_in_drops_login_and_max_age_only() {
        let resources = [
            "https://mcp.example/a".to_owned(),
            "https://mcp.example/b".to_owned(),
        ];
        let back = reauthenticated(
            &params(&[
                ("prompt", "login consent"),
                ("max_age", "0"),
                ("state", "a b&c"),
            ]),
            &resources,
        );
        let (pairs, kept) = parameters(&back).unwrap();
        assert_eq!(pairs, params(&[("prompt", "consent"), ("state", "a b&c")]));
        assert_eq!(kept, resources, "every resource comes back, in order");
        let back = reauthenticated(&params(&[("prompt", "login")]), &[]);
        assert_eq!(back, "");
    }
}
