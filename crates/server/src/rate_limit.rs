//! A per-client token bucket for the public listener: generous enough for a provider's
//! bursts of deliveries, tight enough that one client cannot flood the desk. Over the limit
//! the answer is 429 — which GHL also reads as "retry later".

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How many requests a client may send at once, and how fast its allowance refills.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub burst: f64,
    pub per_second: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            burst: 300.0,
            per_second: 100.0,
        }
    }
}

/// Buckets by client address, shared by the listener's handlers.
#[derive(Clone)]
pub struct Limiter {
    limit: RateLimit,
    buckets: Arc<Mutex<HashMap<IpAddr, (f64, Instant)>>>,
}

/// Clients tracked at most; past this, idle buckets are dropped.
const MAX_CLIENTS: usize = 10_000;

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes one token for `client`; `false` when it has none left.
    pub fn allow(&self, client: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() >= MAX_CLIENTS {
            let limit = self.limit;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * limit.per_second < limit.burst
            });
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.limit.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.limit.per_second)
            .min(self.limit.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Middleware: 429 for a client over its allowance.
pub async fn limit(
    State(limiter): State<Limiter>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if limiter.allow(peer.ip()) {
        next.run(request).await
    } else {
        tracing::warn!(client = %peer.ip(), "listener rate limit reached");
        (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({ "error": "too many requests" })),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_is_refused_while_others_are_not() {
        let limiter = Limiter::new(RateLimit {
            burst: 5.0,
            per_second: 0.001,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..5).all(|_| limiter.allow(a)));
        assert!(!limiter.allow(a));
        assert!(limiter.allow(b));
    }
}
