//! Fuzzes the binary DCAP quote parser: `collateral_request`, `inspect` and `verify` on quote
//! bytes with collateral valid for the seed quotes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    enclave_attestation::fuzzing::dcap_quote(data);
});
