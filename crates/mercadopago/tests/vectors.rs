//! Golden tests: every known-answer vector and example payload from
//! `shared/providers/vectors/` (copied into `tests/vectors/`), run through this crate.

use mercadopago::webhook::{Notification, QueryParams, verify_signature};
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn json_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with(prefix) && name.ends_with(".json")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_signature_vector_gets_its_expected_verdict() {
    let files = json_files(&vectors_dir(), "mp_");
    assert!(
        files.len() >= 12,
        "expected the 12 MP vectors, found {}",
        files.len()
    );
    for path in files {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let header = |name: &str| -> Option<String> {
            v["headers"].as_object().and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, val)| val.as_str().map(str::to_string))
            })
        };
        // data.id is taken from the query string, as a receiver would: the request target's
        // when the vector has one, else the `query` object encoded as MP would send it.
        let query = match v["request_target"].as_str() {
            Some(target) => target
                .split_once('?')
                .map(|(_, q)| q)
                .unwrap_or("")
                .to_string(),
            None => {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                for (k, val) in v["query"].as_object().unwrap() {
                    q.append_pair(k, val.as_str().unwrap());
                }
                q.finish()
            }
        };
        let query = query.as_str();
        let params = QueryParams::parse(query);
        let secret = v["public_key_or_secret"].as_str().unwrap();
        let verdict = verify_signature(
            secret.as_bytes(),
            header("x-signature").as_deref(),
            header("x-request-id").as_deref(),
            params.get("data.id"),
        );
        let expected = v["expected_result"].as_str().unwrap();
        assert_eq!(
            if verdict.is_ok() { "accept" } else { "reject" },
            expected,
            "{}",
            path.display()
        );
        // The body is never what decides: a vector must parse as a notification too.
        if expected == "accept" {
            let body = v["body_raw"].as_str().unwrap_or("");
            assert!(
                Notification::parse(query, body.as_bytes()).is_some()
                    || params.get("data.id").is_none(),
                "{} should read as a notification",
                path.display()
            );
        }
    }
}

#[test]
fn example_payment_reads_parse_into_payments() {
    let files = json_files(&vectors_dir().join("examples"), "mp_payment_get__");
    assert_eq!(files.len(), 4);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let p: mercadopago::Payment =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(p.id > 0);
        assert!(!p.status.is_empty());
        assert!(p.transaction_amount > rust_decimal::Decimal::ZERO);
    }
}

#[test]
fn example_webhook_bodies_parse_or_are_ignored_without_error() {
    let files = json_files(&vectors_dir().join("examples"), "mp_webhook_body__");
    assert_eq!(files.len(), 8);
    let mut payments = 0;
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        // No query string: the body alone must be enough to tell topic and id apart.
        if let Some(n) = Notification::parse("", &bytes)
            && n.topic() == "payment"
        {
            assert!(n.payment_id().is_some(), "{}", path.display());
            payments += 1;
        }
    }
    assert_eq!(payments, 2, "the two payment bodies name a payment id");
}
