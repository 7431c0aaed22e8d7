//! Forwarding one request to an upstream: pooled keep-alive connections ([`pool`]), bodies
//! streamed both ways without buffering, upgrades (WebSocket) spliced end to end, and an idle
//! timeout for the response body ([`body`]; the deadline for the response head is the
//! caller's).

mod body;
mod pool;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

pub use self::body::{BodyError, ResponseBody};
use self::pool::Pool;
use crate::headers;
use crate::ratelimit::Permit;

/// Why a request could not be forwarded; each says which side failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the upstream refused the connection or could not be reached")]
    Connect,
    #[error("the upstream broke the exchange: {0}")]
    Upstream(String),
    #[error("the upstream address is not usable: {0}")]
    Address(String),
}

impl ProxyError {
    /// A label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Upstream(_) => "upstream",
            Self::Address(_) => "address",
        }
    }
}

/// The connection pool to every upstream and the forwarding logic. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Proxy {
    pool: Arc<Pool>,
}

/// Where a request goes: `http://host:port` of the upstream.
///
/// Upstreams are the same when their `host:port` are, byte for byte ([`Upstream::parse`] has
/// it from a URL, whose host is lowercased). They key the connection pool and metrics, so they
/// do not compare as `Authority` does, folding the case of every byte, which showed in the
/// gateway's profile.
#[derive(Debug, Clone)]
pub struct Upstream {
    authority: Authority,
    /// The `Host` the upstream is sent (its own name, as nginx's `proxy_pass` does).
    host: HeaderValue,
    /// The address, when the host is an IP address or `localhost`: worked out once, since
    /// every request asks whether it is one of Tessera's own listeners.
    address: Option<SocketAddr>,
}

impl PartialEq for Upstream {
    fn eq(&self, other: &Self) -> bool {
        self.authority.as_str() == other.authority.as_str()
    }
}

impl Eq for Upstream {}

impl std::hash::Hash for Upstream {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.authority.as_str().hash(state);
    }
}

