//! The FPC enclave registry (ERCC): the registry contract logic, the FPC wire messages
//! it handles, and its ledger abstraction. The `ercc` binary wraps this library as a
//! Fabric chaincode plus operator subcommands (`inspect`, `verify`, `package`, ...).
//!
//! Layout: [`proto`] (messages) → [`credentials`] (parsing, size limit, enclave id) →
//! [`registry`] (the functions, over a [`ledger::Ledger`], verifying evidence through a
//! [`registry::EvidenceVerifier`], in production [`policy_verifier::PolicyVerifier`]),
//! with [`keys`] for the composite-key layout, and [`contract`] putting it on the
//! `fabric-chaincode` runtime.

pub mod active_policy;
pub mod cli_input;
pub mod cli_output;
pub mod contract;
pub mod convert;
pub mod credentials;
pub mod fuzzing;
pub mod inspect;
pub mod keys;
pub mod ledger;
pub mod metrics;
pub mod package;
pub mod policy_verifier;
pub mod proto;
pub mod registry;
pub mod verify;

pub use ledger::{Ledger, LedgerError, MemLedger};
pub use registry::{CheckedCredentials, EvidenceVerifier, Registry, RegistryError};
