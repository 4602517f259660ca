//! Bodies over the limits, declared, chunked and sent, on both servers.

use super::*;
use crate::mp_listener::mp_url;

pub fn size_cases(hub: &Hub) -> Vec<Case> {
    let over = |limit: usize| {
        let mut body = b"{\"pad\":\"".to_vec();
        body.resize(limit + 1 - 2, b'a');
        body.extend(b"\"}");
        assert_eq!(body.len(), limit + 1);
        body
    };
    let (r, ts) = (rid(), now_secs());
    let mp_sig = sign(&hub.secret, "555", &r, &ts);
    let listener_over = over(LISTENER_LIMIT);
    let compat_over = over(COMPAT_LIMIT);
    let mib = over(1024 * 1024);
    vec![
        Case::hook(
            "MP: declares 1 MiB, waits for 100-continue",
            "POST",
            mp_url("555"),
        )
        .header("x-signature", &mp_sig)
        .header("x-request-id", &r)
        .declared(1024 * 1024)
        .expect(413),
        Case::hook(
            "GHL: declares 256 KiB + 1, waits for 100-continue",
            "POST",
            GHL_PATH,
        )
        .declared(LISTENER_LIMIT + 1)
        .expect(413),
        Case::hook(
            "MP: 256 KiB + 1 byte, valid signature",
            "POST",
            mp_url("555"),
        )
        .header("x-signature", &mp_sig)
        .header("x-request-id", &r)
        .json(listener_over.clone())
        .too_big(),
        Case::hook("MP: 1 MiB, unsigned", "POST", mp_url("555"))
            .json(mib.clone())
            .too_big(),
        Case::hook("MP: 1 MiB chunked, valid signature", "POST", mp_url("555"))
            .header("x-signature", &mp_sig)
            .header("x-request-id", &r)
            .header("content-type", "application/json")
            .chunked(mib.clone())
            .too_big(),
        Case::hook("GHL: 256 KiB + 1 byte, valid signature", "POST", GHL_PATH)
            .header("x-ghl-signature", b64(&hub.signer.sign(&listener_over)))
            .json(listener_over.clone())
            .too_big(),
        Case::hook("GHL: 1 MiB chunked, valid signature", "POST", GHL_PATH)
            .header("x-ghl-signature", b64(&hub.signer.sign(&mib)))
            .header("content-type", "application/json")
            .chunked(mib.clone())
            .too_big(),
        Case::api(
            "compat create: 64 KiB + 1 byte",
            "POST",
            "/api/appointments/create/",
        )
        .json(compat_over.clone())
        .too_big(),
        Case::api(
            "compat create: 1 MiB chunked",
            "POST",
            "/api/appointments/create/",
        )
        .header("content-type", "application/json")
        .chunked(mib.clone())
        .too_big(),
        Case::api(
            "compat payment: 64 KiB + 1 byte",
            "POST",
            "/api/payments/create/",
        )
        .json(compat_over.clone())
        .too_big(),
        // The token is checked before the body is read: a stranger cannot make us buffer.
        // 128 KiB (over the 64 KiB limit, so a 401 rather than a 413 shows the order) still
        // fits loopback's socket buffers; with much more the early 401 can reach the client
        // as a reset while it is still sending.
        Case::anon(
            "compat create: 128 KiB without a token",
            "POST",
            "/api/appointments/create/",
        )
        .json(vec![b' '; 128 * 1024])
        .expect(401),
    ]
}