impl Upstream {
    pub fn parse(url: &url::Url) -> Result<Self, ProxyError> {
        if url.scheme() != "http" {
            return Err(ProxyError::Address(format!(
                "{url}: only http:// upstreams"
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| ProxyError::Address(format!("{url}: no host")))?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let bad = |e: &dyn std::fmt::Display| ProxyError::Address(format!("{url}: {e}"));
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => {
                Some(IpAddr::from([127, 0, 0, 1]))
            }
            _ => None,
        };
        Ok(Self {
            host: HeaderValue::from_str(&authority).map_err(|e| bad(&e))?,
            authority: authority.parse().map_err(|e| bad(&e))?,
            address: ip.map(|ip| SocketAddr::new(ip, url.port_or_known_default().unwrap_or(80))),
        })
    }

    /// `host:port`, as metrics and logs name the upstream.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Whether this is the address `listener` is bound to (by IP, `localhost`, or any local
    /// address when the listener is bound to the unspecified address).
    pub fn is(&self, listener: SocketAddr) -> bool {
        // Another name than `localhost`: resolving it here would be a lookup per request; the
        // operator configures names, and names are not where the internal listener is bound.
        let Some(address) = self.address else {
            return false;
        };
        let ip = address.ip();
        address.port() == listener.port()
            && (listener.ip().is_unspecified()
                || ip == listener.ip()
                || ip.is_loopback() && listener.ip().is_loopback())
    }
}

impl Proxy {
    /// `idle_per_host`: how many idle keep-alive connections to keep per upstream.
    pub fn new(connect_timeout: Duration, idle_per_host: usize) -> Self {
        Self {
            pool: Arc::new(Pool::new(
                connect_timeout,
                idle_per_host,
                Duration::from_secs(90),
            )),
        }
    }

    /// Sends `request` (whose headers the caller has already prepared) to `upstream` and
    /// returns its response, streaming. An upgrade answered with `101` is spliced: the bytes of
    /// both connections are copied to each other in a task of their own until either closes.
    /// `permit`, the request's concurrent task, is held by the response body until it ends or
    /// is dropped.
    pub async fn forward(
        &self,
        mut request: Request<Body>,
        upstream: &Upstream,
        idle_timeout: Duration,
        permit: Option<Permit>,
    ) -> Result<Response<ResponseBody>, ProxyError> {
        // The hop to the upstream is HTTP/1.1 whatever the client spoke, with the request
        // target in origin form (a client may have sent the absolute form).
        *request.version_mut() = Version::HTTP_11;
        if request.uri().scheme().is_some() {
            let path = request
                .uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            *request.uri_mut() = Uri::from(path);
        }
        // The client's host travels in `X-Forwarded-Host` and `Forwarded`.
        request
            .headers_mut()
            .insert(header::HOST, upstream.host.clone());
        let upgrade =
            headers::is_upgrade(request.headers()).then(|| hyper::upgrade::on(&mut request));
        let (mut response, lease) = self.send(request, upstream).await?;
        let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        headers::prepare_response(response.headers_mut(), switching);
        if switching {
            let Some(client_side) = upgrade else {
                return Err(ProxyError::Upstream(
                    "switched protocols without being asked".to_owned(),
                ));
            };
            let upstream_side = hyper::upgrade::on(&mut response);
            tokio::spawn(splice(client_side, upstream_side));
        }
        // After `101` the connection belongs to the upgraded protocol: it never returns to
        // the pool.
        let lease = (!switching).then_some(lease);
        Ok(response.map(|body| ResponseBody::new(body, idle_timeout, lease, permit)))
    }

    /// One exchange on a pooled connection. A request a reused connection could not even
    /// send (the upstream closed it while idle) goes once more on a new connection.
    async fn send(
        &self,
        request: Request<Body>,
        upstream: &Upstream,
    ) -> Result<(Response<Incoming>, pool::Lease), ProxyError> {
        let mut lease = self.pool.checkout(upstream).await?;
        let request = match lease.sender.try_send_request(request).await {
            Ok(response) => return Ok((response, lease)),
            Err(mut failed) => match failed.take_message() {
                Some(request) if lease.reused => request,
                _ => return Err(ProxyError::Upstream(failed.into_error().to_string())),
            },
        };
        let mut lease = self.pool.connect(upstream).await?;
        match lease.sender.send_request(request).await {
            Ok(response) => Ok((response, lease)),
            Err(error) => Err(ProxyError::Upstream(error.to_string())),
        }
    }
}

/// Copies bytes both ways between the client's and the upstream's upgraded connections.
async fn splice(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(error = %error, "an upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %error, "an upgraded connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(url: &str) -> Upstream {
        Upstream::parse(&url.parse().unwrap()).unwrap()
    }

    #[test]
    fn recognises_a_listener_by_address_loopback_or_wildcard() {
        let internal: std::net::SocketAddr = "127.0.0.1:8090".parse().unwrap();
        assert!(upstream("http://127.0.0.1:8090").is(internal));
        assert!(upstream("http://localhost:8090").is(internal));
        assert!(upstream("http://127.0.0.2:8090").is(internal));
        assert!(!upstream("http://127.0.0.1:8091").is(internal));
        assert!(!upstream("http://10.0.0.1:8090").is(internal));
        let wildcard: std::net::SocketAddr = "0.0.0.0:8090".parse().unwrap();
        assert!(upstream("http://10.0.0.1:8090").is(wildcard));
        assert!(upstream("http://[::1]:8090").is("[::1]:8090".parse().unwrap()));
    }

    /// Reads a request's head off `stream`; false when the connection ends first.
    async fn read_head(stream: &mut tokio::net::TcpStream) -> bool {
        use tokio::io::AsyncReadExt;

        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    }

    /// An upstream that closes every connection after its response without saying so (no
    /// `Connection: close`, as when its keep-alive timeout ends an idle connection): the pool
    /// keeps each one, and the next request must not be sent on it.
    #[tokio::test]
    async fn a_pooled_connection_the_upstream_closed_is_replaced() {
        use http_body_util::BodyExt;
        use tokio::io::AsyncWriteExt;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    if !read_head(&mut stream).await {
                        return;
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                });
            }
        });
        let proxy = Proxy::new(Duration::from_secs(1), 8);
        let upstream = upstream(&format!("http://{address}"));
        for attempt in 0..10 {
            let request = Request::builder().uri("/").body(Body::empty()).unwrap();
            let response = proxy
                .forward(request, &upstream, Duration::from_secs(5), None)
                .await
                .unwrap_or_else(|e| panic!("request {attempt}: {e}"));
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "ok");
            // The next request comes once the close has arrived.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A raw HTTP/1.1 upstream answering every request with a chunked body: `chunks` sent
    /// `gap` apart, then the end, or nothing more at all when `stall` (the connection stays
    /// open).
    async fn chunked_upstream(chunks: usize, gap: Duration, stall: bool) -> Upstream {
        use tokio::io::AsyncWriteExt;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            if !read_head(&mut stream).await {
                return;
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            for at in 0..chunks {
                if at > 0 {
                    tokio::time::sleep(gap).await;
                }
                let _ = stream.write_all(b"5\r\nchunk\r\n").await;
            }
            if stall {
                std::future::pending::<()>().await;
            }
            let _ = stream.write_all(b"0\r\n\r\n").await;
        });
        upstream(&format!("http://{address}"))
    }

    async fn response(upstream: &Upstream, idle: Duration) -> Response<ResponseBody> {
        let request = Request::builder().uri("/").body(Body::empty()).unwrap();
        Proxy::new(Duration::from_secs(1), 8)
            .forward(request, upstream, idle, None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_stream_that_stalls_is_cut_after_the_idle_timeout() {
        use http_body_util::BodyExt;

        let idle = Duration::from_millis(300);
        let upstream = chunked_upstream(1, Duration::ZERO, true).await;
        let mut body = response(&upstream, idle).await.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "chunk");
        let waited = std::time::Instant::now();
        let next = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("the idle timeout never fired");
        assert!(
            matches!(next, Some(Err(BodyError::Idle(_)))),
            "expected the idle timeout, got {next:?}"
        );
        assert!(waited.elapsed() >= idle, "cut before the upstream was idle");
    }

    #[tokio::test]
    async fn a_stream_that_keeps_moving_outlives_the_idle_timeout() {
        use http_body_util::BodyExt;

        // Eight chunks 200 ms apart: 1.4 s in all, each gap a fifth of the idle timeout.
        let idle = Duration::from_secs(1);
        let upstream = chunked_upstream(8, Duration::from_millis(200), false).await;
        let started = std::time::Instant::now();
        let body = response(&upstream, idle).await.into_body();
        let body = body.collect().await.unwrap().to_bytes();
        assert_eq!(body, "chunk".repeat(8));
        assert!(started.elapsed() > idle);
    }

    #[test]
    fn only_http_upstreams() {
        assert!(Upstream::parse(&"https://a:1".parse().unwrap()).is_err());
    }
}
