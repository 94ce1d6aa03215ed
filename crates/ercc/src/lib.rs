//! The FPC enclave registry contract.
