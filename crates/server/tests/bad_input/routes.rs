//! Unknown routes (404) and known routes with another method (405), on both servers.

use super::*;
use crate::compat::valid_create;

pub fn listener_route_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (method, path) in [
        ("GET", MP_PATH),
        ("PUT", MP_PATH),
        ("DELETE", MP_PATH),
        ("PATCH", GHL_PATH),
        ("GET", GHL_PATH),
        ("POST", "/healthz"),
        ("DELETE", "/healthz"),
        ("PURGE", MP_PATH),
    ] {
        cases.push(
            Case::hook(format!("listener: {method} {path}"), method, path)
                .body("{}")
                .expect(405),
        );
    }
    for (method, path) in [
        ("POST", "/"),
        ("GET", "/"),
        ("POST", "/api/payments/webhooks/mp"),
        ("POST", "/API/PAYMENTS/WEBHOOKS/MP/"),
        ("POST", "/api/payments/webhooks/mp/extra/"),
        ("POST", "/api/payments/webhooks/mp//"),
        ("POST", "/api/payments/webhooks/mp/..%2F..%2F..%2Fhealthz"),
        ("POST", "/api/payments/webhooks/mp/%00"),
        ("POST", "/%F0%9F%92%A5"),
        ("POST", "/api/appointments/create/"),
        ("GET", "/api/payments/"),
        ("GET", "/.env"),
        ("GET", "/admin"),
        ("GET", "/metrics"),
        ("PURGE", "/nowhere"),
    ] {
        cases.push(
            Case::hook(format!("listener: {method} {path}"), method, path)
                .header("authorization", bearer(TOKEN))
                .body("{}")
                .expect(404),
        );
    }
    cases.push(
        Case::hook("listener: raw 0xFF byte in the path", "POST", "")
            .client_error("hyper refuses the request line (400) or no route matches (404)"),
    );
    cases.last_mut().unwrap().payload = Payload::Raw(
        b"POST /api/payments/webhooks/mp/\xff HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
            .to_vec(),
    );
    cases.push(
        Case::hook("listener: NUL byte in a header value", "POST", "")
            .client_error("hyper refuses the header (400) before any route"),
    );
    cases.last_mut().unwrap().payload = Payload::Raw(
        b"POST /api/payments/webhooks/mp/?data.id=1&type=payment HTTP/1.1\r\nHost: x\r\nx-signature: ts=1,v1=\x00\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
            .to_vec(),
    );
    cases
}

pub fn compat_route_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (method, path) in [
        ("GET", "/api/appointments/create/"),
        ("PUT", "/api/appointments/create/"),
        ("DELETE", "/api/appointments/appointments/"),
        ("POST", "/api/appointments/appointments/"),
        ("GET", "/api/payments/create/"),
        ("POST", "/api/payments/"),
        ("PURGE", "/api/payments/"),
    ] {
        cases.push(
            Case::api(format!("compat: {method} {path}"), method, path)
                .json(valid_create().to_string())
                .expect(405),
        );
    }
    for (method, path) in [
        ("POST", "/api/appointments/create"),
        ("POST", "/API/APPOINTMENTS/CREATE/"),
        ("GET", "/api/appointments/appointments/extra/"),
        ("GET", "/api/"),
        ("GET", "/"),
        ("GET", "/admin/"),
        ("GET", "/healthz"),
        ("POST", MP_PATH),
        ("POST", GHL_PATH),
        (
            "GET",
            "/api/appointments/appointments/..%2F..%2Fpayments%2F",
        ),
        ("GET", "/%F0%9F%92%A5"),
    ] {
        cases.push(
            Case::api(format!("compat: {method} {path}"), method, path)
                .json(valid_create().to_string())
                .expect(404),
        );
    }
    cases
}
