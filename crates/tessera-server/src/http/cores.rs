//! The public listener, served by one single-threaded runtime per core.
//!
//! A request through the gateway is two connections' work: the client's and the upstream's.
//! On a multi-thread runtime their tasks often run on different threads, so every response
//! wakes another thread (a futex, a context switch) and moves the request's state between
//! caches. Here each accepted connection is handed, in turn, to one of the workers, and
//! everything it does for the gateway stays on that worker's thread: the upstream connections
//! it uses are opened there and pooled under that thread (`tessera_gateway::proxy`). Measured
//! with the gateway benchmark's load, alternating with the multi-thread build: 54.3–54.8k →
//! 60.4–60.7k req/s, 17.9 → 16.8 µs of CPU per request.
//!
//! Requests for anything but `/api` still run on the server's runtime (see `http::front`):
//! their handlers may start work that outlives the request.

use std::net::SocketAddr;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tower::ServiceExt;

use super::front::MakeFront;

/// A connection accepted for a worker: its socket (not yet registered with any runtime) and
/// the client's address.
type Accepted = (std::net::TcpStream, SocketAddr);

/// Accepts connections on `listener` until `stopped` resolves, handing them to `workers`
/// workers in turn; then lets every connection finish its request in flight and returns once
/// all have closed.
pub async fn serve(
    listener: TcpListener,
    front: MakeFront,
    workers: usize,
    stopped: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut queues = Vec::with_capacity(workers);
    let mut threads = Vec::with_capacity(workers);
    for index in 0..workers {
        let (queue, accepted) = mpsc::unbounded_channel::<Accepted>();
        // A handle on the one set of services every connection shares.
        let front = front.clone();
        let thread = std::thread::Builder::new()
            .name(format!("tessera-public-{index}"))
            .spawn(move || work(index, accepted, &front))?;
        queues.push(queue);
        threads.push(thread);
    }
    tokio::pin!(stopped);
    let mut turn = 0;
    let outcome = loop {
        let (stream, peer) = tokio::select! {
            () = &mut stopped => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A connection that failed before it was accepted (reset, or no descriptor left
                // for a moment): the next one may do.
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    tracing::warn!(error = %error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Responses go out as soon as they are written, not after Nagle's delay (nginx's
        // `tcp_nodelay`, on by default).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(error = %error, "setting TCP_NODELAY failed");
        }
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(error = %error, "handing a connection over failed");
                continue;
            }
        };
        if queues[turn].send((stream, peer)).is_err() {
            break Err(std::io::Error::other("a public listener's worker stopped"));
        }
        turn = (turn + 1) % queues.len();
    };
    // No more connections: each worker finishes its own and ends.
    drop(queues);
    let joined = tokio::task::spawn_blocking(move || {
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a public listener's worker panicked");
            }
        }
    })
    .await;
    if joined.is_err() {
        tracing::error!("waiting for the public listener's workers failed");
    }
    outcome
}

/// One worker: serves the connections it is handed until the queue closes, then shuts them
/// down gracefully (requests in flight finish; idle keep-alive connections close).
fn work(index: usize, mut accepted: mpsc::UnboundedReceiver<Accepted>, front: &MakeFront) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(worker = index, error = %error, "starting a public listener's worker failed");
            return;
        }
    };
    runtime.block_on(async {
        let graceful = GracefulShutdown::new();
        while let Some((stream, peer)) = accepted.recv().await {
            // Still non-blocking, as the acceptor's runtime left it.
            let stream = match TcpStream::from_std(stream) {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::debug!(error = %error, "taking a connection over failed");
                    continue;
                }
            };
            let service = front
                .front(peer)
                .map_request(|request: http::Request<Incoming>| request.map(Body::new));
            let connection = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(error = %error, "a client connection ended with an error");
                }
            });
        }
        graceful.shutdown().await;
    });
}

/// An error of one connection, not of the listener (as axum's `serve` tells them apart).
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
