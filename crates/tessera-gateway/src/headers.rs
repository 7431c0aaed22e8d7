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

/// Cookies whose name starts with this are Tessera's own (sessions) and stay at the gateway.
const OWN_COOKIE_PREFIX: &str = "tessera_";

/// A header that describes one connection, not the message (RFC 9110 §7.6.1), besides those
/// the `Connection` header names. Matched as text: names are lowercase, and one `match` looks
/// at a name once where comparing it with each of a list of names did so nine times.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// A header a client may not send on: the identity Tessera injects in its place, the request
/// id it sets, or a credential it checked.
fn is_claimed(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "x-tenant-id"
            | "x-user-id"
            | "x-agent-id"
            | "x-scopes"
            | "x-request-id"
            | "x-api-key"
            | "x-entity"
            | "authorization"
            | "dpop"
    )
}

/// Removes the hop-by-hop headers, including every header the `Connection` header lists, and
/// those `also` picks. For an upgrade (WebSocket), `Connection: upgrade` and `Upgrade` are put
/// back: the upgrade is negotiated end to end through the gateway.
///
/// Each header present is looked at once. Removing a fixed list of names instead hashed every
/// name on the list, most of them absent: about a third of the header work per request.
fn strip(headers: &mut HeaderMap, keep_upgrade: bool, also: impl Fn(&HeaderName) -> bool) {
    let upgrade = keep_upgrade
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten();
    // The names `Connection` lists, as sent (names are compared ignoring case). Most requests
    // list nothing: no list to build then.
    let listed: Vec<&str> = if headers.contains_key(header::CONNECTION) {
        headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect()
    } else {
        Vec::new()
    };
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            is_hop_by_hop(name)
                || also(name)
                || listed
                    .iter()
                    .any(|listed| listed.eq_ignore_ascii_case(name.as_str()))
        })
        .cloned()
        .collect();
    for name in &doomed {
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
pub struct Client {
    pub ip: IpAddr,
    /// `http` or `https`, as the client reached Tessera.
    pub proto: &'static str,
    /// Whether to extend the forwarding headers the client sent (Tessera runs behind a proxy
    /// the operator trusts) instead of replacing them.
    pub trust_forwarded: bool,
}

/// Makes client headers fit to forward: hop-by-hop headers, the identity headers and the
/// credentials removed; Tessera's own cookies dropped; the verified identity (if any), the
/// request id and the forwarding headers set.
pub fn prepare_request(
    headers: &mut HeaderMap,
    identity: Option<VerifiedIdentity>,
    request_id: &str,
    client: Client,
) {
    let upgrade = is_upgrade(headers);
    strip(headers, upgrade, is_claimed);
    drop_own_cookies(headers);
    // Room for what is added below, at once rather than by growing the map twice.
    headers.reserve(8);
    if let Some(identity) = identity {
        insert_text(headers, &X_TENANT_ID, identity.tenant_id);
        if let Some(user) = identity.user_id {
            insert_text(headers, &X_USER_ID, user);
        }
        if let Some(agent) = identity.agent_id {
            insert_text(headers, &X_AGENT_ID, agent);
        }
        insert_text(headers, &X_SCOPES, identity.scopes);
    }
    insert_text(headers, &X_REQUEST_ID, request_id);
    set_forwarding(headers, client);
}

/// Makes upstream response headers fit to return: hop-by-hop headers removed (kept for a
/// `101 Switching Protocols`, which needs them).
pub fn prepare_response(headers: &mut HeaderMap, switching_protocols: bool) {
    strip(headers, switching_protocols, |_| false);
}

fn drop_own_cookies(headers: &mut HeaderMap) {
    if !headers.contains_key(header::COOKIE) {
        return;
    }
    let kept: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && !pair.starts_with(OWN_COOKIE_PREFIX))
        .collect();
    let kept = kept.join("; ");
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        insert_text(headers, &header::COOKIE, kept);
    }
}

fn set_forwarding(headers: &mut HeaderMap, client: Client) {
    let ip = ip_text(client.ip);
    let host = headers
        .get(header::HOST)
        .filter(|value| value.to_str().is_ok())
        .cloned();
    let earlier = |name: &HeaderName| {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        Some(values.join(", ")).filter(|joined| !joined.is_empty())
    };
    let (earlier_hops, earlier_forwarded) = if client.trust_forwarded {
        (earlier(&X_FORWARDED_FOR), earlier(&header::FORWARDED))
    } else {
        (None, None)
    };

    let mut forwarded = String::with_capacity(64);
    if let Some(elements) = earlier_forwarded {
        forwarded.push_str(&elements);
        forwarded.push_str(", ");
    }
    forwarded.push_str("for=");
    match client.ip {
        IpAddr::V4(_) => forwarded.push_str(&ip),
        IpAddr::V6(_) => {
            forwarded.push_str("\"[");
            forwarded.push_str(&ip);
            forwarded.push_str("]\"");
        }
    }
    forwarded.push_str(";proto=");
    forwarded.push_str(client.proto);
    let bare_host = host
        .as_ref()
        .and_then(|host| host.to_str().ok())
        .filter(|host| host.bytes().all(is_token_or_colon));
    if let Some(host) = bare_host {
        forwarded.push_str(";host=");
        forwarded.push_str(host);
    }
    let forwarded_for = match earlier_hops {
        Some(hops) => hops + ", " + &ip,
        None => ip,
    };

    insert_text(headers, &X_FORWARDED_FOR, forwarded_for);
    insert_text(headers, &header::FORWARDED, forwarded);
    headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(client.proto),
    );
    match host {
        Some(host) if !client.trust_forwarded || !headers.contains_key(&X_FORWARDED_HOST) => {
            headers.insert(X_FORWARDED_HOST.clone(), host);
        }
        _ => {}
    }
}

/// The address as text. IPv4, the usual case, without `fmt`, whose machinery was a third of
/// the forwarding headers' cost.
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(ip) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    let mut digits = itoa::Buffer::new();
    for (at, octet) in ip.octets().into_iter().enumerate() {
        if at > 0 {
            text.push('.');
        }
        text.push_str(digits.format(octet));
    }
    text
}

/// A host that can stand in a `Forwarded` element unquoted (RFC 7239 token characters).
fn is_token_or_colon(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:".contains(&byte)
}

/// Sets `name` to `value`, taking the text without copying it.
fn insert_text(headers: &mut HeaderMap, name: &HeaderName, value: impl Into<String>) {
    // As a boxed slice, which `Bytes` takes as it is: a `String` with room to spare (most
    // built ones) would cost `Bytes` a second allocation.
    let bytes = bytes::Bytes::from(value.into().into_bytes().into_boxed_slice());
    // Values come from verified identifiers or from other header values: never invalid; a
    // value that somehow is gets dropped rather than forwarded malformed.
    if let Ok(value) = HeaderValue::from_maybe_shared(bytes) {
        headers.insert(name.clone(), value);
    }
}

#[cfg(test)]
mod tests;
