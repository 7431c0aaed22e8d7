//! The in-process limiter: exact boundaries, windows rolling with the clock, refusals that
//! count nowhere, unlimited days, and memory released when days pass.

use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

use super::*;

#[derive(Debug)]
struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    /// `unix` seconds since the epoch.
    fn at(unix: i64) -> Arc<Self> {
        Arc::new(Self(Mutex::new(
            OffsetDateTime::from_unix_timestamp(unix).unwrap(),
        )))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

fn limits(per_minute: u64, per_day: Option<u64>) -> PlanLimits {
    PlanLimits {
        requests_per_minute: per_minute,
        requests_per_day: per_day,
        max_agents: None,
        concurrent_tasks: 1,
    }
}

/// A day starts at a multiple of 86 400 s; this is 10 s into some minute of day 20 000.
const DAY_START: i64 = 20_000 * 86_400;

#[tokio::test]
async fn the_last_request_of_a_minute_is_allowed_with_none_left_and_the_next_refused() {
    let clock = TestClock::at(DAY_START + 10);
    let limiter = RateLimiter::in_process(clock.clone());
    let tenant = TenantId::generate();
    let plan = limits(60, Some(1_000));
    for n in 1..=60 {
        let d = limiter.check(tenant, &plan).await;
        assert!(d.allowed, "request {n}");
        assert_eq!((d.limit, d.remaining, d.reset_secs), (60, 60 - n, 50));
        assert_eq!(d.retry_after_secs, None);
    }
    let refused = limiter.check(tenant, &plan).await;
    assert_eq!(
        refused,
        Decision {
            allowed: false,
            limit: 60,
            remaining: 0,
            reset_secs: 50,
            retry_after_secs: Some(50),
        }
    );
    assert!(
        limiter.check(TenantId::generate(), &plan).await.allowed,
        "other tenants have their own counters"
    );
}

#[tokio::test]
async fn a_new_minute_starts_afresh_but_the_day_keeps_counting() {
    let clock = TestClock::at(DAY_START + 59);
    let limiter = RateLimiter::in_process(clock.clone());
    let tenant = TenantId::generate();
    let plan = limits(2, Some(5));
    assert!(limiter.check(tenant, &plan).await.allowed);
    assert!(limiter.check(tenant, &plan).await.allowed);
    let refused = limiter.check(tenant, &plan).await;
    assert_eq!(refused.retry_after_secs, Some(1));
    clock.advance(Duration::seconds(1));
    let d = limiter.check(tenant, &plan).await;
    assert!(d.allowed, "a new minute");
    assert_eq!((d.limit, d.remaining), (2, 1));
    assert!(limiter.check(tenant, &plan).await.allowed);
    clock.advance(Duration::minutes(1));
    // Four counted today; the fifth is the day's last.
    let d = limiter.check(tenant, &plan).await;
    assert!(d.allowed);
    assert_eq!((d.limit, d.remaining), (5, 0));
    let refused = limiter.check(tenant, &plan).await;
    assert!(
        !refused.allowed,
        "the day is spent although the minute is not"
    );
    assert_eq!(refused.limit, 5);
    assert_eq!(refused.retry_after_secs, Some(86_400 - 120));
    clock.advance(Duration::seconds(86_400 - 120));
    assert!(limiter.check(tenant, &plan).await.allowed, "a new day");
}

#[tokio::test]
async fn a_refused_request_counts_in_neither_window() {
    let clock = TestClock::at(DAY_START);
    let limiter = RateLimiter::in_process(clock.clone());
    let tenant = TenantId::generate();
    let plan = limits(3, Some(10));
    for _ in 0..3 {
        assert!(limiter.check(tenant, &plan).await.allowed);
    }
    // Refused by the minute: these must not eat into the day.
    for _ in 0..20 {
        assert!(!limiter.check(tenant, &plan).await.allowed);
    }
    for minute in 1..=2 {
        clock.advance(Duration::minutes(1));
        for _ in 0..3 {
            assert!(
                limiter.check(tenant, &plan).await.allowed,
                "minute {minute}"
            );
        }
    }
    clock.advance(Duration::minutes(1));
    let d = limiter.check(tenant, &plan).await;
    assert!(d.allowed, "the day's 10th");
    assert_eq!((d.limit, d.remaining), (10, 0));
    // Refused by the day: the minute keeps its room for tomorrow's first requests.
    assert!(!limiter.check(tenant, &plan).await.allowed);
    clock.advance(Duration::days(1));
    for _ in 0..3 {
        assert!(limiter.check(tenant, &plan).await.allowed);
    }
}

#[tokio::test]
async fn an_unlimited_day_never_refuses_and_reports_the_minute() {
    let clock = TestClock::at(DAY_START);
    let limiter = RateLimiter::in_process(clock.clone());
    let tenant = TenantId::generate();
    let plan = limits(1_000, None);
    for minute in 0..5 {
        for _ in 0..1_000 {
            let d = limiter.check(tenant, &plan).await;
            assert!(d.allowed, "minute {minute}");
            assert_eq!(d.limit, 1_000);
        }
        assert!(!limiter.check(tenant, &plan).await.allowed);
        clock.advance(Duration::minutes(1));
    }
}

#[tokio::test]
async fn counts_of_past_days_are_dropped() {
    let clock = TestClock::at(DAY_START);
    let limiter = RateLimiter::in_process(clock.clone());
    let plan = limits(10, Some(100));
    for _ in 0..100 {
        limiter.check(TenantId::generate(), &plan).await;
    }
    assert_eq!(limiter.local.tenants(), 100);
    clock.advance(Duration::hours(1));
    limiter.check(TenantId::generate(), &plan).await;
    assert_eq!(limiter.local.tenants(), 101, "today's counts stay");
    clock.advance(Duration::days(1));
    limiter.check(TenantId::generate(), &plan).await;
    assert_eq!(limiter.local.tenants(), 1);
}

#[tokio::test]
async fn embedded_mode_is_never_degraded_and_a_bad_redis_url_is_refused() {
    let limiter = RateLimiter::in_process(TestClock::at(0));
    assert!(!limiter.degraded());
    let error = RateLimiter::with_redis("redis://:secret@", TestClock::at(0)).unwrap_err();
    assert!(!error.to_string().contains("secret"), "{error}");
}
