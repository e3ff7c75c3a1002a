//! `Query.rateLimit`: the calling client's budget of cost points, as GitHub's GraphQL API
//! reports it. The HTTP and websocket layers charge the request before it runs and place what
//! the budget came to in the request's data ([`ClientBudget`]); this only reads it back, so
//! the field costs nothing and cannot disagree with the `X-RateLimit-*` headers.
//!
//! An answer that reads its budget changes from one request to the next: the field marks the
//! request ([`ClientBudget::read`]) so that its answer is never served from the answer cache.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};

/// What a request was charged and where that left its client's budget; in the request's data
/// when a rate limit applies.
#[derive(Debug, Clone, Default)]
pub struct ClientBudget {
    /// The points this request was charged.
    pub cost: u64,
    pub limit: u64,
    pub used: u64,
    /// When the window ends, in seconds since the Unix epoch.
    pub reset_epoch: u64,
    /// Set when a resolver read the budget: the answer must not be cached.
    pub read: Arc<AtomicBool>,
}

impl ClientBudget {
    pub fn was_read(&self) -> bool {
        self.read.load(Ordering::Relaxed)
    }
}

/// A client's budget of cost points per window. A client is its token, or its address
/// without one.
#[derive(SimpleObject)]
pub struct RateLimit {
    /// The points this request cost: its query's cost (see `extensions.cost`), at least 1.
    cost: u64,
    /// The points the client may spend per window.
    limit: u64,
    /// The points left in the current window, after this request.
    remaining: u64,
    /// The points spent in the current window, this request included.
    used: u64,
    /// When the window ends and the budget is whole again (RFC 3339, UTC).
    reset_at: String,
}

#[derive(Default)]
pub struct RateLimitQuery;

#[Object]
impl RateLimitQuery {
    /// The calling client's rate limit: what this request cost and what is left. `null` when
    /// the server has no rate limit.
    async fn rate_limit(&self, ctx: &Context<'_>) -> Option<RateLimit> {
        let budget = ctx.data_opt::<ClientBudget>()?;
        budget.read.store(true, Ordering::Relaxed);
        let reset_at = chrono::DateTime::from_timestamp(budget.reset_epoch as i64, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Some(RateLimit {
            cost: budget.cost,
            limit: budget.limit,
            remaining: budget.limit.saturating_sub(budget.used),
            used: budget.used,
            reset_at,
        })
    }
}
