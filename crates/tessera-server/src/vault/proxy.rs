//! The provider-call proxy: a tool names a path under the provider's API, Tessera sends it
//! with the agent's token and, on a 401, refreshes once and tries again. Only URLs under the
//! provider's declared API bases are reachable: the target is resolved and normalized first
//! (dot segments removed), then it must still sit under a base; percent-encoded dots,
//! slashes and backslashes, which a server could decode into a way out, are refused.

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tessera_core::agent::Agent;
use tessera_federation::connect::Connector;
use tessera_proto::connections as wire;
use url::Url;

use crate::error::ApiError;
use crate::state::AppState;

/// Responses larger than this are refused (the proxy buffers them to answer JSON).
const MAX_RESPONSE: usize = 1024 * 1024;

/// Headers a tool may not set: the proxy owns credentials and framing.
const RESERVED: [&str; 9] = [
    "authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "proxy-authorization",
    "upgrade",
    "te",
];

/// The URL `path` (and `query`) names under one of the connector's API bases.
pub fn target(connector: &Connector, request: &wire::ProxyRequest) -> Result<Url, ApiError> {
    let refused = |why: &str| ApiError::invalid(format!("path: {why}"));
    let path = &request.path;
    let lowered = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "\\", "#", "?"]
        .iter()
        .any(|bad| lowered.contains(bad))
    {
        return Err(refused(
            "encoded dots or slashes, backslashes, `?` and `#` are not allowed (use `query`)",
        ));
    }
    let bases = connector.api_base_urls();
    let first = bases
        .first()
        .ok_or_else(|| refused("this provider declares no API base URL"))?;
    let mut url = if lowered.starts_with("http://") || lowered.starts_with("https://") {
        Url::parse(path).map_err(|e| refused(&e.to_string()))?
    } else if path.starts_with("//") {
        return Err(refused("a path starting with `//` names another host"));
    } else {
        first
            .join(path.trim_start_matches('/'))
            .map_err(|e| refused(&e.to_string()))?
    };
    let inside = bases.iter().any(|base| {
        base.origin() == url.origin()
            && url.path().starts_with(base.path())
            && url.username().is_empty()
            && url.password().is_none()
    });
    if !inside {
        return Err(refused("outside the provider's API base URLs"));
    }
    if let Some(query) = &request.query {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in query {
            pairs.append_pair(name, value);
        }
    }
    Ok(url)
}

pub fn method(request: &wire::ProxyRequest) -> Result<Method, ApiError> {
    match request.method.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "PATCH" => Ok(Method::PATCH),
        "DELETE" => Ok(Method::DELETE),
        other => Err(ApiError::invalid(format!(
            "method: `{other}` is not one of GET, POST, PUT, PATCH, DELETE"
        ))),
    }
}

pub fn headers(request: &wire::ProxyRequest) -> Result<HeaderMap, ApiError> {
    let mut map = HeaderMap::new();
    for (name, value) in request.headers.iter().flatten() {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiError::invalid(format!("headers: `{name}` is not a header name")))?;
        if RESERVED.contains(&header.as_str()) {
            return Err(ApiError::invalid(format!(
                "headers: `{name}` is set by the proxy"
            )));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| ApiError::invalid(format!("headers: the value of `{name}`")))?;
        map.insert(header, value);
    }
    Ok(map)
}

impl AppState {
    /// Sends the call with the agent's token; on a 401, refreshes once and sends it again.
    pub async fn proxy_call(
        &self,
        agent: &Agent,
        provider: &str,
        request: &wire::ProxyRequest,
    ) -> Result<(wire::ProxyResponse, super::refresh::Fresh, bool), ApiError> {
        let connector = self.vault.connector(provider).await?;
        let url = target(&connector, request)?;
        let method = method(request)?;
        let headers = headers(request)?;
        let fresh = self.fresh_token(agent, provider, None).await?;
        let mut refreshed = fresh.refreshed;
        let send = |token: &tessera_federation::Secret| {
            let mut call = self
                .vault
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone())
                .bearer_auth(token.expose());
            if let Some(body) = &request.body {
                call = call.json(body);
            }
            call.send()
        };
        let unreachable = |e: reqwest::Error| {
            ApiError::new(
                tessera_proto::ErrorCode::UpstreamUnavailable,
                format!("the provider's API: {e}"),
            )
        };
        let mut response = send(&fresh.access_token).await.map_err(unreachable)?;
        let mut used = fresh;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            let renewed = self
                .fresh_token(agent, provider, Some(&used.access_token))
                .await?;
            refreshed = refreshed || renewed.refreshed;
            response = send(&renewed.access_token).await.map_err(unreachable)?;
            used = renewed;
        }
        Ok((read(response).await?, used, refreshed))
    }
}

async fn read(mut response: reqwest::Response) -> Result<wire::ProxyResponse, ApiError> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let too_large = || {
        ApiError::new(
            tessera_proto::ErrorCode::UpstreamUnavailable,
            format!("the provider's answer is larger than {MAX_RESPONSE} bytes"),
        )
    };
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        ApiError::new(
            tessera_proto::ErrorCode::UpstreamUnavailable,
            format!("reading the provider's answer: {e}"),
        )
    })? {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let body = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    Ok(wire::ProxyResponse {
        status,
        content_type,
        body,
    })
}
