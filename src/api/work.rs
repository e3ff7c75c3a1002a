//! Heavy resolvers run off the HTTP workers, one request's time limit at a time.
//!
//! An actix worker is one thread serving many connections: a path search that runs on it for a
//! second holds every other request of that worker for a second, `/healthz` included. So the
//! resolvers whose work grows with the graph (path searches, neighbourhoods, timelines, search,
//! rankings, common neighbours) hand that work to tokio's blocking pool and await it, which
//! frees the worker and gives the request's time limit an await point to fire at.
//!
//! At most [`HeavyWork`]'s permit count of them run at once (one per core): more would only
//! share the same cores more slowly, and a request waiting for a permit past its deadline gives
//! up without having run anything. The work itself checks the [`Deadline`] as it goes.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, ErrorExtensions, Result};
use tokio::sync::Semaphore;

use super::error::ApiError;
use crate::deadline::Deadline;
use crate::graph::GraphIndex;
use crate::service::GraphView;

/// A request's time limit, in its request data (set by the HTTP layer for queries).
#[derive(Debug, Clone, Copy)]
pub struct TimeLimit {
    pub deadline: Deadline,
    /// The limit the deadline was set from, for the error message.
    pub limit: Duration,
}

/// The permits for heavy work, in the schema data (shared by all requests).
#[derive(Clone)]
pub struct HeavyWork {
    permits: Arc<Semaphore>,
}

impl HeavyWork {
    /// One permit per core (at least two, so that one long search does not queue every other).
    pub fn per_core() -> HeavyWork {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        HeavyWork { permits: Arc::new(Semaphore::new(cores.max(2))) }
    }
}

/// The error of a request stopped by its time limit.
pub fn timed_out(limit: Duration) -> async_graphql::Error {
    ApiError::TimedOut { limit_ms: limit.as_millis() as u64 }.extend()
}

/// Runs `work` over the view on the blocking pool, within the request's time limit; the
/// result is an error if the deadline passed before or while it ran (a search cut short by
/// the deadline is not an answer).
pub async fn off_worker<T, F>(ctx: &Context<'_>, g: GraphView, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&GraphIndex, &Deadline) -> T + Send + 'static,
{
    let limit = ctx.data_opt::<TimeLimit>().copied();
    let deadline = limit.map_or(Deadline::NONE, |l| l.deadline);
    let stop = || timed_out(limit.map_or(Duration::ZERO, |l| l.limit));
    if deadline.expired() {
        return Err(stop());
    }
    let permit = match ctx.data_opt::<HeavyWork>() {
        Some(heavy) => {
            let acquire = heavy.permits.clone().acquire_owned();
            let permit = match deadline.instant() {
                Some(at) => match tokio::time::timeout_at(at.into(), acquire).await {
                    Ok(p) => p,
                    Err(_) => return Err(stop()),
                },
                None => acquire.await,
            };
            Some(permit.map_err(|_| ApiError::Internal("the heavy-work semaphore is closed".into()).extend())?)
        }
        None => None,
    };
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work(&g, &deadline)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("a graph search failed: {e}")).extend())?;
    if deadline.expired() {
        return Err(stop());
    }
    Ok(result)
}
