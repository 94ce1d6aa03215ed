//! Fuzzes the credentials parser: base64 text and raw protobuf → `fpc.Credentials` →
//! `fpc.AttestedData` → enclave id, plus `ercc inspect`'s description.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ercc_registry::fuzzing::credentials_and(data, |text| {
        let _ = ercc::inspect::inspect_credentials(text);
    });
});
