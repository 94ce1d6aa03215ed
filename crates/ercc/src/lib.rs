//! The FPC enclave registry (ERCC): the registry contract logic, the FPC wire messages
//! it handles, and its ledger abstraction. The `ercc` binary wraps this library as a
//! Fabric chaincode plus operator subcommands (`inspect`, `verify`, `package`, ...).
//!
//! Layout: [`proto`] (messages) → [`credentials`] (parsing, size limit, enclave id) →
//! [`registry`] (the functions, over a [`ledger::Ledger`], verifying evidence through a
//! [`registry::EvidenceVerifier`], in production [`policy_verifier::PolicyVerifier`]),
//! with [`keys`] for the composite-key layout, and [`contract`] putting it on the
//! `fabric-chaincode` runtime. Key distribution: [`keydist`] (its messages) →
//! [`key_registry`] (`registerCCKeys`, `putKeyExport`, `getKeyExport`); the registry's
//! own rules (several enclaves per chaincode) are [`registry_policy`].

pub mod active_policy;
pub mod cli_input;
pub mod cli_output;
pub mod contract;
pub mod convert;
pub mod credentials;
pub mod fuzzing;
pub mod inspect;
pub mod key_registry;
pub mod keydist;
pub mod keys;
pub mod ledger;
pub mod lifecycle;
pub mod metrics;
pub mod mock_enclave;
pub mod package;
pub mod policy_verifier;
pub mod proto;
pub mod registry;
pub mod registry_policy;
pub mod verify;

pub use ledger::{Ledger, LedgerError, MemLedger};
pub use registry::{CheckedCredentials, EvidenceVerifier, Registry, RegistryError};
