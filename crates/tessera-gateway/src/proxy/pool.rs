//! Keep-alive connections to the upstreams, one HTTP/1.1 exchange at a time each.
//!
//! A connection is checked out for one request and comes back only once its response body has
//! been read to the end ([`Lease`], held by the response body): a connection that is still
//! streaming (Server-Sent Events) is never handed to another request, and one whose body was
//! dropped half-read is closed rather than reused. Each connection's I/O runs in a task of its
//! own, spawned once when it is opened; checking out and returning are a lock on a short list,
//! with no task per request (hyper-util's pool spawned one per request, which showed in the
//! gateway benchmark).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use hyper::client::conn::http1::{Builder, SendRequest};
use hyper_util::rt::TokioIo;
use rustc_hash::FxHashMap;
use tokio::net::TcpStream;

use super::{ProxyError, Upstream};

/// The idle connections of every upstream.
#[derive(Debug)]
pub(super) struct Pool {
    /// By the thread that opened them and upstream: a connection's task runs on the runtime
    /// of the thread that opened it, so a request on that thread uses it without waking
    /// another (the public listener runs one single-threaded runtime per core). Not SipHash:
    /// the keys are the operator's upstreams, not a client's input, and the map is looked up
    /// twice per request.
    idle: Mutex<FxHashMap<Key, Vec<Idle>>>,
    /// At most this many idle connections per upstream; more are closed when they come back.
    max_idle: usize,
    /// An idle connection older than this is closed instead of reused.
    idle_timeout: Duration,
    connect_timeout: Duration,
    /// Seconds since `started` of the last sweep of upstreams no longer used.
    swept_at: AtomicU64,
    started: Instant,
}

/// The thread that opened a connection, and its upstream.
type Key = (std::thread::ThreadId, Upstream);

#[derive(Debug)]
struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

impl Idle {
    fn usable(&self, idle_timeout: Duration) -> bool {
        !self.sender.is_closed() && self.since.elapsed() < idle_timeout
    }
}

/// A connection checked out for one exchange. Giving it back ([`Lease::release`]) makes it
/// available again; dropping it closes the connection once its task notices.
#[derive(Debug)]
pub(super) struct Lease {
    pool: Arc<Pool>,
    key: Key,
    pub(super) sender: SendRequest<Body>,
    /// Whether the connection came from the pool (it may have been closed by the upstream
    /// meanwhile: a request it could not send is retried on a new connection).
    pub(super) reused: bool,
}

/// How long a checked-out connection may take to become ready for the next exchange.
const SETTLE: Duration = Duration::from_millis(100);

/// How often idle lists are swept of closed and expired connections.
const SWEEP_EVERY_SECS: u64 = 30;

impl Pool {
    pub fn new(connect_timeout: Duration, max_idle: usize, idle_timeout: Duration) -> Self {
        Self {
            idle: Mutex::new(FxHashMap::default()),
            max_idle,
            idle_timeout,
            connect_timeout,
            swept_at: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FxHashMap<Key, Vec<Idle>>> {
        // The map holds no invariant a panicking holder could break.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection to `upstream`: the most recently used idle one that is still open, else a
    /// new one.
    pub async fn checkout(self: &Arc<Self>, upstream: &Upstream) -> Result<Lease, ProxyError> {
        let key = (std::thread::current().id(), upstream.clone());
        loop {
            let idle = self.lock().get_mut(&key).and_then(Vec::pop);
            let Some(mut idle) = idle else { break };
            if !idle.usable(self.idle_timeout) {
                continue;
            }
            if idle.sender.is_ready() {
                return Ok(self.lease(key, idle.sender, true));
            }
            // Returned as soon as its body ended, a connection can still be finishing that
            // exchange in its own task: wait a moment for it. One still busy after that (still
            // sending an upload the upstream answered before reading it all) is closed.
            if let Ok(Ok(())) = tokio::time::timeout(SETTLE, idle.sender.ready()).await {
                return Ok(self.lease(key, idle.sender, true));
            }
        }
        self.connect(upstream).await
    }

    /// A new connection to `upstream`.
    pub async fn connect(self: &Arc<Self>, upstream: &Upstream) -> Result<Lease, ProxyError> {
        let authority = &upstream.authority;
        let address = (host(authority), authority.port_u16().unwrap_or(80));
        let stream =
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(upstream = %authority, error = %error, "connecting failed");
                    return Err(ProxyError::Connect);
                }
                Err(_) => return Err(ProxyError::Connect),
            };
        // Small requests and responses go out at once, not after Nagle's delay.
        stream.set_nodelay(true).map_err(|_| ProxyError::Connect)?;
        let (sender, connection) = Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|error| ProxyError::Upstream(error.to_string()))?;
        let name = authority.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(upstream = %name, error = %error, "an upstream connection ended with an error");
            }
        });
        let key = (std::thread::current().id(), upstream.clone());
        Ok(self.lease(key, sender, false))
    }

    fn lease(self: &Arc<Self>, key: Key, sender: SendRequest<Body>, reused: bool) -> Lease {
        Lease {
            pool: Arc::clone(self),
            key,
            sender,
            reused,
        }
    }

    fn put(&self, key: Key, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        self.sweep(now);
        let mut idle = self.lock();
        let list = idle.entry(key).or_default();
        if list.len() < self.max_idle {
            list.push(Idle { sender, since: now });
        }
    }

    /// Every [`SWEEP_EVERY_SECS`] (whoever moves `swept_at` does it), drops closed and expired
    /// connections and the upstreams left without any, so that upstreams no longer used (a
    /// placement that moved) hold nothing.
    fn sweep(&self, now: Instant) {
        let at = now.duration_since(self.started).as_secs();
        let last = self.swept_at.load(Ordering::Relaxed);
        if at < last + SWEEP_EVERY_SECS
            || self
                .swept_at
                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let mut idle = self.lock();
        for list in idle.values_mut() {
            list.retain(|idle| idle.usable(self.idle_timeout));
        }
        idle.retain(|_, list| !list.is_empty());
    }

    #[cfg(test)]
    fn idle_count(&self, upstream: &Upstream) -> usize {
        let key = (std::thread::current().id(), upstream.clone());
        self.lock().get(&key).map_or(0, Vec::len)
    }
}

