//! Error types of the runtime, one enum per audience: the process (`RuntimeError`, with its
//! causes `ConfigError`, `TlsError` and `ConnectError`), contract code calling the ledger
//! (`StubError`), and composite-key helpers (`KeyError`). Causes stay typed so callers can
//! branch on them; `Display` writes the texts operators see in the log.

use std::path::PathBuf;
use std::time::Duration;

/// Why the runtime stopped or could not start.
///
/// Callers can tell configuration problems, TLS problems, a peer that went away and a peer that
/// broke the protocol apart, because each calls for a different operator action.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The environment or command line is incomplete or contradictory.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// Certificates or keys could not be loaded or used.
    #[error("TLS error: {0}")]
    Tls(#[from] TlsError),
    /// The gRPC transport failed (serve). The text carries the whole cause chain: tonic's own
    /// text is only "transport error".
    #[error("transport error: {}", error_chain(.0))]
    Transport(#[from] tonic::transport::Error),
    /// Normal mode: the peer could not be reached, or did not answer within the dial timeout.
    #[error("cannot connect to the peer at {address} ({}): {reason}", .reason.stage())]
    Connect {
        /// `peer.address`.
        address: String,
        /// What failed; [`ConnectError::stage`] names the step.
        #[source]
        reason: ConnectError,
    },
    /// CaaS: the listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// `CHAINCODE_SERVER_ADDRESS`.
        address: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The peer answered the stream with a gRPC status instead of messages.
    #[error("peer stream failed: {0}")]
    Status(#[from] tonic::Status),
    /// The peer closed the stream.
    #[error("peer closed the stream")]
    StreamClosed,
    /// The peer sent a message that is not allowed in the current protocol state.
    // Same text as the Go shim puts in its ERROR reply.
    #[error("[{txid}] Chaincode h cannot handle message ({got}) while in state: {state}")]
    UnexpectedMessage {
        /// Protocol state when the message arrived.
        state: &'static str,
        /// Message type name (or number when unknown).
        got: String,
        /// Transaction id carried by the message.
        txid: String,
    },
    /// I/O failure outside gRPC (binding a listener, installing a signal handler).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A configuration value is missing, malformed or contradicts another one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is absent.
    #[error("{0}")]
    Missing(&'static str),
    /// A setting has an unusable value.
    #[error("{name}: {reason}")]
    Invalid {
        /// Variable or flag name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Only one of the package id (`CHAINCODE_PKG_ID` or `CHAINCODE_ID`) and
    /// `CHAINCODE_SERVER_ADDRESS` is set.
    #[error(
        "chaincode-as-a-service needs both CHAINCODE_PKG_ID (or CHAINCODE_ID) and \
         CHAINCODE_SERVER_ADDRESS (only {set} is set); set both for CaaS mode or neither for \
         normal mode"
    )]
    HalfCaas {
        /// The variable that is set.
        set: &'static str,
    },
    /// A file named by the configuration could not be read.
    #[error("cannot read {name} file {path}: {reason}")]
    File {
        /// Variable name.
        name: &'static str,
        /// The path it names.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        reason: FileError,
    },
}

/// Why a file named by the configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Opening or reading it failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// It is larger than any certificate or key file (read up to the limit only).
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// The largest size accepted, in bytes.
        limit: u64,
    },
    /// A `*_PATH` file does not hold base64 text.
    #[error("not base64: {0}")]
    NotBase64(#[from] base64::DecodeError),
}

/// Certificates or keys that could not be loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// One piece of TLS material is unusable.
    #[error("{role}: {source}")]
    Pem {
        /// Which one: `client key`, `client certificate`, `root certificate`, `server key`,
        /// `server certificate` or `client CA certificate`.
        role: &'static str,
        /// What is wrong with it.
        source: PemError,
    },
    /// The transport refused the TLS configuration (the text carries the cause chain).
    #[error("{}", error_chain(.0))]
    Config(tonic::transport::Error),
}

/// What is wrong with a PEM file of TLS material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// The PEM framing or its base64 is broken.
    #[error("invalid PEM: {0}")]
    Invalid(rustls_pki_types::pem::Error),
    /// The private key is missing or not PKCS#8, SEC1 or PKCS#1.
    #[error(transparent)]
    Key(fabric_formats::pem::PemError),
    /// No `CERTIFICATE` section.
    #[error("no certificate found in PEM data")]
    NoCertificate,
}

