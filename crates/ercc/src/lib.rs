//! The `ercc` binary's operator tools (feature `tools`, on by default): `inspect`, `verify`,
//! `package`, `convert` and `mock-enclave`, on top of the registry contract in
//! [`ercc_registry`]. Without the feature this library is empty and the binary runs only the
//! chaincode.

#![deny(missing_docs)]
#![deny(clippy::expect_used)]

// The registry modules the tools use, under the names they had when they lived here.
#[cfg(feature = "tools")]
use ercc_registry::{credentials, keydist, lifecycle, policy_verifier, proto, registry};

#[cfg(feature = "tools")]
pub mod cli_input;
#[cfg(feature = "tools")]
pub mod cli_output;
#[cfg(feature = "tools")]
pub mod convert;
#[cfg(feature = "tools")]
pub mod inspect;
#[cfg(feature = "tools")]
pub mod mock_enclave;
#[cfg(feature = "tools")]
pub mod package;
#[cfg(feature = "tools")]
pub mod verify;
