//! The FPC enclave registry contract.

pub mod convert;
pub mod package;
