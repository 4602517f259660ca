//! The compat REST API: its token, creating an appointment, charging one, update and delete.

use super::*;
use sandbox::seed;
use serde_json::{Value, json};

// ---- the compat API: the token

pub fn valid_create() -> Value {
    json!({
        "calendarId": seed::CONSULTA_GENERAL_CALENDAR_ID,
        "contactId": seed::CONTACT_IDS[2],
        "startTime": lima(1, 11, 0),
        "endTime": lima(1, 11, 30),
        "payment_amount": "150.50",
        "title": "Control",
        "payment_description": "Consulta",
    })
}

pub fn compat_auth_cases(hub: &Hub) -> Vec<Case> {
    let body = valid_create().to_string();
    let create = |name: &str| {
        Case::anon(
            format!("compat token: {name}"),
            "POST",
            "/api/appointments/create/",
        )
        .json(body.clone())
        .expect(401)
    };
    let last_dropped = &TOKEN[..TOKEN.len() - 1];
    let mut cases = vec![
        create("no Authorization"),
        create("empty Authorization").header("authorization", ""),
        create("Bearer without a token").header("authorization", "Bearer"),
        create("Bearer and a space").header("authorization", "Bearer "),
        create("Basic scheme").header(
            "authorization",
            format!("Basic {}", b64(format!("api:{TOKEN}").as_bytes())),
        ),
        create("Token scheme").header("authorization", format!("Token {TOKEN}")),
        create("the token without a scheme").header("authorization", TOKEN),
        create("one character more").header("authorization", bearer(&format!("{TOKEN}x"))),
        create("one character less").header("authorization", bearer(last_dropped)),
        create("uppercased token").header("authorization", bearer(&TOKEN.to_uppercase())),
        create("two spaces").header("authorization", format!("Bearer  {TOKEN}")),
        create("the MP webhook secret").header("authorization", bearer(&hub.secret)),
        create("the GHL access token").header("authorization", bearer(&hub.ghl_token)),
        create("SQL as the token").header("authorization", bearer(SQL_OR)),
        create("raw 0xFF bytes").header("authorization", b"Bearer \xff\xfe"),
        create("a wrong header first, the right one second")
            .header("authorization", bearer("wrong"))
            .header("authorization", bearer(TOKEN)),
        create("token in a cookie").header("cookie", format!("token={TOKEN}")),
        create("token in another header").header("x-api-key", TOKEN),
        Case::anon(
            "compat token: token in the query",
            "POST",
            format!("/api/appointments/create/?token={TOKEN}&access_token={TOKEN}"),
        )
        .json(body.clone())
        .expect(401),
    ];
    let ghl_id = &hub.ghl_id;
    let pay = json!({"appointmentId": ghl_id, "contactId": seed::CONTACT_IDS[0], "amount": "10.00", "description": "x"}).to_string();
    for (method, path, body) in [
        (
            "GET",
            "/api/appointments/appointments/".to_string(),
            String::new(),
        ),
        ("GET", "/api/payments/".to_string(), String::new()),
        ("POST", "/api/payments/create/".to_string(), pay),
        (
            "PUT",
            format!("/api/appointments/update/{ghl_id}/"),
            json!({"appointmentStatus": "cancelled"}).to_string(),
        ),
        (
            "DELETE",
            format!("/api/appointments/delete/{ghl_id}/"),
            String::new(),
        ),
        ("GET", "/api/nowhere/".to_string(), String::new()),
    ] {
        cases.push(
            Case::anon(
                format!("compat token: none on {method} {path}"),
                method,
                &path,
            )
            .json(body.clone())
            .expect(401),
        );
        cases.push(
            Case::anon(
                format!("compat token: wrong on {method} {path}"),
                method,
                &path,
            )
            .header("authorization", bearer(&format!("{TOKEN}x")))
            .json(body)
            .expect(401),
        );
    }
    cases
}

// ---- the compat API: creating an appointment