/// The host to connect to: an IPv6 literal without its brackets (`[::1]` is not an address).
fn host(authority: &http::uri::Authority) -> &str {
    authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
}

impl Lease {
    /// The exchange is over (its response body was read to the end): the connection may carry
    /// the next one.
    pub fn release(self) {
        self.pool.put(self.key, self.sender);
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    /// A keep-alive HTTP/1.1 server answering every request with "ok"; the number of
    /// connections it accepted.
    fn upstream(address: std::net::SocketAddr) -> Upstream {
        Upstream::parse(&format!("http://{address}").parse().unwrap()).unwrap()
    }

    async fn server() -> (Upstream, Arc<AtomicU64>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = upstream(listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(
                    TokioIo::new(stream),
                    hyper::service::service_fn(|_| async {
                        Ok::<_, Infallible>(http::Response::new(Body::from("ok")))
                    }),
                ));
            }
        });
        (authority, accepted)
    }

    async fn exchange(lease: &mut Lease) {
        use http_body_util::BodyExt;
        let request = http::Request::builder()
            .uri("/")
            .header(http::header::HOST, "upstream")
            .body(Body::empty())
            .unwrap();
        let response = lease.sender.send_request(request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "ok");
    }

    fn pool(max_idle: usize) -> Arc<Pool> {
        Arc::new(Pool::new(
            Duration::from_secs(1),
            max_idle,
            Duration::from_secs(60),
        ))
    }

    #[tokio::test]
    async fn a_released_connection_carries_the_next_exchange() {
        let (authority, accepted) = server().await;
        let pool = pool(4);
        for _ in 0..5 {
            let mut lease = pool.checkout(&authority).await.unwrap();
            exchange(&mut lease).await;
            lease.release();
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(&authority), 1);
    }

    #[tokio::test]
    async fn a_connection_not_released_is_never_lent_again() {
        let (authority, accepted) = server().await;
        let pool = pool(4);
        let mut first = pool.checkout(&authority).await.unwrap();
        exchange(&mut first).await;
        drop(first);
        let mut second = pool.checkout(&authority).await.unwrap();
        assert!(!second.reused);
        exchange(&mut second).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn idle_connections_are_capped_per_upstream() {
        let (authority, _) = server().await;
        let pool = pool(2);
        let mut leases = Vec::new();
        for _ in 0..3 {
            let mut lease = pool.checkout(&authority).await.unwrap();
            exchange(&mut lease).await;
            leases.push(lease);
        }
        for lease in leases {
            lease.release();
        }
        assert_eq!(pool.idle_count(&authority), 2);
    }

    #[test]
    fn an_ipv6_literal_is_connected_to_without_brackets() {
        let authority = |text: &str| text.parse::<http::uri::Authority>().unwrap();
        assert_eq!(host(&authority("[::1]:8080")), "::1");
        assert_eq!(host(&authority("127.0.0.1:8080")), "127.0.0.1");
        assert_eq!(host(&authority("runtime.internal")), "runtime.internal");
    }

    #[tokio::test]
    async fn an_unreachable_upstream_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = upstream(listener.local_addr().unwrap());
        drop(listener);
        let error = pool(1).checkout(&authority).await.unwrap_err();
        assert!(matches!(error, ProxyError::Connect));
    }
}
