//! Fuzzes the attestation crate's evidence parsers through its public entry points:
//! `inspect_evidence` (the envelope and every evidence type) and `verify` under the
//! default policy (parsing, certificate chains, signatures, appraisal).
#![no_main]

use std::sync::OnceLock;

use enclave_attestation::{Policy, UnixTime, VerificationRequest};

static POLICY: OnceLock<Policy> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = enclave_attestation::inspect_evidence(data);
    let policy = POLICY.get_or_init(Policy::default);
    let request = VerificationRequest {
        evidence: data,
        expected_mrenclave: "b1de642a41bd99668f0c3057202ef6cb083d099a660ff2db804282513f463c33",
        statement: b"",
        now: UnixTime::from_secs(1_574_788_627),
    };
    let _ = enclave_attestation::verify(policy, &request);
});
