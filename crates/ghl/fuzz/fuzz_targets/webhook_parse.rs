//! Feeds arbitrary bytes to the webhook payload parser and to signature verification: neither
//! may panic, whatever GHL (or an attacker) sends. The input's first line, if any, is used as
//! both signature headers so malformed base64 and wrong lengths are explored too.

#![no_main]

use std::sync::OnceLock;

use ghl::{WebhookEvent, WebhookKeys};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static WebhookKeys {
    static KEYS: OnceLock<WebhookKeys> = OnceLock::new();
    KEYS.get_or_init(|| WebhookKeys::ghl_defaults().unwrap_or_default())
}

fuzz_target!(|data: &[u8]| {
    let _ = WebhookEvent::parse(data);

    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let header = String::from_utf8_lossy(header);
    let _ = keys().verify_signatures(Some(&header), None, body);
    let _ = keys().verify_signatures(None, Some(&header), body);
    let _ = keys().verify_signatures(Some("N/A"), Some(&header), body);
    let _ = WebhookKeys::from_pems(&String::from_utf8_lossy(data));
});
