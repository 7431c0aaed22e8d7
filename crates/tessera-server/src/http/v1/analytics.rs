//! `/v1/tenants/{tenant_id}/analytics/*`: token trends, agent activity (heat-map data) and
//! per-agent usage, read from the usage counters (see [`crate::usage`]); never from the log.
//! Counts trail the log by the consumer's wake-up (immediately for this instance's events).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use tessera_core::AgentId;
use tessera_core::agent::AgentStatus;
use tessera_core::usage::{Bucket, UsageKind};
use tessera_proto::agents::AgentStatus as WireStatus;
use tessera_proto::analytics as wire;
use time::{Duration, OffsetDateTime};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::extract::{Read, TenantAccess};
use crate::error::ApiError;
use crate::http::json::ApiQuery;
use crate::http::openapi::KeyErrors;
use crate::state::AppState;

/// The longest hourly range: 90 days of hours.
const MAX_HOURLY: Duration = Duration::days(90);
/// The longest daily range.
const MAX_DAILY: Duration = Duration::days(366);
/// Counter rows one activity response reads at most.
const MAX_ACTIVITY_ROWS: u32 = 20_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token_trend))
        .routes(routes!(agent_activity))
        .routes(routes!(usage_summary))
}

/// `[since, until)` from the query, defaults filled in, widened to whole buckets and checked:
/// since before until, not before 1970, not longer than `max`.
fn range(
    now: OffsetDateTime,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    default_span: Duration,
    max: Duration,
    bucket: Bucket,
) -> Result<(OffsetDateTime, OffsetDateTime), ApiError> {
    let until = until.unwrap_or(now);
    let since = match since {
        Some(since) => since,
        None => until
            .checked_sub(default_span)
            .ok_or_else(|| ApiError::invalid("until: out of range"))?,
    };
    if since.unix_timestamp() < 0 {
        return Err(ApiError::invalid("since: must not be before 1970-01-01"));
    }
    if since >= until {
        return Err(ApiError::invalid("since: must be before until"));
    }
    let width = bucket.secs();
    let start = bucket.floor(since);
    let end_secs = until.unix_timestamp();
    let end = end_secs
        .checked_add((width - end_secs.rem_euclid(width)) % width)
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .ok_or_else(|| ApiError::invalid("until: out of range"))?;
    if end - start > max {
        let unit = match bucket {
            Bucket::Hour => "hourly",
            Bucket::Day => "daily",
        };
        return Err(ApiError::invalid(format!(
            "since, until: an {unit} range is at most {} days",
            max.whole_days()
        )));
    }
    Ok((start, end))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Tokens issued per hour or per UTC day, every bucket of the range included.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/analytics/token-trend", tag = "analytics",
    params(("tenant_id" = String, Path), wire::TokenTrendQuery),
    responses((status = 200, body = wire::TokenTrend), KeyErrors),
    security(("api_key" = [])))]
async fn token_trend(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ApiQuery(query): ApiQuery<wire::TokenTrendQuery>,
) -> Result<Json<wire::TokenTrend>, ApiError> {
    let (bucket, wire_bucket, default_span, max) = match query.bucket.unwrap_or(wire::Bucket::Hour)
    {
        wire::Bucket::Hour => (
            Bucket::Hour,
            wire::Bucket::Hour,
            Duration::days(1),
            MAX_HOURLY,
        ),
        wire::Bucket::Day => (
            Bucket::Day,
            wire::Bucket::Day,
            Duration::days(30),
            MAX_DAILY,
        ),
    };
    let (since, until) = range(
        state.clock.now(),
        query.since,
        query.until,
        default_span,
        max,
        bucket,
    )?;
    let series = state
        .store
        .usage_series(
            access.tenant_id,
            UsageKind::TokenIssued,
            bucket,
            since,
            until,
        )
        .await?;
    let counted: HashMap<OffsetDateTime, i64> = series.into_iter().collect();
    let step = Duration::seconds(bucket.secs());
    let mut points = Vec::new();
    let mut start = since;
    while start < until {
        points.push(wire::TrendPoint {
            start,
            tokens_issued: count(counted.get(&start).copied().unwrap_or(0)),
        });
        start += step;
    }
    Ok(Json(wire::TokenTrend {
        bucket: wire_bucket,
        since,
        until,
        total: points.iter().map(|p| p.tokens_issued).sum(),
        points,
    }))
}

/// What each agent did per hour (heat-map data); hours without activity are left out.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/analytics/agent-activity", tag = "analytics",
    params(("tenant_id" = String, Path), wire::AgentActivityQuery),
    responses((status = 200, body = wire::AgentActivity), KeyErrors),
    security(("api_key" = [])))]
