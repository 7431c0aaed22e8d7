//! Facts about the request that audit events and limiters need: the client address and the
//! request id (set by the request-id middleware).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::Extensions;
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
        Ok(Self::of(&parts.extensions))
    }
}

impl RequestContext {
    /// The context the connection and the request-id layer left in a request's extensions.
    pub fn of(extensions: &Extensions) -> Self {
        let client_ip = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        let request_id = extensions.get::<RequestId>().map(|id| id.0.clone());
        Self {
            client_ip,
            request_id,
        }
    }

    /// Leaves this context in `extensions`, where [`RequestContext::of`] finds it again (for a
    /// request handed to a service that takes only the request). The connection's port is not
    /// part of the context: it is left as 0.
    pub fn attach(&self, extensions: &mut Extensions) {
        extensions.insert(ConnectInfo(SocketAddr::new(self.client_ip, 0)));
        if let Some(id) = &self.request_id {
            extensions.insert(RequestId(id.clone()));
        }
    }
}
