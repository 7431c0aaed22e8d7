//! Forwarding one request to an upstream: pooled keep-alive connections, bodies streamed both
//! ways without buffering, upgrades (WebSocket) spliced end to end, and an idle timeout for the
//! response body (the deadline for the response head is the caller's: a layer around this).

mod idle;

use std::time::Duration;

use axum::body::Body;
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::headers;

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
    client: Client<HttpConnector, Body>,
}

/// Where a request goes: `http://host:port` of the upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    scheme: Scheme,
    authority: Authority,
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
        Ok(Self {
            scheme: Scheme::HTTP,
            authority: authority
                .parse()
                .map_err(|e| ProxyError::Address(format!("{url}: {e}")))?,
        })
    }

    /// `host:port`, as metrics and logs name the upstream.
    pub fn authority(&self) -> &str {
        self.authority.as_str()
    }
}

impl Proxy {
    /// `idle_per_host`: how many idle keep-alive connections to keep per upstream.
    pub fn new(connect_timeout: Duration, idle_per_host: usize) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(idle_per_host)
            .build(connector);
        Self { client }
    }

    /// Sends `request` (whose headers the caller has already prepared) to `upstream` and
    /// returns its response, streaming. An upgrade answered with `101` is spliced: the bytes of
    /// both connections are copied to each other in a task of their own until either closes.
    pub async fn forward(
        &self,
        mut request: Request<Body>,
        upstream: &Upstream,
        idle_timeout: Duration,
    ) -> Result<Response<Body>, ProxyError> {
        let path = request
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        *request.uri_mut() = Uri::builder()
            .scheme(upstream.scheme.clone())
            .authority(upstream.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|e| ProxyError::Address(e.to_string()))?;
        // The upstream is addressed by its own name, as nginx's `proxy_pass` does; the
        // client's host travels in `X-Forwarded-Host` and `Forwarded`.
        if let Ok(host) = HeaderValue::from_str(upstream.authority.as_str()) {
            request.headers_mut().insert(header::HOST, host);
        }
        let upgrade =
            headers::is_upgrade(request.headers()).then(|| hyper::upgrade::on(&mut request));
        let mut response = self.client.request(request).await.map_err(|error| {
            if error.is_connect() {
                ProxyError::Connect
            } else {
                ProxyError::Upstream(error.to_string())
            }
        })?;
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
            return Ok(response.map(|_| Body::empty()));
        }
        Ok(response.map(|body| Body::new(idle::IdleTimeout::new(body, idle_timeout))))
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
