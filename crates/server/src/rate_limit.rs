//! A per-client budget for refused requests on the public listener.
//!
//! Only requests the listener refuses (bad or missing signature, malformed, unknown route,
//! too big: any 4xx but its own 429) are charged. A verified delivery costs nothing and is
//! never refused by the limit, so junk traffic cannot push real deliveries into 429 — which
//! matters behind a tunnel or proxy, where every request comes from one address. A client
//! whose budget is spent gets 429 instead of its refusal until the budget refills.
//!
//! The client is the peer address, or — when the peer is a configured trusted proxy
//! (`TRUSTED_PROXIES`) — the nearest untrusted address in `X-Forwarded-For`. IPv6 clients
//! are grouped by /64 (one host usually owns a whole /64). The warning about refused
//! clients is itself limited to one line a minute.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many refusals a client may earn at once, and how fast its allowance refills.
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

/// An address range, `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    base: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, canonical(ip)) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let base = canonical(
            IpAddr::from_str(addr).map_err(|_| format!("{s:?} is not an IP address or range"))?,
        );
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has a bad prefix length"))?,
        };
        Ok(IpRange { base, prefix })
    }
}

/// Parses a comma-separated list of addresses and ranges (`TRUSTED_PROXIES`).
pub fn parse_ranges(list: &str) -> Result<Vec<IpRange>, String> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(IpRange::from_str)
        .collect()
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The bucket a client is charged to: its address, or its /64 for IPv6.
fn bucket_of(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// Who a request is from: the peer, or behind trusted proxies the nearest address in
/// `X-Forwarded-For` that is not one of them.
pub fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpRange]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.iter().any(|r| r.contains(peer)) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = IpAddr::from_str(hop.trim()) else {
            // A hop we cannot read was written by someone we do not trust: stop at the
            // proxy we do.
            return peer;
        };
        let ip = canonical(ip);
        if !trusted.iter().any(|r| r.contains(ip)) {
            return ip;
        }
    }
    peer
}

/// Buckets by client, shared by the listener's handlers.
#[derive(Clone)]
pub struct Limiter {
    limit: RateLimit,
    trusted: Arc<Vec<IpRange>>,
    buckets: Arc<Mutex<HashMap<IpAddr, (f64, Instant)>>>,
    warning: Arc<Mutex<Warning>>,
}

/// One warning a minute at most, with how many refusals it stands for.
struct Warning {
    last: Option<Instant>,
    suppressed: u64,
}

/// Clients tracked at most; past this, full buckets are dropped.
const MAX_CLIENTS: usize = 10_000;
const WARN_EVERY: Duration = Duration::from_secs(60);

impl Limiter {
    pub fn new(limit: RateLimit, trusted: Vec<IpRange>) -> Self {
        Self {
            limit,
            trusted: Arc::new(trusted),
            buckets: Arc::new(Mutex::new(HashMap::new())),
            warning: Arc::new(Mutex::new(Warning {
                last: None,
                suppressed: 0,
            })),
        }
    }

    /// The client a request is charged to.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        bucket_of(client_of(peer, headers, &self.trusted))
    }

    /// Charges one refusal to `client`; `false` when its budget was already spent.
    pub fn charge(&self, client: IpAddr) -> bool {
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

    /// Logs a client over its budget, once a minute at most; returns whether it logged.
    fn warn_over_limit(&self, client: IpAddr) -> bool {
        let Ok(mut w) = self.warning.lock() else {
            return false;
        };
        let now = Instant::now();
        if w.last.is_some_and(|t| now.duration_since(t) < WARN_EVERY) {
            w.suppressed += 1;
            return false;
        }
        tracing::warn!(
            %client,
            suppressed = w.suppressed,
            "listener refusing a client over its budget of refused requests"
        );
        w.last = Some(now);
        w.suppressed = 0;
        true
    }
}

/// Middleware: runs the request; a refusal is charged to its client, and a client over its
/// budget gets 429 in place of the refusal.
pub async fn limit(
    State(limiter): State<Limiter>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let client = limiter.client(peer.ip(), request.headers());
    let response = next.run(request).await;
    let status = response.status();
    let refused = status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS;
    if !refused || limiter.charge(client) {
        return response;
    }
    limiter.warn_over_limit(client);
    (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(serde_json::json!({ "error": "too many requests" })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_client_gets_its_burst_then_is_refused_while_others_are_not() {
        let limiter = Limiter::new(
            RateLimit {
                burst: 5.0,
                per_second: 0.001,
            },
            Vec::new(),
        );
        let a = ip("10.0.0.1");
        let b = ip("10.0.0.2");
        assert!((0..5).all(|_| limiter.charge(a)));
        assert!(!limiter.charge(a));
        assert!(limiter.charge(b));
    }

    #[test]
    fn forwarded_for_is_read_only_from_a_trusted_proxy() {
        let trusted = parse_ranges("127.0.0.1, 10.0.0.0/8").unwrap();
        let h = forwarded("203.0.113.7, 10.1.2.3");
        // From the trusted proxy: the nearest untrusted hop.
        assert_eq!(client_of(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.7"));
        // From anyone else the header is the client's own words: ignored.
        assert_eq!(
            client_of(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        // Nothing trusted configured: the peer.
        assert_eq!(client_of(ip("127.0.0.1"), &h, &[]), ip("127.0.0.1"));
        // A hop that is not an address stops the walk at the proxy.
        let junk = forwarded("203.0.113.7, not-an-ip");
        assert_eq!(client_of(ip("127.0.0.1"), &junk, &trusted), ip("127.0.0.1"));
        // A client cannot hide behind spoofed hops on the left of the real one.
        let spoofed = forwarded("1.1.1.1, 203.0.113.9");
        assert_eq!(
            client_of(ip("127.0.0.1"), &spoofed, &trusted),
            ip("203.0.113.9")
        );
        // IPv4-mapped peers count as their IPv4 address.
        assert_eq!(
            client_of(ip("::ffff:127.0.0.1"), &h, &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let limiter = Limiter::new(
            RateLimit {
                burst: 2.0,
                per_second: 0.001,
            },
            Vec::new(),
        );
        let none = HeaderMap::new();
        let a = limiter.client(ip("2001:db8:1:2::1"), &none);
        let b = limiter.client(ip("2001:db8:1:2:ffff::9"), &none);
        let other = limiter.client(ip("2001:db8:1:3::1"), &none);
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert!(limiter.charge(a) && limiter.charge(b));
        assert!(!limiter.charge(a), "one /64, one budget");
        assert!(limiter.charge(other));
    }

    #[test]
    fn ranges_parse_and_match() {
        assert!(parse_ranges("10.0.0.0/33").is_err());
        assert!(parse_ranges("nope").is_err());
        assert!(parse_ranges("").unwrap().is_empty());
        let r: IpRange = "192.168.0.0/16".parse().unwrap();
        assert!(r.contains(ip("192.168.44.1")));
        assert!(!r.contains(ip("192.169.0.1")));
        let all: IpRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: IpRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
    }

    #[test]
    fn the_warning_is_logged_once_a_minute() {
        let limiter = Limiter::new(RateLimit::default(), Vec::new());
        assert!(limiter.warn_over_limit(ip("10.0.0.1")));
        assert!(!limiter.warn_over_limit(ip("10.0.0.1")));
        assert!(!limiter.warn_over_limit(ip("10.0.0.2")));
    }
}
