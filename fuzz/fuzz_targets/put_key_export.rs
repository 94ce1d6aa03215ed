//! Fuzzes `putKeyExport` (the export message parser and every check after it) over an
//! in-memory ledger holding registered and provisioned enclaves; fails if a refused message
//! wrote state.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ercc_registry::fuzzing::put_key_export(data);
});
