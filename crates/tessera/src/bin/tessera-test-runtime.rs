//! A small agent runtime for Tessera's own tests and benchmarks: what the gateway forwards to
//! and what provisioning starts. It is not part of the product.
//!
//! Listens on `127.0.0.1:$PORT` and serves:
//! - `GET /health` → 200;
//! - `POST /init` (JSON) → kept, 204 (500 when the JSON holds `"fail": true`); `GET /init`;
//! - `POST /edges` (JSON) → appended, 204; `GET /edges` → every edge received;
//! - `/api/echo…` (any method) → the request as JSON: method, path, query, headers, entity id;
//! - `GET /api/sse?events=N&interval_ms=M` → N Server-Sent Events, M ms apart;
//! - `GET /api/ws` → a WebSocket that echoes every message;
//! - `POST /api/upload` → `{bytes, sha256}` of the body, read as a stream;
//! - `GET /api/slow?ms=N` → answers after N ms;
//! - `GET /hello`, `GET /api/hello` → a fixed small body (the benchmark's target).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Default)]
struct Received {
    init: Option<Value>,
    edges: Vec<Value>,
}

#[derive(Clone)]
struct Runtime {
    received: Arc<Mutex<Received>>,
    entity_id: Option<String>,
}

impl Runtime {
    fn received(&self) -> std::sync::MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::var("PORT").ok().and_then(|p| p.parse().ok()) {
        Some(port) => port,
        None => {
            eprintln!("tessera-test-runtime: set PORT to the port to listen on");
            std::process::exit(2);
        }
    };
    let runtime = Runtime {
        received: Arc::default(),
        entity_id: std::env::var("TESSERA_ENTITY_ID").ok(),
    };
    let app = Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/init", post(init).get(last_init))
        .route("/edges", post(edge).get(edges))
        .route("/api/echo", any(echo))
        .route("/api/echo/{*rest}", any(echo))
        .route("/api/sse", get(sse))
        .route("/api/ws", get(ws))
        .route("/api/upload", post(upload))
        .route("/api/slow", get(slow))
        .route("/hello", get(|| async { "hello" }))
        .route("/api/hello", get(|| async { "hello" }))
        .with_state(runtime);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    axum::serve(listener, app).await
}

async fn init(State(runtime): State<Runtime>, Json(body): Json<Value>) -> StatusCode {
    if body.get("fail") == Some(&Value::Bool(true)) {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    runtime.received().init = Some(body);
    StatusCode::NO_CONTENT
}

async fn last_init(State(runtime): State<Runtime>) -> Response {
    match runtime.received().init.clone() {
        Some(body) => Json(body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn edge(State(runtime): State<Runtime>, Json(body): Json<Value>) -> StatusCode {
    runtime.received().edges.push(body);
    StatusCode::NO_CONTENT
}

async fn edges(State(runtime): State<Runtime>) -> Json<Vec<Value>> {
    Json(runtime.received().edges.clone())
}

async fn echo(
    State(runtime): State<Runtime>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    // Repeated headers are kept in order: a test must see a forged duplicate if one slips by.
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &headers {
        seen.entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "headers": seen,
        "body_bytes": body.len(),
        "entity_id": runtime.entity_id,
    }))
}

#[derive(Deserialize)]
struct SseParams {
    events: Option<u32>,
    interval_ms: Option<u64>,
}

async fn sse(
    Query(params): Query<SseParams>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let interval = Duration::from_millis(params.interval_ms.unwrap_or(100));
    let events =
        futures_util::stream::iter(0..params.events.unwrap_or(3)).then(move |n| async move {
            if n > 0 {
                tokio::time::sleep(interval).await;
            }
            Ok(Event::default()
                .id(n.to_string())
                .data(format!("event {n}")))
        });
    Sse::new(events)
}

async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(echo_socket)
}

async fn echo_socket(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

async fn upload(body: Body) -> Response {
    let mut stream = body.into_data_stream();
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                bytes += chunk.len() as u64;
                digest.update(&chunk);
            }
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        }
    }
    Json(json!({"bytes": bytes, "sha256": hex::encode(digest.finish())})).into_response()
}

#[derive(Deserialize)]
struct SlowParams {
    ms: u64,
}

async fn slow(Query(params): Query<SlowParams>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(params.ms)).await;
    "slow"
}
