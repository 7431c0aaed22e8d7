//! Plan limits at the gateway: exact counts and headers at the boundary, the day window,
//! concurrent tasks, and one budget shared by two instances through Redis, surviving an
//! outage of Redis.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use tessera_core::{PlanLimits, PlanTable};
use tessera_gateway::routes::Route;
use tessera_server::{Config, Secret};
use tessera_testkit::{TestServer, TestTenant};

use crate::support::{TestRuntime, expect_error, free_port};

/// Explorer limited to `per_minute`, `per_day` and `tasks`; `/api` goes to `runtime`.
fn limited(
    runtime: &TestRuntime,
    per_minute: u64,
    per_day: Option<u64>,
    tasks: u64,
) -> impl FnOnce(&mut Config) {
    let upstream = runtime.url();
    move |config| {
        config.gateway_routes = vec![Route {
            prefix: "/api".to_owned(),
            upstream: upstream.parse().unwrap(),
            public: false,
            scopes: Vec::new(),
            timeout_secs: None,
            resource: None,
        }];
        config.plans = PlanTable {
            explorer: PlanLimits {
                requests_per_minute: per_minute,
                requests_per_day: per_day,
                max_agents: None,
                concurrent_tasks: tasks,
            },
            ..PlanTable::default()
        };
    }
}

async fn hello(server: &TestServer, tenant: &TestTenant) -> Response {
    server
        .http
        .get(server.url("/api/hello"))
        .header("x-api-key", &tenant.api_key)
        .send()
        .await
        .unwrap()
}

fn number(response: &Response, header: &str) -> u64 {
    response.headers()[header]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_boundary_is_exact_and_every_response_says_where_it_stands() {
    let runtime = TestRuntime::start().await;
    let server = TestServer::start_with(limited(&runtime, 5, Some(7), 10)).await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    for sent in 1..=5 {
        let response = hello(&server, &a).await;
        assert_eq!(response.status(), 200);
        assert_eq!(number(&response, "x-ratelimit-limit"), 5);
        assert_eq!(number(&response, "x-ratelimit-remaining"), 5 - sent);
        assert!((1..=60).contains(&number(&response, "x-ratelimit-reset")));
    }
    let refused = hello(&server, &a).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(number(&refused, "x-ratelimit-remaining"), 0);
    assert!((1..=60).contains(&number(&refused, "retry-after")));
    let body = expect_error(refused, 429, "rate_limited").await;
    assert!(body["message"].as_str().unwrap().contains("explorer"));

    // Another tenant has a budget of its own.
    assert_eq!(hello(&server, &b).await.status(), 200);

    // The next minute opens the minute window; the day allows 7 in all, refusals not counted.
    server.clock.advance(time::Duration::seconds(61));
    for _ in 0..2 {
        assert_eq!(hello(&server, &a).await.status(), 200);
    }
    let refused = hello(&server, &a).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        number(&refused, "x-ratelimit-limit"),
        7,
        "the day window is the tighter"
    );
    assert!(number(&refused, "retry-after") > 60);

    // Unauthenticated requests spend nobody's budget.
    let anonymous = server
        .http
        .get(server.url("/api/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(!anonymous.headers().contains_key("x-ratelimit-limit"));
}

#[tokio::test]
async fn concurrent_tasks_are_capped_by_the_plan() {
    let runtime = TestRuntime::start().await;
    let server = TestServer::start_with(limited(&runtime, 1000, None, 1)).await;
    let a = server.register_tenant("A").await;
    let mut stream = server
        .http
        .get(server.url("/api/sse?events=2&interval_ms=1000"))
        .header("x-api-key", &a.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let _first = stream.chunk().await.unwrap();
    // The stream is still running: it holds the tenant's only task.
    let refused = hello(&server, &a).await;
    let body = expect_error(refused, 429, "rate_limited").await;
    assert!(
        body["message"].as_str().unwrap().contains("concurrent"),
        "{body}"
    );
    while stream.chunk().await.unwrap().is_some() {}
    drop(stream);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let response = hello(&server, &a).await;
        if response.status() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the task was never released"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `redis-server` of this test's own, killed when dropped.
struct Redis(tokio::process::Child);

impl Redis {
    async fn start(port: u16) -> Self {
        let child = tokio::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (scripts/ensure-redis installs it)");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self(child);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not start on {port}");
    }

    async fn stop(mut self) {
        self.0.kill().await.unwrap();
    }
}

#[tokio::test]
async fn two_instances_share_one_budget_through_redis_and_survive_its_outage() {
    let runtime = TestRuntime::start().await;
    let port = free_port();
    let redis = Redis::start(port).await;
    let url = format!("redis://127.0.0.1:{port}");
    let with_redis =
        |url: String| move |config: &mut Config| config.redis_url = Some(Secret::new(url));
    let one = TestServer::start_with({
        let limit = limited(&runtime, 6, None, 100);
        let redis = with_redis(url.clone());
        move |config| {
            limit(config);
            redis(config);
        }
    })
    .await;
    let two = one.sibling_with(|_| {}).await;
    let a = one.register_tenant("A").await;

    let both_spend = |budget: u64| {
        let (one, two, a) = (&one, &two, &a);
        async move {
            for n in 0..budget {
                let server = if n % 2 == 0 { one } else { two };
                assert_eq!(hello(server, a).await.status(), 200, "request {n}");
            }
            assert_eq!(hello(one, a).await.status(), 429);
            assert_eq!(hello(two, a).await.status(), 429);
        }
    };
    both_spend(6).await;

    // Redis goes away: both instances keep serving, each counting in process.
    redis.stop().await;
    one.clock.advance(time::Duration::seconds(61));
    for server in [&one, &two] {
        for _ in 0..6 {
            assert_eq!(hello(server, &a).await.status(), 200);
        }
        assert_eq!(
            hello(server, &a).await.status(),
            429,
            "still limited, locally"
        );
        assert!(server.state().rate_limits.degraded());
    }

    // Redis comes back (empty): once both have reconnected, the budget is shared again.
    let _redis = Redis::start(port).await;
    one.clock.advance(time::Duration::seconds(61));
    let probe = one.register_tenant("probe").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for server in [&one, &two] {
        while server.state().rate_limits.degraded() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reconnected to Redis"
            );
            let _ = hello(server, &probe).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    both_spend(6).await;
}
