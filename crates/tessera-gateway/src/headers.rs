//! Header hygiene between the client and the upstream (RFC 9110 §7.6): hop-by-hop headers end
//! at the gateway; headers that claim an identity, and the credentials themselves, never pass
//! from the client; the identity Tessera verified is injected in their place; the forwarding
//! headers say who the client was.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

pub static X_TENANT_ID: HeaderName = HeaderName::from_static("x-tenant-id");
pub static X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
pub static X_AGENT_ID: HeaderName = HeaderName::from_static("x-agent-id");
pub static X_SCOPES: HeaderName = HeaderName::from_static("x-scopes");
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
pub static X_ENTITY: HeaderName = HeaderName::from_static("x-entity");
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static DPOP: HeaderName = HeaderName::from_static("dpop");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Cookies whose name starts with this are Tessera's own (sessions) and stay at the gateway.
const OWN_COOKIE_PREFIX: &str = "tessera_";

/// The headers that describe one connection, not the message (RFC 9110 §7.6.1), besides those
/// the `Connection` header names.
fn hop_by_hop() -> [&'static HeaderName; 9] {
    [
        &header::CONNECTION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::PROXY_AUTHENTICATE,
        &header::PROXY_AUTHORIZATION,
        &header::TE,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
    ]
}

/// Removes the hop-by-hop headers, including every header the `Connection` header lists.
/// For an upgrade (WebSocket), `Connection: upgrade` and `Upgrade` are put back: the upgrade
/// is negotiated end to end through the gateway.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let upgrade = keep_upgrade
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten();
    // Most requests name nothing in `Connection`: no list to build then.
    if headers.contains_key(header::CONNECTION) {
        let listed: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in &listed {
            headers.remove(name);
        }
    }
    for name in hop_by_hop() {
        headers.remove(name);
    }
    if let Some(upgrade) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, upgrade);
    }
}

/// Whether a request asks to switch protocols (`Connection: upgrade` with an `Upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Who Tessera verified the caller to be: what the upstream may trust.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    pub tenant_id: String,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    /// Space-separated, as in OAuth.
    pub scopes: String,
}

/// The client side of the exchange, for the forwarding headers.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub ip: IpAddr,
    /// `http` or `https`, as the client reached Tessera.
    pub proto: &'a str,
    /// Whether to extend the forwarding headers the client sent (Tessera runs behind a proxy
    /// the operator trusts) instead of replacing them.
    pub trust_forwarded: bool,
}

/// Makes client headers fit to forward: hop-by-hop headers, the identity headers and the
/// credentials removed; Tessera's own cookies dropped; the verified identity (if any), the
/// request id and the forwarding headers set.
pub fn prepare_request(
    headers: &mut HeaderMap,
    identity: Option<&VerifiedIdentity>,
    request_id: &str,
    client: Client<'_>,
) {
    let upgrade = is_upgrade(headers);
    strip_hop_by_hop(headers, upgrade);
    for name in [
        &X_TENANT_ID,
        &X_USER_ID,
        &X_AGENT_ID,
        &X_SCOPES,
        &X_REQUEST_ID,
        &X_API_KEY,
        &X_ENTITY,
        &header::AUTHORIZATION,
        &DPOP,
    ] {
        headers.remove(name);
    }
    drop_own_cookies(headers);
    if let Some(identity) = identity {
        insert_text(headers, &X_TENANT_ID, &identity.tenant_id);
        if let Some(user) = &identity.user_id {
            insert_text(headers, &X_USER_ID, user);
        }
        if let Some(agent) = &identity.agent_id {
            insert_text(headers, &X_AGENT_ID, agent);
        }
        insert_text(headers, &X_SCOPES, &identity.scopes);
    }
    insert_text(headers, &X_REQUEST_ID, request_id);
    set_forwarding(headers, client);
}

/// Makes upstream response headers fit to return: hop-by-hop headers removed (kept for a
/// `101 Switching Protocols`, which needs them).
pub fn prepare_response(headers: &mut HeaderMap, switching_protocols: bool) {
    strip_hop_by_hop(headers, switching_protocols);
}

fn drop_own_cookies(headers: &mut HeaderMap) {
    if !headers.contains_key(header::COOKIE) {
        return;
    }
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && !pair.starts_with(OWN_COOKIE_PREFIX))
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        insert_text(headers, &header::COOKIE, &kept.join("; "));
    }
}

fn set_forwarding(headers: &mut HeaderMap, client: Client<'_>) {
    let ip = client.ip.to_string();
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let earlier_hops = client
        .trust_forwarded
        .then(|| {
            headers
                .get_all(&X_FORWARDED_FOR)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|hops| !hops.is_empty());
    let earlier_forwarded = client
        .trust_forwarded
        .then(|| {
            headers
                .get_all(header::FORWARDED)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|elements| !elements.is_empty());
    let for_node = match client.ip {
        IpAddr::V4(_) => ip.clone(),
        IpAddr::V6(_) => format!("\"[{ip}]\""),
    };
    let mut element = format!("for={for_node};proto={}", client.proto);
    if let Some(host) = host.as_deref().filter(|h| h.bytes().all(is_token_or_colon)) {
        element.push_str(";host=");
        element.push_str(host);
    }
    let forwarded_for = match earlier_hops {
        Some(hops) => format!("{hops}, {ip}"),
        None => ip,
    };
    let forwarded = match earlier_forwarded {
        Some(elements) => format!("{elements}, {element}"),
        None => element,
    };
    insert_text(headers, &X_FORWARDED_FOR, &forwarded_for);
    insert_text(headers, &header::FORWARDED, &forwarded);
    insert_text(headers, &X_FORWARDED_PROTO, client.proto);
    match host {
        Some(host) if !client.trust_forwarded || !headers.contains_key(&X_FORWARDED_HOST) => {
            insert_text(headers, &X_FORWARDED_HOST, &host);
        }
        _ => {}
    }
}

/// A host that can stand in a `Forwarded` element unquoted (RFC 7239 token characters).
fn is_token_or_colon(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:".contains(&byte)
}

fn insert_text(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    // Values come from verified identifiers or from other header values: never invalid; a
    // value that somehow is gets dropped rather than forwarded malformed.
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name.clone(), value);
    }
}

#[cfg(test)]
mod tests;