pub fn compat_create_cases() -> Vec<Case> {
    pub const PATH: &str = "/api/appointments/create/";
    let base = valid_create();
    let case = |name: String, body: Vec<u8>| Case::api(name, "POST", PATH).json(body).expect(400);
    let mut cases = Vec::new();
    for (what, body) in malformed_json() {
        cases.push(case(format!("compat create: {what}"), body));
    }
    for (what, body) in not_objects() {
        cases.push(case(format!("compat create: {what}"), body.to_vec()));
    }
    for (what, content_type, body) in wrong_formats() {
        cases.push(
            Case::api(format!("compat create: {what} body"), "POST", PATH)
                .header("content-type", content_type)
                .body(body)
                .expect(400),
        );
    }
    cases.push(case(
        "compat create: duplicate keys".into(),
        format!("{{\"calendarId\":\"x\",{}", &base.to_string()[1..]).into_bytes(),
    ));
    cases.push(case(
        "compat create: 10,000 levels of nesting in payment_amount (under 64 KiB)".into(),
        with_raw(
            &base,
            "payment_amount",
            &String::from_utf8(nested(10_000)).unwrap(),
        ),
    ));
    for field in [
        "calendarId",
        "contactId",
        "startTime",
        "endTime",
        "payment_amount",
    ] {
        cases.push(case(
            format!("compat create: {field} missing"),
            without(&base, field),
        ));
        cases.push(case(
            format!("compat create: {field} null"),
            with_field(&base, field, Value::Null),
        ));
    }
    // Wrong JSON types for the text fields.
    for field in [
        "calendarId",
        "contactId",
        "startTime",
        "endTime",
        "title",
        "payment_description",
        "locationId",
    ] {
        for raw in ["5", "1700000000000", "[\"a\"]", "{\"a\":1}", "true"] {
            cases.push(case(
                format!("compat create: {field} = {raw}"),
                with_raw(&base, field, raw),
            ));
        }
    }
    for raw in [
        "{\"value\":150}",
        "[150]",
        "true",
        "false",
        "-150",
        "-0.01",
        "0",
        "-0",
        "\"0.00\"",
        "12.345",
        "\"12.345\"",
        "\"0.001\"",
        "\"NaN\"",
        "\"nan\"",
        "NaN",
        "\"Infinity\"",
        "Infinity",
        "\"-Infinity\"",
        "\"1e3\"",
        "1e3",
        "1E3",
        "1e400",
        "\"99999999999999999999999999999999999\"",
        "100000000.01",
        "\"100000001\"",
        "1000000000000000000000000000000000000000000000000000",
        "\"12,50\"",
        "\"١٢٣\"",
        "\"0x10\"",
        "\"12.50 PEN\"",
        "\"S/ 12.50\"",
        "\"\"",
        "\"   \"",
        "\"\\u0000\"",
        "\"\\u202e150\"",
        "\"\\ud800\"",
        "\"💰\"",
    ] {
        cases.push(case(
            format!("compat create: payment_amount = {raw}"),
            with_raw(&base, "payment_amount", raw),
        ));
    }
    for text in [SQL_DROP, SQL_OR] {
        cases.push(case(
            format!("compat create: payment_amount = {text:?}"),
            with_field(&base, "payment_amount", json!(text)),
        ));
    }
    let (start, end) = (lima(1, 11, 0), lima(1, 11, 30));
    for (field, bad) in [
        ("startTime", "2031-01-01T10:00:00".to_string()),
        ("startTime", "2031-01-01".to_string()),
        ("startTime", "10:00".to_string()),
        ("startTime", "mañana a las 10".to_string()),
        ("startTime", "garbage".to_string()),
        ("startTime", String::new()),
        ("startTime", "   ".to_string()),
        ("startTime", "2031-13-45T99:99:99Z".to_string()),
        ("startTime", "2031-02-30T10:00:00Z".to_string()),
        ("startTime", "2031-01-01T10:00:00+25:00".to_string()),
        ("startTime", "+10000-01-01T10:00:00Z".to_string()),
        ("startTime", "Wed, 01 Jan 2031 10:00:00 +0000".to_string()),
        ("startTime", "1924300800000".to_string()),
        ("startTime", format!("{start}\u{0}")),
        ("startTime", format!("\u{202e}{start}")),
        ("startTime", format!("{start}\u{1F4A5}")),
        ("startTime", "２０３１-０１-０１T10:00:00Z".to_string()),
        ("endTime", "2031-01-01T10:30:00".to_string()),
        ("endTime", "never".to_string()),
        ("startTime", SQL_DROP.to_string()),
        ("endTime", SQL_OR.to_string()),
    ] {
        cases.push(case(
            format!("compat create: {field} = {bad:?}"),
            with_field(&base, field, json!(bad)),
        ));
    }
    let mut swapped = base.clone();
    swapped["startTime"] = json!(end);
    swapped["endTime"] = json!(start);
    cases.push(case(
        "compat create: end before start".into(),
        swapped.to_string().into_bytes(),
    ));
    cases.push(case(
        "compat create: end equal to start".into(),
        with_field(&base, "endTime", json!(start)),
    ));
    let mut past = base.clone();
    past["startTime"] = json!(lima(-1, 11, 0));
    past["endTime"] = json!(lima(-1, 11, 30));
    cases.push(case(
        "compat create: start in the past".into(),
        past.to_string().into_bytes(),
    ));
    for (field, bad) in [
        ("calendarId", "no-such-calendar".to_string()),
        ("calendarId", SQL_DROP.to_string()),
        ("calendarId", SQL_OR.to_string()),
        ("calendarId", UNICODE.to_string()),
        ("calendarId", "../../etc/passwd".to_string()),
        ("calendarId", "   ".to_string()),
        ("calendarId", "c".repeat(10_000)),
        ("locationId", "other-location".to_string()),
        ("locationId", SQL_DROP.to_string()),
        ("locationId", UNICODE.to_string()),
        ("contactId", "   ".to_string()),
        ("title", "t".repeat(201)),
        ("title", "ñ".repeat(30_000)),
        ("payment_description", "d".repeat(201)),
        ("payment_description", "   ".to_string()),
    ] {
        let shown: String = bad.chars().take(24).collect();
        cases.push(case(
            format!(
                "compat create: {field} = {shown:?} ({} chars)",
                bad.chars().count()
            ),
            with_field(&base, field, json!(bad)),
        ));
    }
    cases.push(case(
        "compat create: a lone surrogate escaped in calendarId".into(),
        with_raw(&base, "calendarId", "\"\\ud800\""),
    ));
    // A valid body with a bad Idempotency-Key.
    for (what, key) in [
        ("129 characters", "k".repeat(129)),
        ("8 KiB", "k".repeat(8 * 1024)),
        ("blank", "   ".to_string()),
    ] {
        cases.push(
            case(
                format!("compat create: Idempotency-Key {what}"),
                base.to_string().into_bytes(),
            )
            .header("idempotency-key", key),
        );
    }
    cases
}

