//! Inputs production code once mishandled (found by this corpus, now fixed), each run
//! with the workers settling after it.

use super::*;
use crate::compat::valid_create;
use crate::mp_listener::mp_url;
use serde_json::json;

pub fn cases(hub: &Hub) -> Vec<Case> {
    let mut cases = Vec::new();
    // The MP listener's JSON check (`IgnoredAny`) does not validate UTF-8 inside strings:
    // the delivery is stored (lossily converted) and answered 200.
    let (r, ts) = (rid(), now_secs());
    cases.push(
        Case::hook(
            "MP: valid signature, non-UTF-8 bytes in a string",
            "POST",
            mp_url("444"),
        )
        .header("x-signature", sign(&hub.secret, "444", &r, &ts))
        .header("x-request-id", r)
        .json(b"{\"a\":\"\xff\xfe\"}".to_vec())
        .expect(400),
    );
    // contactId is neither shape-checked nor looked up before the booking and its charge are
    // stored: GHL then refuses, and a failed booking, a cancelled charge and an audit line
    // stay behind (and over 64 characters MariaDB refuses the insert: 500).
    let base = valid_create();
    for bad in [
        "NoSuchContact0000001".to_string(),
        SQL_DROP.to_string(),
        UNICODE.to_string(),
        "../../etc/passwd".to_string(),
        "k".repeat(65),
        "k".repeat(10_000),
    ] {
        let shown: String = bad.chars().take(24).collect();
        cases.push(
            Case::api(
                format!(
                    "compat create: contactId = {shown:?} ({} chars)",
                    bad.chars().count()
                ),
                "POST",
                "/api/appointments/create/",
            )
            .json(with_field(&base, "contactId", json!(bad)))
            .expect(400)
            .lookups(),
        );
    }
    // The update forwards any assignedUserId of 1-64 characters to GHL.
    cases.push(
        Case::api(
            "compat update (seeded id): assignedUserId SQL",
            "PUT",
            format!("/api/appointments/update/{}/", hub.ghl_id),
        )
        .json(json!({"assignedUserId": SQL_OR}).to_string())
        .expect(400)
        .lookups(),
    );
    // `RefundDecision::parse` takes any text as a partial amount; on an unpaid booking it is
    // never looked at, and the appointment is cancelled. Last: a failure cancels the seed.
    for query in [
        "refund=-5",
        "refund=12.345",
        "refund=NaN",
        "refund=%27%3B%20DROP%20TABLE%20bookings%3B%20--",
        "refund=%E2%80%AE",
    ] {
        cases.push(
            Case::api(
                format!("compat delete (seeded id): ?{query}"),
                "DELETE",
                format!("/api/appointments/delete/{}/?{query}", hub.ghl_id),
            )
            .expect(400)
            .lookups(),
        );
    }
    cases
}
