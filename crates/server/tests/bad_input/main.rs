//! A corpus of bad inputs against both webhook listeners and the compat REST API (DESIGN §7:
//! "bad input gets a clear error and changes nothing"), on a SQLite file and a MariaDB schema.
//!
//! The hub is wired as `mostrador-hub` wires it (`support::InProcess`: `host_config` → `Host`,
//! plus the compat router on the same `Desk`), against the in-process sandbox, over loopback
//! HTTP. For every case the test asserts:
//! 1. the status: exact where the contract names one (401 bad or missing signature or token,
//!    400 malformed JSON behind a valid signature or a validation error, 413 too big, 404
//!    unknown route, 405 known route with another method); any 4xx where several are fair,
//!    with the reason written next to the case;
//! 2. a short answer with no internal text (SQL, sqlx, panics, `Debug` output, file paths,
//!    addresses, tokens, secrets);
//! 3. that nothing changed: every row the `Store` can list (bookings, charges, their payments
//!    and audit lines, pending outbox rows, the inbox's counts) and the sandbox's records (GHL
//!    appointments, messages and the requests the app made, MP preferences and payments, both
//!    providers' webhook attempts).
//!
//! A few inputs are not errors by contract and are pinned as "ignored" (200, nothing
//! changed): unusable legacy IPNs, stale GHL events, exact replays of stored deliveries.
//!
//! Inputs that production code once mishandled (this corpus found them: an unknown or
//! malformed contactId stored a failed booking, non-UTF-8 inside a signed MP body was
//! stored, `?refund=` was not validated, `assignedUserId` was not shape-checked) are in
//! `regressions`, run with the workers settling after each.
//!
//! GHL deliveries with a *valid* signature over a bad body are signed with a test key
//! (`ed25519-dalek`, checked against RFC 8032's vectors) whose public key is configured like
//! any extra GHL key (`GHL_WEBHOOK_PUBLIC_KEYS`).
//!
//! This file runs the corpus; the cases live by surface: `mp_listener`, `ghl_listener`,
//! `sizes`, `ignored`, `routes`, `compat`, `regressions`. `case` says what a case is, `hub`
//! starts and drives the hub, `snapshot` reads what a case could have changed.

mod case;
mod compat;
mod ed25519;
mod ghl_listener;
mod hub;
mod ignored;
mod mp_listener;
mod regressions;
mod routes;
mod sizes;
mod snapshot;
#[path = "../support/mod.rs"]
mod support;

use case::*;
use hub::Hub;
use snapshot::preview;
use std::time::Instant;
use support::sign;
use testkit::Db;

const TOKEN: &str = "bad-input-hub-token-0123456789abcdef";
const MP_PATH: &str = "/api/payments/webhooks/mp/";
const GHL_PATH: &str = "/api/appointments/webhooks/ghl/appointments/";
/// Marks the test's own GHL reads so they are not counted as the app's requests.
const PROBE: &str = "probe=bad-input-snapshot";
const LISTENER_LIMIT: usize = server::listener::BODY_LIMIT;
const COMPAT_LIMIT: usize = 64 * 1024;
/// Not an HTTP status: the server closed the connection without an answer the client could
/// read (see [`Expect::TooBig`]).
const CLOSED_EARLY: u16 = 1;
const SQL_DROP: &str = "'; DROP TABLE bookings; --";
const SQL_OR: &str = "\" OR 1=1";
/// Right-to-left override, emoji, an escaped NUL and a combining mark in one string.
const UNICODE: &str = "\u{202e}evil\u{1F4A5}\u{0}e\u{301}";
/// Text that must never appear in an answer: internals, paths, addresses.
const LEAKS: &[&str] = &[
    "sqlx",
    "SQLx",
    "panicked",
    "Error {",
    "SELECT ",
    "INSERT INTO",
    "UPDATE ",
    "DELETE FROM",
    "FROM bookings",
    "webhook_inbox",
    "SQLSTATE",
    "Data too long",
    "database is locked",
    "mysql://",
    "sqlite:",
    "mostrador_t_",
    "/root",
    "/home/",
    "/work/",
    "/tmp/",
    "/var/",
    "src/",
    ".rs:",
    "stack backtrace",
    "RUST_BACKTRACE",
    "127.0.0.1",
    "localhost",
    "Bearer",
    "pit-",
    "APP_USR-",
];

// ---------------------------------------------------------------------------------------
// The corpus runs once per database.

testkit::on_both_databases!(
    bad_input_is_refused_and_changes_nothing,
    // Inputs that production code once mishandled (see `regressions`), each waited on until
    // the workers settle.
    former_bugs_stay_fixed,
);

async fn bad_input_is_refused_and_changes_nothing(db: Db) {
    run_corpus(db, corpus, false).await;
}

async fn former_bugs_stay_fixed(db: Db) {
    run_corpus(db, regressions::cases, true).await;
}

fn corpus(hub: &Hub) -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(mp_listener::mp_signature_cases(hub));
    cases.extend(mp_listener::mp_body_cases(hub));
    cases.extend(ghl_listener::ghl_signature_cases(hub));
    cases.extend(ghl_listener::ghl_body_cases(hub));
    cases.extend(sizes::size_cases(hub));
    cases.extend(ignored::ignored_cases(hub));
    cases.extend(routes::listener_route_cases());
    cases.extend(compat::compat_auth_cases(hub));
    cases.extend(compat::compat_create_cases());
    cases.extend(compat::compat_payment_cases(hub));
    cases.extend(compat::compat_update_delete_cases(hub));
    cases.extend(routes::compat_route_cases());
    cases
}

/// Runs `cases` against a fresh hub on `db`. `settle` waits after each case for the workers
/// and GHL's echoes, so a case that wrongly changed something is the one blamed for it.
async fn run_corpus(db: Db, cases: fn(&Hub) -> Vec<Case>, settle: bool) {
    let started = Instant::now();
    let label = db.label();
    let hub = Hub::start(db.open().await).await;
    let cases = cases(&hub);

    let baseline = hub.snapshot().await;
    let mut before = baseline.clone();
    let mut failures = Vec::new();
    let mut table = Vec::new();
    for case in &cases {
        let (status, body) = hub.send(case).await;
        if settle {
            hub.quiet().await;
        }
        let after = hub.snapshot().await;
        let mut wrong = Vec::new();
        if let Some(problem) = case.expect.check(status) {
            wrong.push(problem);
        }
        if matches!(case.expect, Expect::TooBig) && !hub.healthy().await {
            wrong.push("the listener is not healthy after it".into());
        }
        wrong.extend(hub.leaks(&body));
        wrong.extend(before.differences(&after, case.lookups));
        table.push(format!("{:>4}  {}", status, case.name));
        if !wrong.is_empty() {
            failures.push(format!(
                "[{label}] {} → {status} {}\n    {}",
                case.name,
                preview(&body),
                wrong.join("\n    ")
            ));
        }
        before = after;
    }
    // Nothing arrives late either: the workers ran all along.
    hub.quiet().await;
    let last = hub.snapshot().await;
    for d in baseline.differences(&last, true) {
        failures.push(format!(
            "[{label}] after the corpus, against the baseline: {d}"
        ));
    }
    eprintln!(
        "bad_input[{label}]: {} cases in {:.1?}\n{}",
        cases.len(),
        started.elapsed(),
        table.join("\n")
    );
    hub.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed on {label}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