// ---- the compat API: charging an existing appointment

pub fn compat_payment_cases(hub: &Hub) -> Vec<Case> {
    pub const PATH: &str = "/api/payments/create/";
    let base = json!({
        "appointmentId": hub.ghl_id,
        "contactId": seed::CONTACT_IDS[0],
        "amount": "80.00",
        "description": "Consulta",
    });
    let case = |name: String, body: Vec<u8>| Case::api(name, "POST", PATH).json(body).expect(400);
    let mut cases = Vec::new();
    for (what, body) in malformed_json() {
        cases.push(case(format!("compat payment: {what}"), body));
    }
    for (what, body) in not_objects() {
        cases.push(case(format!("compat payment: {what}"), body.to_vec()));
    }
    for (what, content_type, body) in wrong_formats() {
        cases.push(
            Case::api(format!("compat payment: {what} body"), "POST", PATH)
                .header("content-type", content_type)
                .body(body)
                .expect(400),
        );
    }
    cases.push(case("compat payment: {}".into(), b"{}".to_vec()));
    for field in ["appointmentId", "contactId", "amount", "description"] {
        cases.push(case(
            format!("compat payment: {field} missing"),
            without(&base, field),
        ));
        for raw in ["5", "[\"a\"]", "{\"a\":1}", "true", "\"\""] {
            if field == "amount" && raw == "5" {
                continue; // a valid amount
            }
            cases.push(case(
                format!("compat payment: {field} = {raw}"),
                with_raw(&base, field, raw),
            ));
        }
    }
    cases.push(case(
        "compat payment: description blank".into(),
        with_field(&base, "description", json!("   ")),
    ));
    cases.push(case(
        "compat payment: description 201 characters".into(),
        with_field(&base, "description", json!("d".repeat(201))),
    ));
    // Amounts are checked before the appointment: with the seeded appointment (which already
    // has a link) a regression here would answer 409, not 400.
    for raw in [
        "{\"value\":80}",
        "[80]",
        "false",
        "-80",
        "0",
        "12.345",
        "\"0.001\"",
        "\"NaN\"",
        "\"Infinity\"",
        "\"1e3\"",
        "1e400",
        "\"99999999999999999999999999999999999\"",
        "100000000.01",
        "\"12,50\"",
        "\"\\ud800\"",
    ] {
        cases.push(case(
            format!("compat payment: amount = {raw}"),
            with_raw(&base, "amount", raw),
        ));
    }
    for text in [SQL_DROP, SQL_OR] {
        cases.push(case(
            format!("compat payment: amount = {text:?}"),
            with_field(&base, "amount", json!(text)),
        ));
    }
    for bad in [
        SQL_DROP.to_string(),
        SQL_OR.to_string(),
        "../../etc/passwd".to_string(),
        UNICODE.to_string(),
        "\u{0}".to_string(),
        "a b".to_string(),
        "a".repeat(65),
        "a".repeat(10_000),
    ] {
        let shown: String = bad.chars().take(24).collect();
        cases.push(case(
            format!("compat payment: appointmentId = {shown:?}"),
            with_field(&base, "appointmentId", json!(bad)),
        ));
    }
    cases.push(
        case(
            "compat payment: a well-formed appointmentId GHL does not know".into(),
            with_field(&base, "appointmentId", json!("NoSuchAppointment0001")),
        )
        .expect(404)
        .lookups(),
    );
    cases.push(
        case(
            "compat payment: a second link for the seeded appointment".into(),
            base.to_string().into_bytes(),
        )
        .expect(409),
    );
    cases
}

