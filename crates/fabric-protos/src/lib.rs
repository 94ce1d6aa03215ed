//! Fabric wire types used across ercc-rs.
//!
//! The chaincode shim messages and gRPC services come generated from the
//! `fabric-shim-protos` crate (Fabric 3.x protos, no `protoc` needed). The few
//! `_lifecycle` messages a chaincode exchanges with the peer's lifecycle system
//! chaincode are not in that crate, so they are declared here with prost.

#![deny(missing_docs)]
#![deny(clippy::expect_used)]

pub use fabric_shim_protos::{common, msp, peer, queryresult};
pub use prost;
pub use prost_types;

/// Messages of the peer's `_lifecycle` system chaincode (package `lifecycle`).
pub mod lifecycle;
