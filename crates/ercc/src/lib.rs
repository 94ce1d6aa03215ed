//! The FPC enclave registry contract.

pub mod convert;
