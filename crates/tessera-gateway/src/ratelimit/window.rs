//! Fixed windows (one minute, one day) aligned to unix time, and the decision a pair of
//! counts makes. Both backends share this, so the in-process and the Redis limiter answer a
//! request the same way.

use http::{HeaderMap, HeaderName, HeaderValue};
use tessera_core::PlanLimits;

const MINUTE: u64 = 60;
const DAY: u64 = 86_400;

/// The windows a request at unix second `now` falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Windows {
    /// Minutes since the epoch: the minute window's index.
    pub minute: u64,
    /// Days since the epoch (UTC): the day window's index.
    pub day: u64,
    /// Seconds until the minute window ends (1..=60).
    pub minute_reset: u64,
    /// Seconds until the day window ends (1..=86400).
    pub day_reset: u64,
}

impl Windows {
    /// Times before the epoch (only a broken clock gives them) count as the epoch.
    pub fn at(unix_secs: i64) -> Self {
        let now = u64::try_from(unix_secs).unwrap_or(0);
        Self {
            minute: now / MINUTE,
            day: now / DAY,
            minute_reset: MINUTE - now % MINUTE,
            day_reset: DAY - now % DAY,
        }
    }
}

/// Whether a request may pass given the counts of its windows before it.
pub(crate) fn admits(limits: &PlanLimits, minute_before: u64, day_before: u64) -> bool {
    minute_before < limits.requests_per_minute
        && limits
            .requests_per_day
            .is_none_or(|limit| day_before < limit)
}

// Statics: `from_static` at run time checks the name anew on every call.
static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Every header a rate-limited response may carry (for a CORS layer to expose).
pub const HEADERS: [&HeaderName; 4] = [
    &X_RATELIMIT_LIMIT,
    &X_RATELIMIT_REMAINING,
    &X_RATELIMIT_RESET,
    &http::header::RETRY_AFTER,
];

/// The answer to one request, reporting the most constraining window: when refused, the
/// refusing window that frees up last; when allowed, the window with the fewest requests left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The reported window's limit.
    pub limit: u64,
    /// Requests left in the reported window after this one.
    pub remaining: u64,
    /// Seconds until the reported window starts afresh.
    pub reset_secs: u64,
    /// Set when refused: seconds until a request can pass.
    pub retry_after_secs: Option<u64>,
}

struct Window {
    limit: u64,
    count: u64,
    reset: u64,
}

impl Decision {
    /// The decision for counts taken *after* the request was counted (when allowed) or as
    /// they stood (when refused: a refused request is never counted).
    pub(crate) fn from_counts(
        windows: &Windows,
        limits: &PlanLimits,
        allowed: bool,
        minute_count: u64,
        day_count: u64,
    ) -> Self {
        let minute = Window {
            limit: limits.requests_per_minute,
            count: minute_count,
            reset: windows.minute_reset,
        };
        let day = limits.requests_per_day.map(|limit| Window {
            limit,
            count: day_count,
            reset: windows.day_reset,
        });
        let candidates = std::iter::once(&minute).chain(day.as_ref());
        let reported = if allowed {
            // Fewest left; on a tie the longer wait is the more constraining.
            candidates.min_by_key(|w| (w.limit.saturating_sub(w.count), u64::MAX - w.reset))
        } else {
            candidates
                .filter(|w| w.count >= w.limit)
                .max_by_key(|w| w.reset)
        }
        // A refusal always has a full window; this only guards a caller passing bad counts.
        .unwrap_or(&minute);
        Self {
            allowed,
            limit: reported.limit,
            remaining: reported.limit.saturating_sub(reported.count),
            reset_secs: reported.reset,
            retry_after_secs: (!allowed).then_some(reported.reset),
        }
    }

    /// Writes `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds until
    /// the window resets) and, when refused, `Retry-After` (seconds).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(X_RATELIMIT_LIMIT.clone(), number(self.limit));
        headers.insert(X_RATELIMIT_REMAINING.clone(), number(self.remaining));
        headers.insert(X_RATELIMIT_RESET.clone(), number(self.reset_secs));
        if let Some(seconds) = self.retry_after_secs {
            headers.insert(http::header::RETRY_AFTER, number(seconds));
        }
    }
}

/// A number as a header value, in one allocation of its exact size (`HeaderValue::from(u64)`
/// makes two: a buffer with room to spare, then a shared copy of it).
fn number(value: u64) -> HeaderValue {
    HeaderValue::from_bytes(itoa::Buffer::new().format(value).as_bytes())
        .unwrap_or_else(|_| unreachable!("digits are a valid header value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u64, per_day: Option<u64>) -> PlanLimits {
        PlanLimits {
            requests_per_minute: per_minute,
            requests_per_day: per_day,
            max_agents: None,
            concurrent_tasks: 1,
        }
    }

    #[test]
    fn windows_align_to_unix_time() {
        let w = Windows::at(86_400 * 3 + 60 * 5 + 7);
        assert_eq!((w.day, w.minute), (3, 3 * 1440 + 5));
        assert_eq!((w.minute_reset, w.day_reset), (53, 86_400 - 307));
        assert_eq!(Windows::at(120).minute_reset, 60);
    }

    #[test]
    fn reports_the_window_with_fewest_left_and_the_refusing_one() {
        let w = Windows::at(30);
        let l = limits(10, Some(100));
        let d = Decision::from_counts(&w, &l, true, 3, 95);
        assert_eq!((d.limit, d.remaining, d.reset_secs), (100, 5, 86_370));
        let d = Decision::from_counts(&w, &l, true, 8, 20);
        assert_eq!((d.limit, d.remaining, d.reset_secs), (10, 2, 30));
        let d = Decision::from_counts(&w, &l, false, 10, 20);
        assert_eq!(
            (d.limit, d.remaining, d.retry_after_secs),
            (10, 0, Some(30))
        );
        // Both full: only the day's end lets a request through.
        let d = Decision::from_counts(&w, &l, false, 10, 100);
        assert_eq!((d.limit, d.retry_after_secs), (100, Some(86_370)));
    }

    #[test]
    fn headers_carry_the_decision() {
        let d = Decision::from_counts(&Windows::at(59), &limits(5, None), false, 5, 9);
        let mut headers = HeaderMap::new();
        d.write_headers(&mut headers);
        assert_eq!(headers["x-ratelimit-limit"], "5");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        assert_eq!(headers["x-ratelimit-reset"], "1");
        assert_eq!(headers["retry-after"], "1");
        let d = Decision::from_counts(&Windows::at(0), &limits(5, None), true, 1, 1);
        let mut headers = HeaderMap::new();
        d.write_headers(&mut headers);
        assert_eq!(headers["x-ratelimit-remaining"], "4");
        assert!(!headers.contains_key("retry-after"));
    }
}
