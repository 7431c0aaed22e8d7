//! The gateway benchmark's floor: the least a proxy built on hyper and tokio, as Tessera's
//! gateway is, can do on this machine. It is not part of the product.
//!
//! `tessera-bench-floor LISTEN UPSTREAM` forwards every request to `UPSTREAM` as it is: no
//! authentication, no rate limit, no header rewrite, no timeouts, no logs or metrics, no
//! pool (each client connection gets one upstream connection of its own, opened when the
//! client connects), on one single-threaded runtime per core, as Tessera's public listener.
//! What `scripts/bench-gateway` measures between this and Tessera is what Tessera's work per
//! request costs; between this and nginx, what the HTTP stack costs.

use std::net::SocketAddr;
use std::sync::Mutex;

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let mut arguments = std::env::args().skip(1);
    let (Some(listen), Some(upstream), None) =
        (arguments.next(), arguments.next(), arguments.next())
    else {
        anyhow::bail!(
            "usage: tessera-bench-floor LISTEN UPSTREAM (addresses, e.g. 127.0.0.1:8080)"
        );
    };
    let upstream: SocketAddr = upstream.parse()?;
    let listener = std::net::TcpListener::bind(listen.parse::<SocketAddr>()?)?;
    listener.set_nonblocking(true)?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = (0..workers)
        .map(|_| {
            let listener = listener.try_clone()?;
            Ok(std::thread::spawn(move || serve(listener, upstream)))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))??;
    }
    Ok(())
}

/// One worker: accepts on its copy of the listener (the kernel hands each connection to one of
/// the workers waiting) and serves what it accepted on its own thread.
fn serve(listener: std::net::TcpListener, upstream: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        loop {
            let (client, _) = listener.accept().await?;
            tokio::spawn(async move {
                if let Err(error) = relay(client, upstream).await {
                    eprintln!("tessera-bench-floor: {error}");
                }
            });
        }
    })
}

/// Serves one client connection over an upstream connection of its own.
async fn relay(client: TcpStream, upstream: SocketAddr) -> anyhow::Result<()> {
    client.set_nodelay(true)?;
    let connection = TcpStream::connect(upstream).await?;
    connection.set_nodelay(true)?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake::<_, Incoming>(TokioIo::new(connection)).await?;
    tokio::spawn(connection);
    // HTTP/1 serves a connection's requests one after the other: the sender is never wanted
    // twice at once, and the lock is never contended.
    let sender: &Mutex<SendRequest<Incoming>> = &Mutex::new(sender);
    let service = service_fn(|request: Request<Incoming>| {
        let response = sender
            .lock()
            .map(|mut sender| sender.send_request(request))
            .map_err(|_| anyhow::anyhow!("the upstream sender was poisoned"));
        async move { Ok::<Response<Incoming>, anyhow::Error>(response?.await?) }
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(client), service)
        .await?;
    Ok(())
}
