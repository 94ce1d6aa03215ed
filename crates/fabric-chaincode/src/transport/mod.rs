//! Transports: the normal-mode client (the chaincode dials the peer), the CaaS server (the peer
//! dials the chaincode), their configuration from the environment, and TLS material loading.
//! Only `config` is public (re-exported as `fabric_chaincode::config`); the crate root exposes
//! the two transports as `run_normal` and `serve_caas`.

pub(crate) mod client;
pub mod config;
pub(crate) mod server;
pub(crate) mod tls;
