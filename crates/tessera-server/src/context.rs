//! Facts about the request that audit events and limiters need: the client address and the
//! request id (set by the request-id middleware).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// The id of one request, as accepted from `X-Request-ID` or generated.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub client_ip: IpAddr,
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let client_ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        let request_id = parts.extensions.get::<RequestId>().map(|id| id.0.clone());
        Ok(Self {
            client_ip,
            request_id,
        })
    }
}
