//! Client-side request budget and 429 backoff (ghl.md §7).
//!
//! GHL allows 100 requests per 10 s per location (25 for trial PITs). A [`Client`] and its
//! clones share one sliding-window log, so a burst waits here instead of earning 429s. The
//! budget GHL reports (`X-RateLimit-Max` per `X-RateLimit-Interval-Milliseconds`) is enforced
//! alongside the configured one, and `X-RateLimit-Remaining: 0` pauses every caller for one
//! interval. One client serves one location (a PIT or a
//! location OAuth token belongs to one sub-account), so the budget is per client.
//!
//! [`Client`]: crate::Client

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// How many requests may start in any window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Default 100 (`GHL_RATE_LIMIT_MAX`, see [`crate::ClientConfig::with_env_overrides`]).
    pub max_requests: u32,
    /// Default 10 s (`GHL_RATE_LIMIT_WINDOW_MS`).
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            max_requests: 100,
            window: Duration::from_secs(10),
        }
    }
}

/// How a 429 on an idempotent call (GET, PUT, DELETE and read-only POSTs such as contact
/// search) is retried. Creates are never retried: GHL has no idempotency keys (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries. Default 3.
    pub max_attempts: u32,
    /// Wait before the first retry when GHL gives no hint; doubles each time. Default 500 ms.
    pub base_delay: Duration,
    /// Longest single wait, whatever GHL asks. Default 30 s.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// One attempt only: a 429 comes straight back as [`crate::Error::RateLimited`].
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (1-based): GHL's hint when it gave one, else
    /// exponential, capped, plus up to 25 % jitter so clones don't retry in lockstep.
    pub(crate) fn backoff(&self, retry: u32, hint: Option<Duration>) -> Duration {
        let base = hint.unwrap_or_else(|| {
            self.base_delay
                .saturating_mul(2_u32.saturating_pow(retry.saturating_sub(1)))
        });
        let base = base.min(self.max_delay);
        base + base.mul_f64(jitter_fraction() * 0.25)
    }
}

/// A number in [0, 1) that differs between calls; good enough for jitter, not for secrets.
fn jitter_fraction() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

/// The shared sliding-window log behind [`RateLimit`].
#[derive(Debug)]
pub(crate) struct RateLimiter {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The configured budget.
    configured: (u32, Duration),
    /// The budget GHL last reported (`X-RateLimit-Max` per `X-RateLimit-Interval-Milliseconds`),
    /// enforced as well: a request starts only when both allow it.
    reported: Option<(u32, Duration)>,
    /// Start times of recent requests, oldest first.
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl State {
    fn limits(&self) -> impl Iterator<Item = (u32, Duration)> + '_ {
        std::iter::once(self.configured).chain(self.reported)
    }

    /// How long until a request may start, or `None` if it may start now.
    fn wait(&mut self, now: Instant) -> Option<Duration> {
        if let Some(until) = self.paused_until {
            if until > now {
                return Some(until - now);
            }
            self.paused_until = None;
        }
        let longest = self.limits().map(|(_, w)| w).max().unwrap_or_default();
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            self.sent.pop_front();
        }
        let mut wait = None::<Duration>;
        for (max, window) in self.limits() {
            let max = max.max(1) as usize;
            let in_window = self
                .sent
                .iter()
                .rev()
                .take_while(|t| now.duration_since(**t) < window)
                .count();
            if in_window >= max {
                // The request that must leave the window before another may start.
                let blocker = self.sent[self.sent.len() - max];
                let w = (blocker + window).saturating_duration_since(now);
                wait = Some(wait.map_or(w, |cur| cur.max(w)));
            }
        }
        wait
    }
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            state: Mutex::new(State {
                configured: (limit.max_requests.max(1), limit.window),
                reported: None,
                sent: VecDeque::new(),
                paused_until: None,
            }),
        }
    }

    /// Waits until a request may start, then records it.
    pub(crate) async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                let wait = s.wait(now);
                if wait.is_none() {
                    s.sent.push_back(now);
                }
                wait
            };
            match wait {
                None => return,
                Some(d) => {
                    tracing::debug!(
                        wait_ms = d.as_millis() as u64,
                        "ghl request budget spent, waiting"
                    );
                    tokio::time::sleep(d.max(Duration::from_millis(1))).await;
                }
            }
        }
    }

    /// Learns from GHL's `X-RateLimit-*` headers: the reported budget is enforced alongside
    /// the configured one, and `Remaining: 0` pauses everyone for one interval.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let max = header_u64(headers, "x-ratelimit-max");
        let interval = header_u64(headers, "x-ratelimit-interval-milliseconds")
            .map(Duration::from_millis)
            .filter(|i| !i.is_zero() && *i <= Duration::from_secs(3600));
        let remaining = header_u64(headers, "x-ratelimit-remaining");
        if max.is_none() && interval.is_none() && remaining.is_none() {
            return;
        }
        let mut s = self.lock();
        if let Some(max) = max.filter(|m| *m > 0) {
            let window = interval.unwrap_or(s.configured.1);
            let max = u32::try_from(max).unwrap_or(u32::MAX);
            s.reported = Some((max, window));
        }
        if remaining == Some(0) {
            let pause = interval.unwrap_or(s.configured.1);
            Self::pause_locked(&mut s, pause);
        }
    }

    /// Holds every caller back for `d` (after a 429).
    pub(crate) fn pause(&self, d: Duration) {
        let mut s = self.lock();
        Self::pause_locked(&mut s, d);
    }

    fn pause_locked(s: &mut State, d: Duration) {
        let until = Instant::now() + d;
        if s.paused_until.is_none_or(|u| u < until) {
            s.paused_until = Some(until);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves only timestamps behind: keep using them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_uses_the_hint_plus_at_most_a_quarter_of_jitter() {
        let p = RetryPolicy::default();
        for _ in 0..50 {
            let d = p.backoff(1, Some(Duration::from_millis(400)));
            assert!(
                d >= Duration::from_millis(400) && d <= Duration::from_millis(500),
                "{d:?}"
            );
        }
    }

    #[test]
    fn backoff_without_hint_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        assert!(p.backoff(2, None) >= Duration::from_millis(200));
        assert!(p.backoff(4, None) <= Duration::from_millis(375));
    }

    #[tokio::test]
    async fn lower_server_max_tightens_the_budget() {
        let limiter = RateLimiter::new(RateLimit {
            max_requests: 100,
            window: Duration::from_millis(200),
        });
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-max", "2".parse().expect("header"));
        limiter.observe(&h);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(190),
            "{:?}",
            start.elapsed()
        );
    }
}
