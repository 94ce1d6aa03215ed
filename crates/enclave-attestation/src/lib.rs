//! SGX enclave attestation: evidence parsing, verification at a given time, policy.

pub mod dcap;
