//! The rate limiter against a real Redis: limiters sharing one budget, and the outage
//! (Redis killed mid-test → counted in process; Redis back on the same port → shared again).
//! The shared server is `TESSERA_TEST_REDIS_URL` (set by `scripts/test`), else the one
//! `scripts/ensure-redis` provides; the outage test starts a `redis-server` of its own.

#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_core::{PlanLimits, SystemClock, TenantId};
use tessera_gateway::ratelimit::{RETRY_INTERVAL, RateLimiter};
use tokio::process::{Child, Command};

async fn redis_url() -> String {
    if let Ok(url) = std::env::var("TESSERA_TEST_REDIS_URL") {
        return url;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/ensure-redis");
    let output = Command::new("bash")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .await
        .expect("running scripts/ensure-redis");
    assert!(output.status.success(), "scripts/ensure-redis failed");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn limits(per_minute: u64, per_day: Option<u64>) -> PlanLimits {
    PlanLimits {
        requests_per_minute: per_minute,
        requests_per_day: per_day,
        max_agents: None,
        concurrent_tasks: 1,
    }
}

fn limiter(url: &str) -> RateLimiter {
    RateLimiter::with_redis(url, Arc::new(SystemClock)).unwrap()
}

/// How many of `n` requests `limiter` allows.
async fn allowed(limiter: &RateLimiter, tenant: TenantId, plan: &PlanLimits, n: u64) -> u64 {
    let mut count = 0;
    for _ in 0..n {
        if limiter.check(tenant, plan).await.allowed {
            count += 1;
        }
    }
    count
}

/// Requests in this test stay within one minute window: tests that count a minute budget
/// wait when fewer than `needed` seconds of the current minute are left.
async fn room_in_this_minute(needed: u64) {
    let now = tessera_core::Clock::now(&SystemClock).unix_timestamp() as u64;
    let left = 60 - now % 60;
    if left < needed {
        tokio::time::sleep(Duration::from_secs(left)).await;
    }
}

#[tokio::test]
async fn limiters_on_one_redis_share_one_budget() {
    let url = redis_url().await;
    let (a, b) = (limiter(&url), limiter(&url));
    let tenant = TenantId::generate();
    let plan = limits(10, Some(1_000));
    room_in_this_minute(10).await;
    assert!(b.degraded(), "not connected before its first request");
    assert_eq!(allowed(&a, tenant, &plan, 6).await, 6);
    let d = b.check(tenant, &plan).await;
    assert!(d.allowed);
    assert!(!a.degraded() && !b.degraded());
    assert_eq!((d.limit, d.remaining), (10, 3), "b sees a's six");
    assert_eq!(allowed(&b, tenant, &plan, 5).await, 3);
    let refused = a.check(tenant, &plan).await;
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    assert!(
        refused
            .retry_after_secs
            .is_some_and(|s| (1..=60).contains(&s))
    );
    assert!(
        b.check(TenantId::generate(), &plan).await.allowed,
        "another tenant has its own budget"
    );
}

#[tokio::test]
async fn the_day_window_is_shared_and_refusals_count_nowhere() {
    let url = redis_url().await;
    let (a, b) = (limiter(&url), limiter(&url));
    let tenant = TenantId::generate();
    room_in_this_minute(10).await;
    // Refused by the minute on `a`: nothing may reach the day counter.
    assert_eq!(allowed(&a, tenant, &limits(2, Some(3)), 10).await, 2);
    let d = b.check(tenant, &limits(100, Some(3))).await;
    assert!(d.allowed, "the day has one left");
    assert_eq!((d.limit, d.remaining), (3, 0));
    let refused = b.check(tenant, &limits(100, Some(3))).await;
    assert!(!refused.allowed);
    assert_eq!(refused.limit, 3);
    assert!(
        refused.retry_after_secs.unwrap() > 60,
        "waits for the next day"
    );
    assert_eq!(
        allowed(&a, TenantId::generate(), &limits(5, None), 7).await,
        5,
        "an unlimited day refuses only by the minute"
    );
}

/// A `redis-server` of this test's own on `port`, killed when dropped.
async fn start_redis(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting redis-server (scripts/ensure-redis installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "redis-server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn an_outage_falls_back_to_local_counts_and_recovery_shares_again() {
    let port = free_port();
    let mut redis = start_redis(port).await;
    let url = format!("redis://127.0.0.1:{port}");
    let (a, b) = (limiter(&url), limiter(&url));
    let plan = limits(20, None);
    room_in_this_minute(20).await;
    let tenant = TenantId::generate();
    assert_eq!(allowed(&a, tenant, &plan, 5).await, 5);
    assert_eq!(b.check(tenant, &plan).await.remaining, 14, "shared");

    redis.kill().await.unwrap();
    // Each instance now counts alone, from zero, and never refuses for want of Redis.
    let started = Instant::now();
    let d = a.check(tenant, &plan).await;
    assert!(d.allowed);
    assert!(a.degraded());
    assert!(started.elapsed() < Duration::from_millis(500), "fails fast");
    assert_eq!(d.remaining, 19, "counted in process");
    assert_eq!(
        allowed(&a, tenant, &plan, 25).await,
        19,
        "the local budget holds"
    );
    let d = b.check(tenant, &plan).await;
    assert!(d.allowed && b.degraded());
    assert_eq!(d.remaining, 19, "b counts its own");

    let _redis = start_redis(port).await;
    let deadline = Instant::now() + RETRY_INTERVAL * 5;
    let fresh = TenantId::generate();
    while a.degraded() || b.degraded() {
        assert!(
            Instant::now() < deadline,
            "Redis came back but the limiters did not"
        );
        a.check(fresh, &plan).await;
        b.check(fresh, &plan).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    room_in_this_minute(20).await;
    let tenant = TenantId::generate();
    assert_eq!(allowed(&a, tenant, &plan, 12).await, 12);
    assert_eq!(allowed(&b, tenant, &plan, 12).await, 8, "shared again");
}
