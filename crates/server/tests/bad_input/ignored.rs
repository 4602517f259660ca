//! Inputs answered 200 by contract that change nothing: unusable IPNs, stale events, replays.

use super::*;
use crate::ghl_listener::ghl_event;

pub fn ignored_cases(hub: &Hub) -> Vec<Case> {
    let stale = chrono::Utc::now() - chrono::Duration::hours(2);
    let stale_cancel = ghl_event(hub, "AppointmentDelete", stale);
    let stale_unknown = ghl_event(hub, "ContactDelete", stale);
    let mut replay_mp = Case::hook(
        "MP: exact replay of a stored delivery (deduplicated)",
        "POST",
        hub.stored_mp.path.clone(),
    )
    .json(hub.stored_mp.body.clone())
    .ignored();
    for (k, v) in &hub.stored_mp.headers {
        replay_mp = replay_mp.header(k, v);
    }
    let mut replay_ghl = Case::hook(
        "GHL: exact replay of a stored delivery (deduplicated)",
        "POST",
        GHL_PATH,
    )
    .body(hub.stored_ghl.body.clone())
    .ignored();
    for (k, v) in &hub.stored_ghl.headers {
        replay_ghl = replay_ghl.header(k, v);
    }
    // A legacy IPN is unsigned and may only trigger a re-read; one that names no payment is
    // acknowledged (MP retries anything else for days) and ignored.
    let ipn = |name: &str, query: &str| {
        Case::hook(
            format!("MP IPN: {name}"),
            "POST",
            format!("{MP_PATH}?{query}"),
        )
        .ignored()
    };
    vec![
        replay_mp,
        replay_ghl,
        Case::hook(
            "GHL: valid signature, 2 h old AppointmentDelete (outside the 75 min window)",
            "POST",
            GHL_PATH,
        )
        .header(
            "x-ghl-signature",
            b64(&hub.signer.sign(stale_cancel.as_bytes())),
        )
        .json(stale_cancel)
        .ignored(),
        Case::hook(
            "GHL: valid signature, 2 h old unknown event type",
            "POST",
            GHL_PATH,
        )
        .header(
            "x-ghl-signature",
            b64(&hub.signer.sign(stale_unknown.as_bytes())),
        )
        .json(stale_unknown)
        .ignored(),
        ipn("unknown topic", "topic=merchant_order&id=1"),
        ipn("non-numeric id", "topic=payment&id=abc"),
        ipn("21-digit id", "topic=payment&id=123456789012345678901"),
        ipn("negative id", "topic=payment&id=-1"),
        ipn(
            "SQL in id",
            "topic=payment&id=1%27%3B%20DROP%20TABLE%20bookings%3B%20--",
        ),
        ipn("unicode id", "topic=payment&id=%E2%80%AE%F0%9F%92%A5"),
        ipn("unknown topic with SQL", "topic=%22%20OR%201%3D1&id=1"),
    ]
}
