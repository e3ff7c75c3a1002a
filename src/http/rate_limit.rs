//! Rate limits per client: a budget of cost points per window, as GitHub's GraphQL API has
//! (there 5,000 points an hour). The per-query cost limit ([`crate::api::limits`]) bounds what
//! one request may ask for; this bounds what one client may ask for over time, so that one
//! client cannot take the whole server with many requests that are each allowed.
//!
//! A client is the token's name when a request sends one, else the peer's address. The peer
//! address is the TCP connection's: `X-Forwarded-For` is not read (a client could write any
//! address there), so behind a reverse proxy every anonymous client shares the proxy's budget;
//! such a deployment should give its clients tokens or raise the budget.
//!
//! The model is a fixed window per client, started by the client's first request: `used`
//! points are charged within it, and it ends (`used` back to 0) at `reset`. That is what
//! `X-RateLimit-Limit`, `-Remaining`, `-Used` and `-Reset` can state honestly. A GCRA limiter
//! (the `governor` crate) refills continuously; it can say when a refused request may retry,
//! but it has no window whose use and end could be reported, so it is not used here.
//!
//! Memory is bounded: the table is split into shards by the client's hash, each holding at
//! most [`SHARD_CLIENTS`] clients. A client whose window has ended holds nothing worth keeping
//! (its next request starts a fresh window anyway), so a full shard first drops those; if all
//! are live, it drops the eighth whose windows end soonest. An attacker with more addresses than
//! the table holds can thus get fresh windows sooner; it cannot make the table grow.
//!
//! Invariant: `used <= limit` for every stored window; a charge that would pass the limit is
//! refused whole and charges nothing.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// The default of [`RateLimitConfig::points`]: enough for a person in GraphiQL or on
/// `/explore` (a page of 100 relations with both ends and their citations costs about 1,000;
/// GraphiQL's introspection query a few thousand), ten queries at the per-query limit a minute.
pub const DEFAULT_POINTS: u64 = 100_000;
/// The default of [`RateLimitConfig::window`]: a minute, so that a person who ran into the
/// limit waits a minute at most, not GitHub's hour.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

const SHARDS: usize = 16;
/// The most clients one shard holds: 16 × 4,096 = 65,536 clients, about 100 bytes each.
pub const SHARD_CLIENTS: usize = 4096;

/// Settings of the rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// The points one client may spend per window; 0 turns rate limiting off.
    pub points: u64,
    /// How long a client's window lasts.
    pub window: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig { points: DEFAULT_POINTS, window: DEFAULT_WINDOW }
    }
}

/// Whom a budget belongs to (and whom the websocket limits count): a token's name, or the
/// peer's address without a token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    Token(String),
    Peer(Option<IpAddr>),
}

/// A client's budget as it stands after a charge (or a look).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub used: u64,
    /// When the window ends, in seconds since the Unix epoch (rounded up).
    pub reset_epoch: u64,
    /// How long until then, in whole seconds (rounded up, at least 1 while it runs).
    pub reset_in_secs: u64,
}

impl Budget {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    /// `X-RateLimit-Limit`, `-Remaining`, `-Used` and `-Reset` (epoch seconds).
    pub fn add_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("x-ratelimit-limit", self.limit),
            ("x-ratelimit-remaining", self.remaining()),
            ("x-ratelimit-used", self.used),
            ("x-ratelimit-reset", self.reset_epoch),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
}

struct Window {
    started: Instant,
    used: u64,
    /// The end, in epoch seconds, fixed when the window starts so every answer states the same.
    reset_epoch: u64,
}

/// The budgets of all clients, shared by the workers.
pub struct RateLimiter {
    config: RateLimitConfig,
    shards: Vec<Mutex<HashMap<ClientKey, Window>>>,
    hasher: foldhash::fast::RandomState,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            config,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// How long a window lasts.
    pub fn window(&self) -> Duration {
        self.config.window
    }

    /// Whether a limit applies at all.
    pub fn enabled(&self) -> bool {
        self.config.points > 0 && !self.config.window.is_zero()
    }

    /// Charges `points` to `client`: `Ok` with the budget after the charge, or `Err` with the
    /// budget as it stands (nothing charged) when the charge would pass the limit. `None`
    /// when rate limiting is off.
    pub fn charge(&self, client: &ClientKey, points: u64) -> Option<Result<Budget, Budget>> {
        self.charge_at(client, points, Instant::now(), SystemTime::now())
    }

    /// The budget of `client` without charging it.
    pub fn peek(&self, client: &ClientKey) -> Option<Budget> {
        self.charge_at(client, 0, Instant::now(), SystemTime::now()).map(|r| r.unwrap_or_else(|b| b))
    }

