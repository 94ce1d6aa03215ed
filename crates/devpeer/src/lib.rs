//! `devpeer`: a development Hyperledger Fabric peer for one channel. It plays the peer's side
//! of the chaincode protocol over real gRPC and TLS, runs chaincode through external builders,
//! keeps the world state in redb, and is driven by a peer-like CLI through an admin socket.
#![deny(missing_docs)]
#![deny(clippy::expect_used)]

pub mod admin;
pub mod builder;
pub mod cli;
pub mod connection;
mod files;
pub mod handler;
pub mod identity;
pub mod launcher;
pub mod ledger;
pub mod lifecycle;
pub mod package;
pub mod peer;
pub mod proposal;
pub mod rwset;
pub mod server;
pub mod simulator;
pub mod tls;