async fn agent_activity(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ApiQuery(query): ApiQuery<wire::AgentActivityQuery>,
) -> Result<Json<wire::AgentActivity>, ApiError> {
    let agent = query
        .agent_id
        .as_deref()
        .map(|raw| {
            raw.parse::<AgentId>()
                .map_err(|e| ApiError::invalid(format!("agent_id: {e}")))
        })
        .transpose()?;
    let (since, until) = range(
        state.clock.now(),
        query.since,
        query.until,
        Duration::days(7),
        MAX_HOURLY,
        Bucket::Hour,
    )?;
    let mut rows = state
        .store
        .usage_hourly(access.tenant_id, agent, since, until, MAX_ACTIVITY_ROWS + 1)
        .await?;
    let truncated = rows.len() > MAX_ACTIVITY_ROWS as usize;
    if truncated {
        // Rows come by hour: drop the last (possibly partial) hour so every cell is whole.
        rows.truncate(MAX_ACTIVITY_ROWS as usize);
        if let Some(last) = rows.last().map(|r| r.hour) {
            rows.retain(|r| r.hour < last);
        }
    }
    let mut cells: Vec<wire::ActivityCell> = Vec::new();
    for row in rows {
        let agent_id = row.agent_id.to_string();
        let same = cells
            .last()
            .is_some_and(|c| c.hour == row.hour && c.agent_id == agent_id);
        if !same {
            cells.push(wire::ActivityCell {
                agent_id,
                hour: row.hour,
                events: 0,
                tokens_issued: 0,
                gateway_calls: 0,
            });
        }
        if let Some(cell) = cells.last_mut() {
            let n = count(row.n);
            cell.events += n;
            match row.kind {
                UsageKind::TokenIssued => cell.tokens_issued += n,
                UsageKind::GatewayCall => cell.gateway_calls += n,
                UsageKind::Other => {}
            }
        }
    }
    Ok(Json(wire::AgentActivity {
        since,
        until,
        cells,
        truncated,
    }))
}

/// Each agent's all-time usage and when it was last seen, a page of agents at a time.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/analytics/usage-summary", tag = "analytics",
    params(("tenant_id" = String, Path), wire::UsageSummaryQuery),
    responses((status = 200, body = wire::UsageSummary), KeyErrors),
    security(("api_key" = [])))]
async fn usage_summary(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ApiQuery(query): ApiQuery<wire::UsageSummaryQuery>,
) -> Result<Json<wire::UsageSummary>, ApiError> {
    let (limit, after) = page(query.limit, query.cursor.as_deref())?;
    let page = state.store.agents(access.tenant_id, after, limit).await?;
    let bounds = page.items.first().zip(page.items.last());
    let totals = match bounds {
        Some((first, last)) => {
            state
                .store
                .usage_totals(access.tenant_id, Some((first.id, last.id)))
                .await?
        }
        None => Vec::new(),
    };
    let agents = page
        .items
        .iter()
        .map(|agent| {
            let mut usage = wire::AgentUsage {
                agent_id: agent.id.to_string(),
                name: agent.name.clone(),
                status: match agent.status {
                    AgentStatus::Active => WireStatus::Active,
                    AgentStatus::Disabled => WireStatus::Disabled,
                },
                tokens_issued: 0,
                gateway_calls: 0,
                events: 0,
                last_seen_at: None,
            };
            for total in totals.iter().filter(|t| t.agent_id == agent.id) {
                let n = count(total.n);
                usage.events += n;
                match total.kind {
                    UsageKind::TokenIssued => usage.tokens_issued += n,
                    UsageKind::GatewayCall => usage.gateway_calls += n,
                    UsageKind::Other => {}
                }
                usage.last_seen_at = usage.last_seen_at.max(Some(total.last_at));
            }
            usage
        })
        .collect();
    Ok(Json(wire::UsageSummary {
        agents,
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// `limit` (1 to 200, 50 by default) and the agent id a `cursor` names.
pub(super) fn page(
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<(u32, Option<AgentId>), ApiError> {
    let limit = super::page_limit(limit)?;
    let after: Option<AgentId> = super::cursor(cursor)?;
    Ok((limit, after))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-04-10 15:20 UTC);

    #[test]
    fn ranges_widen_to_whole_buckets_and_are_capped() {
        let hourly = |since, until| {
            range(
                NOW,
                since,
                until,
                Duration::days(1),
                MAX_HOURLY,
                Bucket::Hour,
            )
        };
        assert_eq!(
            hourly(None, None).ok(),
            Some((
                datetime!(2026-04-09 15:00 UTC),
                datetime!(2026-04-10 16:00 UTC)
            ))
        );
        let exact = datetime!(2026-04-10 15:00 UTC);
        assert_eq!(
            hourly(Some(exact - Duration::hours(2)), Some(exact)).ok(),
            Some((exact - Duration::hours(2), exact))
        );
        assert!(hourly(Some(NOW), Some(NOW)).is_err());
        assert!(hourly(Some(NOW), Some(NOW - Duration::hours(1))).is_err());
        assert!(hourly(Some(NOW - Duration::days(91)), None).is_err());
        assert!(hourly(Some(datetime!(1969-12-31 23:00 UTC)), None).is_err());
        let daily = range(
            NOW,
            Some(NOW - Duration::days(300)),
            None,
            Duration::days(30),
            MAX_DAILY,
            Bucket::Day,
        );
        assert_eq!(
            daily.ok(),
            Some((
                datetime!(2025-06-14 00:00 UTC),
                datetime!(2026-04-11 00:00 UTC)
            ))
        );
        let far = datetime!(9999-12-31 23:30 UTC);
        assert!(hourly(Some(far - Duration::hours(1)), Some(far)).is_err());
    }
}