    fn charge_at(
        &self,
        client: &ClientKey,
        points: u64,
        now: Instant,
        wall: SystemTime,
    ) -> Option<Result<Budget, Budget>> {
        if !self.enabled() {
            return None;
        }
        let window = self.config.window;
        let shard = &self.shards[self.hasher.hash_one(client) as usize % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        let live = |w: &Window| now.duration_since(w.started) < window;
        if !map.contains_key(client) && map.len() >= SHARD_CLIENTS {
            map.retain(|_, w| live(w));
            if map.len() >= SHARD_CLIENTS {
                // An eighth at a time, so that the scan is paid once per 512 new clients.
                let mut oldest: Vec<(Instant, ClientKey)> = map.iter().map(|(k, w)| (w.started, k.clone())).collect();
                let cut = SHARD_CLIENTS / 8;
                oldest.select_nth_unstable_by_key(cut, |(started, _)| *started);
                for (_, k) in &oldest[..cut] {
                    map.remove(k);
                }
            }
        }
        let w = map.entry(client.clone()).or_insert_with(|| fresh(now, wall, window));
        if !live(w) {
            *w = fresh(now, wall, window);
        }
        let left = window.saturating_sub(now.duration_since(w.started));
        let reset_in_secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let budget = |used| Budget { limit: self.config.points, used, reset_epoch: w.reset_epoch, reset_in_secs };
        if w.used + points > self.config.points {
            return Some(Err(budget(w.used)));
        }
        w.used += points;
        Some(Ok(budget(w.used)))
    }
}

fn fresh(now: Instant, wall: SystemTime, window: Duration) -> Window {
    let end = wall.duration_since(UNIX_EPOCH).unwrap_or_default() + window;
    Window { started: now, used: 0, reset_epoch: end.as_secs() + u64::from(end.subsec_nanos() > 0) }
}

/// What a request is charged, given its cost (`None`: no operation of that name): its cost,
/// at least 1; a request refused before it runs (a syntax error, no such operation, past the
/// per-query cost limit) is charged 1, so a client that only sends those still meets its
/// budget, while one that sent an honest mistake has lost next to nothing.
pub fn points_for(cost: Option<u64>, max_cost: u64) -> u64 {
    match cost {
        Some(c) if c <= max_cost => c.max(1),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(points: u64, secs: u64) -> RateLimiter {
        RateLimiter::new(RateLimitConfig { points, window: Duration::from_secs(secs) })
    }

    #[test]
    fn a_window_spends_down_refuses_whole_and_resets() {
        let l = limiter(10, 60);
        let (t0, wall) = (Instant::now(), UNIX_EPOCH + Duration::from_secs(1_000));
        let a = ClientKey::Peer(None);
        let b = l.charge_at(&a, 4, t0, wall).unwrap().unwrap();
        assert_eq!((b.used, b.remaining(), b.reset_epoch, b.reset_in_secs), (4, 6, 1_060, 60));
        let later = t0 + Duration::from_millis(30_500);
        assert_eq!(l.charge_at(&a, 6, later, wall).unwrap().unwrap().reset_in_secs, 30);
        let refused = l.charge_at(&a, 1, later, wall).unwrap().unwrap_err();
        assert_eq!((refused.used, refused.remaining()), (10, 0), "a refusal charges nothing");
        let next = l.charge_at(&a, 1, t0 + Duration::from_secs(60), wall + Duration::from_secs(60)).unwrap().unwrap();
        assert_eq!((next.used, next.reset_epoch), (1, 1_120), "a new window after the end");
    }

    #[test]
    fn clients_have_their_own_budgets_and_off_is_off() {
        let l = limiter(5, 60);
        let token = ClientKey::Token("app".into());
        let peer = ClientKey::Peer(Some("127.0.0.1".parse().unwrap()));
        assert!(l.charge(&token, 5).unwrap().is_ok());
        assert!(l.charge(&token, 1).unwrap().is_err());
        assert_eq!(l.charge(&peer, 5).unwrap().unwrap().used, 5);
        assert!(limiter(0, 60).charge(&token, 1_000_000).is_none());
    }

    #[test]
    fn the_table_is_bounded() {
        let l = limiter(5, 60);
        for i in 0..(SHARDS * SHARD_CLIENTS * 2) as u32 {
            l.charge(&ClientKey::Token(i.to_string()), 1);
        }
        let held: usize = l.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(held <= SHARDS * SHARD_CLIENTS, "{held}");
    }

    #[test]
    fn refused_requests_cost_one_point() {
        assert_eq!(points_for(None, 100), 1);
        assert_eq!(points_for(Some(0), 100), 1);
        assert_eq!(points_for(Some(50), 100), 50);
        assert_eq!(points_for(Some(101), 100), 1);
    }
}
