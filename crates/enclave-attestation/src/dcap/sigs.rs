//! The one place ECDSA P-256 signatures are checked, so the benchmark can count and replay them.

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};

/// One raw signature check made during verification (for the benchmark's baseline).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct SigCheck {
    /// What was signed: `quote`, `QE report`, `certificate`, `CRL`, `TCB info`, `QE identity`.
    pub what: &'static str,
    pub key: VerifyingKey,
    pub message: Vec<u8>,
    pub signature: Signature,
}

impl SigCheck {
    /// Replays the check: SHA-256 of the message and one ECDSA P-256 verification.
    pub fn verify(&self) -> bool {
        self.key.verify(&self.message, &self.signature).is_ok()
    }
}

/// Verifies signatures, optionally recording each check.
pub(crate) struct Sigs<'l> {
    pub log: Option<&'l mut Vec<SigCheck>>,
}

impl Sigs<'_> {
    pub(crate) fn verify(
        &mut self,
        what: &'static str,
        key: &VerifyingKey,
        message: &[u8],
        signature: &Signature,
    ) -> bool {
        if let Some(log) = self.log.as_deref_mut() {
            log.push(SigCheck {
                what,
                key: *key,
                message: message.to_vec(),
                signature: *signature,
            });
        }
        key.verify(message, signature).is_ok()
    }

    /// Raw `r || s` (as in quotes and Intel's JSON collateral). `None` when not a valid encoding.
    pub(crate) fn raw_signature(raw: &[u8]) -> Option<Signature> {
        Signature::from_slice(raw).ok()
    }

    /// `x || y` attestation key (no SEC1 tag), as quotes carry it.
    pub(crate) fn raw_key(raw: &[u8; 64]) -> Option<VerifyingKey> {
        let mut sec1 = [0x04u8; 65];
        sec1.get_mut(1..)?.copy_from_slice(raw);
        VerifyingKey::from_sec1_bytes(&sec1).ok()
    }
}
