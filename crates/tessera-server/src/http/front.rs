//! The public listener's service, one per connection. A request for `/api` goes straight to
//! the gateway: through the steps every request goes through (request id, access log, panic
//! recovery: the same functions as the router's middleware), then the gateway's own layers,
//! but not through axum's router, whose route lookup, per-route service clones and boxed
//! middleware took about a tenth of the gateway's CPU in the gateway benchmark (perf). Every
//! other request goes to the router, with all its layers, on the server's runtime (the
//! connection itself may be served by one of the public listener's workers, `http::cores`).

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tessera_proto::ErrorCode;
use tower::Service;

use super::middleware::{AccessLog, panic_response, request_id_of, stamp_request_id};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::gateway;
use crate::state::AppState;

/// Makes the [`Front`] of each accepted connection.
#[derive(Clone)]
pub struct MakeFront {
    shared: Arc<Shared>,
}

struct Shared {
    router: Router,
    gateway: gateway::Entry,
    /// The server's runtime, where every request but the gateway's runs.
    server: tokio::runtime::Handle,
}

impl MakeFront {
    /// `router`: every route but the gateway's. Called on the server's runtime.
    pub fn new(state: &AppState, router: Router) -> Self {
        Self {
            shared: Arc::new(Shared {
                router,
                gateway: gateway::Entry::new(state),
                server: tokio::runtime::Handle::current(),
            }),
        }
    }

    /// The service of a connection from `peer`.
    pub fn front(&self, peer: SocketAddr) -> Front {
        Front {
            shared: Arc::clone(&self.shared),
            peer,
        }
    }
}

/// One connection's service.
#[derive(Clone)]
pub struct Front {
    shared: Arc<Shared>,
    peer: SocketAddr,
}

/// The route pattern of a gateway path, as metrics label it; None for any other path.
fn gateway_route(path: &str) -> Option<&'static str> {
    if path == "/api" {
        Some("/api")
    } else if path.starts_with("/api/") {
        Some("/api/{*path}")
    } else {
        None
    }
}

impl Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let Some(route) = gateway_route(request.uri().path()) else {
            request.extensions_mut().insert(ConnectInfo(self.peer));
            // On the server's runtime, whichever thread the connection is served on: a handler
            // may start work that outlives its request (a runtime's supervisor, say), and that
            // work belongs to the server, not to a public listener's worker.
            let routed = self
                .shared
                .server
                .spawn(self.shared.router.clone().call(request));
            return Box::pin(async move {
                Ok(match routed.await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    // The router recovers from panics itself; the server is stopping.
                    Err(_) => ApiError::new(ErrorCode::Unavailable, "the server is stopping")
                        .into_response(),
                })
            });
        };
        let shared = Arc::clone(&self.shared);
        // Handed to the gateway as it is, not through the request's extensions (each insert
        // there is an allocation).
        let ctx = RequestContext {
            client_ip: self.peer.ip(),
            request_id: Some(request_id_of(&request)),
        };
        Box::pin(async move {
            let entry = AccessLog::start(&request, Cow::Borrowed(route));
            let outcome = AssertUnwindSafe(shared.gateway.serve(&ctx, request))
                .catch_unwind()
                .await;
            let mut response = outcome.unwrap_or_else(panic_response);
            entry.finish(&response, &ctx);
            if let Some(id) = &ctx.request_id {
                stamp_request_id(&mut response, id);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::gateway_route;

    #[test]
    fn only_api_and_what_is_under_it_is_the_gateways() {
        assert_eq!(gateway_route("/api"), Some("/api"));
        assert_eq!(gateway_route("/api/"), Some("/api/{*path}"));
        assert_eq!(gateway_route("/api/work/1"), Some("/api/{*path}"));
        assert_eq!(gateway_route("/apis"), None);
        assert_eq!(gateway_route("/v1/api"), None);
        assert_eq!(gateway_route("/"), None);
    }
}
