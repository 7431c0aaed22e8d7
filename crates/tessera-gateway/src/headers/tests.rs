use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn client(trust_forwarded: bool) -> Client {
    Client {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
        proto: "http",
        trust_forwarded,
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn identity() -> VerifiedIdentity {
    VerifiedIdentity {
        tenant_id: "ten_a".to_owned(),
        user_id: None,
        agent_id: Some("agt_a".to_owned()),
        scopes: "read".to_owned(),
    }
}

#[test]
fn forged_identity_and_credentials_are_replaced() {
    let mut map = headers(&[
        ("x-tenant-id", "ten_forged"),
        ("X-Tenant-Id", "ten_forged2"),
        ("x-user-id", "usr_forged"),
        ("x-scopes", "admin"),
        ("authorization", "Bearer secret"),
        ("x-api-key", "tsk_secret"),
        (
            "cookie",
            "tessera_session=abc; theme=dark; tessera_refresh=x",
        ),
        ("x-request-id", "client-id"),
        ("x-entity", "ten_a"),
        ("dpop", "proof"),
        ("accept", "text/event-stream"),
    ]);
    prepare_request(&mut map, Some(identity()), "req-1", client(false));
    assert_eq!(map.get_all("x-tenant-id").iter().count(), 1);
    assert_eq!(map["x-tenant-id"], "ten_a");
    assert_eq!(map["x-agent-id"], "agt_a");
    assert!(!map.contains_key("x-user-id"));
    assert_eq!(map["x-scopes"], "read");
    assert!(!map.contains_key("authorization"));
    assert!(!map.contains_key("x-api-key"));
    assert!(!map.contains_key("x-entity"));
    assert!(!map.contains_key("dpop"));
    assert_eq!(map["cookie"], "theme=dark");
    assert_eq!(map["x-request-id"], "req-1");
    assert_eq!(map["accept"], "text/event-stream");
}

#[test]
fn hop_by_hop_headers_end_here_including_those_connection_names() {
    let mut map = headers(&[
        ("connection", "keep-alive, x-secret-hop"),
        ("keep-alive", "timeout=5"),
        ("x-secret-hop", "1"),
        ("te", "trailers"),
        ("transfer-encoding", "chunked"),
        ("proxy-authorization", "Basic x"),
        ("x-kept", "1"),
    ]);
    prepare_request(&mut map, None, "r", client(false));
    for gone in [
        "connection",
        "keep-alive",
        "x-secret-hop",
        "te",
        "transfer-encoding",
        "proxy-authorization",
    ] {
        assert!(!map.contains_key(gone), "{gone} was forwarded");
    }
    assert_eq!(map["x-kept"], "1");
}

#[test]
fn an_upgrade_keeps_its_negotiation_headers() {
    let mut map = headers(&[
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "k"),
    ]);
    assert!(is_upgrade(&map));
    prepare_request(&mut map, None, "r", client(false));
    assert_eq!(map["connection"], "upgrade");
    assert_eq!(map["upgrade"], "websocket");
    assert_eq!(map["sec-websocket-key"], "k");
}

#[test]
fn forwarding_headers_are_replaced_unless_trusted() {
    let sent = [
        ("x-forwarded-for", "1.2.3.4"),
        ("forwarded", "for=1.2.3.4"),
        ("host", "gw.example:8080"),
    ];
    let mut map = headers(&sent);
    prepare_request(&mut map, None, "r", client(false));
    assert_eq!(map["x-forwarded-for"], "10.0.0.7");
    assert_eq!(
        map["forwarded"],
        "for=10.0.0.7;proto=http;host=gw.example:8080"
    );
    assert_eq!(map["x-forwarded-host"], "gw.example:8080");
    assert_eq!(map["x-forwarded-proto"], "http");

    let mut map = headers(&sent);
    prepare_request(&mut map, None, "r", client(true));
    assert_eq!(map["x-forwarded-for"], "1.2.3.4, 10.0.0.7");
    assert_eq!(
        map["forwarded"],
        "for=1.2.3.4, for=10.0.0.7;proto=http;host=gw.example:8080"
    );
}

#[test]
fn responses_lose_hop_by_hop_headers_except_on_101() {
    let mut map = headers(&[
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("x-a", "1"),
    ]);
    prepare_response(&mut map, false);
    assert!(!map.contains_key("upgrade"));
    let mut map = headers(&[("connection", "upgrade"), ("upgrade", "websocket")]);
    prepare_response(&mut map, true);
    assert_eq!(map["upgrade"], "websocket");
}

#[test]
fn the_identity_headers_tessera_sets_are_the_ones_it_strips() {
    for name in [
        &X_TENANT_ID,
        &X_USER_ID,
        &X_AGENT_ID,
        &X_SCOPES,
        &X_REQUEST_ID,
        &X_API_KEY,
        &X_ENTITY,
        &header::AUTHORIZATION,
    ] {
        assert!(is_claimed(name), "{name} would pass from the client");
    }
    for name in [
        header::CONNECTION,
        header::TE,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        assert!(is_hop_by_hop(&name), "{name}");
    }
    assert!(!is_claimed(&header::ACCEPT) && !is_hop_by_hop(&header::ACCEPT));
}
