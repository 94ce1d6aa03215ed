//! The FPC enclave registry (ERCC) contract: what runs inside the peer as the `ercc`
//! chaincode. The registry logic, the FPC wire messages it handles, its ledger abstraction,
//! and [`contract::run_chaincode`], the `ercc` binary's chaincode mode. The operator tools
//! (`inspect`, `verify`, `package`, ...) live in the `ercc` crate, on top of this one.
//!
//! Layout: [`proto`] (messages) → [`credentials`] (parsing, size limit, enclave id) →
//! [`registry`] (the functions, over a [`ledger::RegistryLedger`], verifying evidence through a
//! [`registry::CredentialsVerifier`], in production [`policy_verifier::PolicyVerifier`]),
//! with [`keys`] for the composite-key layout, and [`contract`] putting it on the
//! `fabric-chaincode` runtime. Key distribution: [`keydist`] (its messages) →
//! [`key_registry`] (`registerCCKeys`, `putKeyExport`, `getKeyExport`); the registry's
//! own rules (several enclaves per chaincode) are [`registry_policy`].

#![deny(missing_docs)]
#![deny(clippy::expect_used)]

pub mod active_policy;
pub mod contract;
pub mod credentials;
/// Fuzz target bodies: built for the crate's tests and under the `fuzzing` feature (which
/// `fuzz/` turns on), never into the chaincode.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod key_registry;
pub mod keydist;
pub mod keys;
pub mod ledger;
pub mod lifecycle;
pub mod metrics;
pub mod policy_verifier;
pub mod proto;
pub mod registry;
pub mod registry_policy;

pub use ledger::{DefinitionError, LedgerError, MemLedger, RegistryLedger};
pub use registry::{
    CheckedCredentials, CreatorError, CredentialsVerifier, Registry, RegistryError, VerifierError,
};
