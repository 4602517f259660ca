//! Rate limiting (ghl.md §7) against a recording loopback server: the shared client-side
//! budget, GHL's `X-RateLimit-*` headers, and bounded 429 backoff for idempotent calls.
//! Budgets and windows are shrunk so each test runs in well under two seconds on an idle machine.

mod common;

use std::time::{Duration, Instant};

use common::{Reply, pit_client, recording, seen};
use ghl::{Error, RateLimit, RetryPolicy};

const LOCATION_BODY: &str = r#"{"location":{"id":"Loc1"}}"#;

#[tokio::test]
async fn a_429_is_retried_after_the_advised_interval_and_succeeds() {
    let (base, log) = recording(|_, i| {
        if i == 0 {
            Reply::json(429, r#"{"statusCode":429,"message":"Too Many Requests"}"#)
                .header("X-RateLimit-Interval-Milliseconds", "200")
                .header("X-RateLimit-Max", "100")
                .header("X-RateLimit-Remaining", "0")
        } else {
            Reply::json(200, LOCATION_BODY)
        }
    })
    .await;
    let started = Instant::now();
    let location = pit_client(&base, |_| {})
        .get_location("Loc1")
        .await
        .expect("second attempt succeeds");
    assert_eq!(location.id, "Loc1");
    let calls = seen(&log);
    assert_eq!(calls.len(), 2);
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_millis(195), "waited {gap:?}");
    // ~0.25 s when correct, room for a slow machine, below a 10 s window a misread hint would wait.
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn retry_after_wins_over_the_interval() {
    let (base, log) = recording(|_, i| {
        if i == 0 {
            Reply::json(429, "")
                .header("Retry-After", "0")
                .header("X-RateLimit-Interval-Milliseconds", "10000")
        } else {
            Reply::json(200, LOCATION_BODY)
        }
    })
    .await;
    let started = Instant::now();
    pit_client(&base, |_| {})
        .get_location("Loc1")
        .await
        .expect("retried at once");
    assert_eq!(seen(&log).len(), 2);
    // Below the 10 s (+ jitter) the interval would cost, with seconds to spare for a slow machine.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retries_are_bounded_then_rate_limited_is_returned() {
    let (base, log) = recording(|_, _| Reply::json(429, "").header("Retry-After", "0")).await;
    let err = pit_client(&base, |c| {
        c.retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        }
    })
    .get_location("Loc1")
    .await
    .expect_err("always 429");
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d) } if d.is_zero()),
        "{err:?}"
    );
    assert_eq!(seen(&log).len(), 3, "three attempts in all");
}

#[tokio::test]
async fn without_hints_backoff_grows_from_the_base_delay() {
    let (base, log) = recording(|_, i| {
        if i < 2 {
            Reply::json(429, "")
        } else {
            Reply::json(200, LOCATION_BODY)
        }
    })
    .await;
    pit_client(&base, |c| {
        c.retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
        }
    })
    .get_location("Loc1")
    .await
    .expect("third attempt");
    let calls = seen(&log);
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(48));
    assert!(
        calls[2].at - calls[1].at >= Duration::from_millis(98),
        "doubled"
    );
}

#[tokio::test]
async fn a_burst_never_exceeds_the_budget_in_any_window() {
    const MAX: usize = 10;
    const WINDOW: Duration = Duration::from_millis(300);
    const CALLS: usize = 35;
    let (base, log) = recording(|_, _| Reply::json(200, LOCATION_BODY)).await;
    let client = pit_client(&base, |c| {
        c.rate_limit = RateLimit {
            max_requests: MAX as u32,
            window: WINDOW,
        };
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CALLS {
        // Clones share the budget.
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.get_location("Loc1").await }));
    }
    for t in tasks {
        t.await.expect("task").expect("call");
    }
    let elapsed = started.elapsed();
    let mut arrivals: Vec<Instant> = seen(&log).iter().map(|s| s.at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), CALLS);
    // The limiter lets call k start no sooner than k / MAX whole windows after the first start,
    // and a call arrives after it starts: only a spent budget can break this, a slow machine
    // (which delays arrivals, never hastens them) cannot.
    for (k, at) in arrivals.iter().enumerate() {
        let earliest = WINDOW * (k / MAX) as u32;
        assert!(
            *at - started >= earliest,
            "call {k} arrived {:?} in, before {earliest:?}",
            *at - started
        );
    }
    // 35 calls at 10 per 300 ms need at least three full windows.
    assert!(elapsed >= WINDOW * 3, "{elapsed:?}");
    // Room for a slow machine over the ~0.9 s needed; one call per window would take 10.5 s.
    assert!(elapsed < WINDOW * 20, "{elapsed:?}");
}

#[tokio::test]
async fn remaining_zero_pauses_the_next_call_for_one_interval() {
    let (base, log) = recording(|_, i| {
        let reply = Reply::json(200, LOCATION_BODY)
            .header("X-RateLimit-Max", "100")
            .header("X-RateLimit-Interval-Milliseconds", "250");
        if i == 0 {
            reply.header("X-RateLimit-Remaining", "0")
        } else {
            reply.header("X-RateLimit-Remaining", "99")
        }
    })
    .await;
    let client = pit_client(&base, |c| {
        c.rate_limit = RateLimit {
            max_requests: 100,
            window: Duration::from_millis(100),
        };
    });
    client.get_location("Loc1").await.expect("first");
    client.get_location("Loc1").await.expect("second");
    let calls = seen(&log);
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_millis(240), "paused {gap:?}");
}

#[tokio::test]
async fn a_lower_server_max_tightens_the_client_budget() {
    let (base, log) = recording(|_, _| {
        Reply::json(200, LOCATION_BODY)
            .header("X-RateLimit-Max", "2")
            .header("X-RateLimit-Remaining", "1")
    })
    .await;
    let client = pit_client(&base, |c| {
        c.rate_limit = RateLimit {
            max_requests: 100,
            window: Duration::from_millis(200),
        };
    });
    let started = Instant::now();
    for _ in 0..3 {
        client.get_location("Loc1").await.expect("call");
    }
    let calls = seen(&log);
    // From before the first start, not its arrival, which a loaded machine can delay.
    assert!(
        calls[2].at - started >= Duration::from_millis(190),
        "third call waited for the window"
    );
}