// ---- the compat API: update and delete (added by another change; 4xx either way)

pub fn compat_update_delete_cases(hub: &Hub) -> Vec<Case> {
    pub const WHY_ID: &str = "no such route yet (404), or a bad or unknown id (400/404)";
    pub const WHY_BODY: &str = "no such route yet (404), or a validation error (400)";
    let ids = [
        (
            "SQL",
            "%27%3B%20DROP%20TABLE%20bookings%3B%20--".to_string(),
        ),
        ("quote OR", "%22%20OR%201%3D1".to_string()),
        ("encoded traversal", "..%2F..%2Fpayments".to_string()),
        ("NUL", "%00".to_string()),
        ("non-UTF-8", "%FF%FE".to_string()),
        ("RTL override", "%E2%80%AEevil".to_string()),
        ("emoji", "%F0%9F%92%A5".to_string()),
        ("blank", "%20".to_string()),
        ("5,000 characters", "a".repeat(5000)),
    ];
    let mut cases = Vec::new();
    for (what, id) in &ids {
        cases.push(
            Case::api(
                format!("compat update: {what} id"),
                "PUT",
                format!("/api/appointments/update/{id}/"),
            )
            .json(json!({"title": "Nuevo título"}).to_string())
            .client_error(WHY_ID),
        );
        cases.push(
            Case::api(
                format!("compat delete: {what} id"),
                "DELETE",
                format!("/api/appointments/delete/{id}/"),
            )
            .client_error(WHY_ID),
        );
    }
    cases.push(
        Case::api(
            "compat update: well-formed id GHL does not know",
            "PUT",
            "/api/appointments/update/NoSuchAppointment0001/",
        )
        .json(json!({"title": "Nuevo título"}).to_string())
        .client_error(WHY_ID)
        .lookups(),
    );
    cases.push(
        Case::api(
            "compat delete: well-formed id GHL does not know",
            "DELETE",
            "/api/appointments/delete/NoSuchAppointment0001/",
        )
        .client_error(WHY_ID)
        .lookups(),
    );
    let update = format!("/api/appointments/update/{}/", hub.ghl_id);
    let (start, end) = (lima(1, 9, 0), lima(1, 9, 30));
    let mut bodies: Vec<(String, Vec<u8>)> = malformed_json()
        .into_iter()
        .map(|(w, b)| (w.to_string(), b))
        .collect();
    bodies.extend(
        not_objects()
            .into_iter()
            .map(|(w, b)| (w.to_string(), b.to_vec())),
    );
    for (what, body) in [
        (
            "startTime garbage",
            json!({"startTime": "garbage", "endTime": end}),
        ),
        (
            "startTime without a zone",
            json!({"startTime": "2031-01-01T10:00:00", "endTime": "2031-01-01T10:30:00"}),
        ),
        (
            "startTime as a number",
            json!({"startTime": 1_924_300_800_000_i64, "endTime": end}),
        ),
        (
            "end before start",
            json!({"startTime": end, "endTime": start}),
        ),
        ("title as an object", json!({"title": {"a": 1}})),
        (
            "appointmentStatus SQL",
            json!({"appointmentStatus": SQL_DROP}),
        ),
        ("appointmentStatus number", json!({"appointmentStatus": 3})),
        (
            "appointmentStatus unknown word",
            json!({"appointmentStatus": "maybe"}),
        ),
        ("title 201 characters", json!({"title": "t".repeat(201)})),
        ("notes as an array", json!({"notes": ["a"]})),
        ("assignedUserId blank", json!({"assignedUserId": "  "})),
        (
            "assignedUserId 65 characters",
            json!({"assignedUserId": "u".repeat(65)}),
        ),
        ("nothing to update", json!({})),
        (
            "only unknown fields",
            json!({"calendarId": "x", "payment_amount": 5}),
        ),
    ] {
        bodies.push((what.to_string(), body.to_string().into_bytes()));
    }
    for (what, body) in bodies {
        cases.push(
            Case::api(format!("compat update (seeded id): {what}"), "PUT", &update)
                .json(body)
                .client_error(WHY_BODY)
                .lookups(),
        );
    }
    let delete = format!("/api/appointments/delete/{}/", hub.ghl_id);
    for query in ["refund=", "refund=%20", "refund=full&refund=none"] {
        cases.push(
            Case::api(
                format!("compat delete (seeded id): ?{query}"),
                "DELETE",
                format!("{delete}?{query}"),
            )
            .client_error(
                "a bad refund decision is a validation error (400), before anything is cancelled",
            )
            .lookups(),
        );
    }
    let mut big = b"{\"notes\":\"".to_vec();
    big.resize(COMPAT_LIMIT + 1 - 2, b'n');
    big.extend(b"\"}");
    cases.push(
        Case::api("compat update (seeded id): 64 KiB + 1 byte", "PUT", &update)
            .json(big)
            .client_error("no such route yet (404), or too big (413)"),
    );
    cases
}
