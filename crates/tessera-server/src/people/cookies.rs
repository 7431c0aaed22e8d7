//! The session cookies browsers get: the access token for every path, the refresh token only
//! for `/v1/auth` (where it is exchanged or ended). HttpOnly and SameSite=Lax always; Secure
//! unless Tessera is served over plain http on a loopback host (a laptop, the tests).

use axum::http::{HeaderMap, HeaderValue, header};

pub const ACCESS_COOKIE: &str = "tessera_session";
pub const REFRESH_COOKIE: &str = "tessera_refresh";
const REFRESH_PATH: &str = "/v1/auth";
/// Binds an OAuth sign-in to the browser that began it; sent back only to the callback.
pub const OAUTH_BINDING_COOKIE: &str = "tessera_oauth";
const OAUTH_PATH: &str = "/v1/auth/oauth";

/// Whether cookies must carry `Secure` for this public URL.
pub fn secure_for(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return true;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    !(url.scheme() == "http" && loopback)
}

fn cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

/// Sets both cookies on a response.
pub fn set(
    headers: &mut HeaderMap,
    access: &str,
    access_ttl: i64,
    refresh: &str,
    refresh_ttl: i64,
    secure: bool,
) {
    for value in [
        cookie(ACCESS_COOKIE, access, "/", access_ttl, secure),
        cookie(REFRESH_COOKIE, refresh, REFRESH_PATH, refresh_ttl, secure),
    ]
    .into_iter()
    .flatten()
    {
        headers.append(header::SET_COOKIE, value);
    }
}

/// Expires both cookies (sign-out).
pub fn clear(headers: &mut HeaderMap, secure: bool) {
    for value in [
        cookie(ACCESS_COOKIE, "", "/", 0, secure),
        cookie(REFRESH_COOKIE, "", REFRESH_PATH, 0, secure),
    ]
    .into_iter()
    .flatten()
    {
        headers.append(header::SET_COOKIE, value);
    }
}

/// Sets (`max_age` > 0) or expires (0) the OAuth browser-binding cookie. SameSite=Lax: the
/// provider's redirect back is a top-level navigation, which Lax cookies accompany.
pub fn set_oauth_binding(headers: &mut HeaderMap, value: &str, max_age: i64, secure: bool) {
    if let Some(value) = cookie(OAUTH_BINDING_COOKIE, value, OAUTH_PATH, max_age, secure) {
        headers.append(header::SET_COOKIE, value);
    }
}

/// The value of a cookie the client sent.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_except_plain_http_on_loopback() {
        assert!(!secure_for("http://localhost:8080"));
        assert!(!secure_for("http://127.0.0.1:8080"));
        assert!(secure_for("https://localhost:8080"));
        assert!(secure_for("http://auth.example.com"));
    }

    #[test]
    fn reads_one_cookie_among_several() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_session=tok; b=2"),
        );
        assert_eq!(get(&headers, ACCESS_COOKIE), Some("tok"));
        assert_eq!(get(&headers, REFRESH_COOKIE), None);
    }
}
