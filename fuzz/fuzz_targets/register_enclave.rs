//! Fuzzes the contract entry point `registerEnclave` (and every query after it) over an
//! in-memory ledger with a fake verifier; fails if a rejected registration wrote state.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ercc_registry::fuzzing::register_enclave(data);
});
