//! The time limit of a request, as the work it pays for sees it.
//!
//! The cost limit refuses requests that ask for too much before anything runs, but the cost of a
//! graph search is a guess made without the graph: a path search between two hubs can examine far
//! more than its cost says. So every query also gets a deadline, and the searches that can run
//! long check it as they go and stop when it has passed; the resolver then answers with
//! `REQUEST_TIMEOUT` rather than with whatever the search found by then (a half-searched answer
//! would look like a complete one).

use std::time::{Duration, Instant};

/// When a request's work must stop; `NONE` never passes (commands, tests, benches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    pub const NONE: Deadline = Deadline(None);

    pub fn after(limit: Duration) -> Deadline {
        Deadline(Instant::now().checked_add(limit))
    }

    pub fn at(instant: Instant) -> Deadline {
        Deadline(Some(instant))
    }

    pub fn instant(&self) -> Option<Instant> {
        self.0
    }

    pub fn expired(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }

    /// A checker for a loop: reading the clock at every step of a search would cost more than
    /// the step, so it is read once every [`Ticker::EVERY`] steps.
    pub fn ticker(&self) -> Ticker {
        Ticker { deadline: *self, steps: 0, expired: false }
    }
}

/// Counts the steps of a loop and tells, every [`Ticker::EVERY`] of them, whether the deadline
/// has passed; once it has, it says so at every step.
#[derive(Debug, Clone)]
pub struct Ticker {
    deadline: Deadline,
    steps: u32,
    expired: bool,
}

impl Ticker {
    pub const EVERY: u32 = 256;

    /// One step: whether the work must stop now.
    #[inline]
    pub fn tick(&mut self) -> bool {
        if self.expired {
            return true;
        }
        if self.deadline.0.is_none() {
            return false;
        }
        self.steps = self.steps.wrapping_add(1);
        if self.steps % Self::EVERY == 0 {
            self.expired = self.deadline.expired();
        }
        self.expired
    }

    /// Whether a step has seen the deadline passed.
    pub fn has_expired(&self) -> bool {
        self.expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_never_expires_and_a_past_deadline_stops_within_one_round() {
        let mut t = Deadline::NONE.ticker();
        assert!((0..10_000).all(|_| !t.tick()));
        let past = Deadline::at(Instant::now() - Duration::from_millis(1));
        assert!(past.expired());
        let mut t = past.ticker();
        let steps = (1..).take_while(|_| !t.tick()).count() as u32;
        assert_eq!(steps, Ticker::EVERY - 1);
        assert!(t.tick() && t.has_expired());
        assert!(!Deadline::after(Duration::from_secs(60)).expired());
    }
}
