//! Fuzzes the credentials parser: base64 text and raw protobuf → `fpc.Credentials` →
//! `fpc.AttestedData` → enclave id, plus `ercc inspect`'s description.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ercc::fuzzing::credentials(data);
});
