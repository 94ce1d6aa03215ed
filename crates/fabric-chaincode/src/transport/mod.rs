//! Transports: the normal-mode client (the chaincode dials the peer), the CaaS server (the peer
//! dials the chaincode), their configuration from the environment, and TLS material loading.

pub mod client;
pub mod config;
pub mod server;
pub mod tls;