/// Why normal mode could not connect to the peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// TCP, TLS or HTTP/2 failed (the text carries the cause chain).
    #[error("{}", error_chain(.0))]
    Transport(tonic::transport::Error),
    /// The peer answered REGISTER's stream with a gRPC status.
    #[error("{}", status_text(.0))]
    Refused(tonic::Status),
    /// The peer closed the stream before REGISTERED.
    #[error("the peer closed the stream")]
    Closed,
    /// A step did not finish within the dial timeout.
    #[error(
        "no {what} within the dial timeout of {timeout:?} (is the address the peer's chaincode \
         listener, and do both sides agree on TLS?)"
    )]
    TimedOut {
        /// What did not arrive: the handshake, the answer to REGISTER, or REGISTERED.
        what: &'static str,
        /// The dial timeout.
        timeout: Duration,
    },
}

impl ConnectError {
    /// The step that failed: `connect` (TCP/TLS/HTTP/2), `register` (the peer refused or
    /// closed the stream) or `timeout`.
    pub fn stage(&self) -> &'static str {
        match self {
            ConnectError::Transport(_) => "connect",
            ConnectError::Refused(_) | ConnectError::Closed => "register",
            ConnectError::TimedOut { .. } => "timeout",
        }
    }
}

/// A ledger call made through the stub failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StubError {
    /// The peer answered the request with ERROR; the text is the peer's.
    #[error("{0}")]
    Peer(String),
    /// The stream to the peer is gone, so the request cannot complete.
    #[error("connection to the peer is closed")]
    Disconnected,
    /// The peer replied with something that is neither RESPONSE nor ERROR, or an undecodable payload.
    #[error("unexpected reply from the peer: {0}")]
    BadReply(String),
    /// The arguments were rejected before anything was sent (empty key, bad range bound, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// The request would exceed the gRPC message limit.
    #[error("request of {size} bytes exceeds the {limit} byte message limit")]
    TooLarge {
        /// Encoded size of the request.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A composite key could not be built.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A composite key could not be created or split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An object type or attribute contains U+0000 or U+10FFFF, which are reserved as delimiters.
    #[error(
        "input contains unicode {rune} starting at position [{position}]. U+0000 and U+10FFFF \
         are not allowed in the input attribute of a composite key"
    )]
    ReservedRune {
        /// `U+0000` or `U+10FFFF`.
        rune: &'static str,
        /// Byte offset in the attribute.
        position: usize,
    },
    /// The key does not start with the composite-key namespace byte 0x00.
    #[error("not a composite key: it does not start with U+0000")]
    NotComposite,
    /// The key has no delimiter after the object type.
    #[error("malformed composite key: no U+0000 delimiter after the object type")]
    MissingDelimiter,
}

/// A gRPC status as `Code: message`, with its cause chain in parentheses when it has one.
fn status_text(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(&format!(" ({})", error_chain(source)));
    }
    text
}

/// An error and its sources, outermost first, joined by ": " (skipping a source whose text the
/// outer one already contains, as tonic and hyper often repeat themselves).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed causes print what the flattened strings printed before.
    #[test]
    fn typed_causes_keep_the_operator_texts() {
        let tls = RuntimeError::from(TlsError::Pem {
            role: "client key",
            source: PemError::Key(fabric_formats::pem::PemError::NoPrivateKey),
        });
        assert_eq!(
            tls.to_string(),
            "TLS error: client key: no private key found in PEM data"
        );
        let timeout = RuntimeError::Connect {
            address: "peer0:7052".into(),
            reason: ConnectError::TimedOut {
                what: "REGISTERED",
                timeout: Duration::from_secs(2),
            },
        };
        assert_eq!(
            timeout.to_string(),
            "cannot connect to the peer at peer0:7052 (timeout): no REGISTERED within the dial \
             timeout of 2s (is the address the peer's chaincode listener, and do both sides \
             agree on TLS?)"
        );
        let closed = RuntimeError::Connect {
            address: "p:1".into(),
            reason: ConnectError::Closed,
        };
        assert_eq!(
            closed.to_string(),
            "cannot connect to the peer at p:1 (register): the peer closed the stream"
        );
        let refused = ConnectError::Refused(tonic::Status::permission_denied("no"));
        assert_eq!(refused.to_string(), "PermissionDenied: no");
        let file = ConfigError::File {
            name: "CHAINCODE_TLS_KEY",
            path: "/k".into(),
            reason: FileError::TooLarge { limit: 1024 },
        };
        assert_eq!(
            file.to_string(),
            "cannot read CHAINCODE_TLS_KEY file /k: larger than 1024 bytes"
        );
    }
}
