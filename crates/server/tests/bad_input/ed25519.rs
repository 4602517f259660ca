//! Ed25519 signing, only for this suite: valid GHL signatures over bad bodies, with
//! `ed25519-dalek` (the crate GHL's verifier and the sandbox use).

use super::b64;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::EncodePublicKey as _;

pub struct Signer {
    key: ed25519_dalek::SigningKey,
    pub public: [u8; 32],
}

impl Signer {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        Signer { key, public }
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The public key as an SPKI PEM block, the form `GHL_WEBHOOK_PUBLIC_KEYS` takes.
    pub fn public_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(Default::default())
            .expect("an Ed25519 public key encodes as PEM")
    }
}

#[test]
fn the_test_signer_matches_rfc_8032() {
    for (seed, message, public, signature) in [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "72",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ] {
        let signer = Signer::from_seed(hex::decode(seed).unwrap().try_into().unwrap());
        assert_eq!(hex::encode(signer.public), public);
        assert_eq!(
            hex::encode(signer.sign(&hex::decode(message).unwrap())),
            signature
        );
    }
    // And the GHL verifier agrees with it.
    let signer = Signer::from_seed([0x5a; 32]);
    let keys = ghl::webhook::WebhookKeys::from_pems(&signer.public_pem()).unwrap();
    let body = b"{\"type\":\"AppointmentUpdate\"}";
    assert!(
        keys.verify_signatures(Some(&b64(&signer.sign(body))), None, body)
            .is_ok()
    );
    assert!(
        keys.verify_signatures(Some(&b64(&signer.sign(body))), None, b"{}")
            .is_err()
    );
}
