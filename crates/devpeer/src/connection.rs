//! A released `connection.json` (Fabric `ChaincodeServerUserData`) and dialling the chaincode
//! server it names, with the peer's TLS rules: `root_cert` verifies the server, the client
//! certificate is presented and `domain` overrides the TLS name only when
//! `client_auth_required` is true.

use std::path::Path;
use std::time::Duration;

use fabric_formats::duration::parse_timeout;
use serde::Deserialize;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::launcher::LaunchError;

/// Largest connection.json accepted.
const MAX_CONNECTION_JSON: u64 = 1024 * 1024;

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Text(String),
    Nanos(i64),
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    address: String,
    #[serde(default)]
    dial_timeout: Option<RawDuration>,
    #[serde(default)]
    tls_required: bool,
    #[serde(default)]
    client_auth_required: bool,
    #[serde(default)]
    client_key: String,
    #[serde(default)]
    client_cert: String,
    #[serde(default)]
    root_cert: String,
    #[serde(default)]
    domain: String,
}

/// Parsed and checked `connection.json`.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// `host:port` of the chaincode server.
    pub address: String,
    /// How long dialling may take.
    pub dial_timeout: Duration,
    /// Dial with TLS.
    pub tls_required: bool,
    /// Present the client certificate below.
    pub client_auth_required: bool,
    /// PEM of the client key (PKCS#8, whatever its label said).
    pub client_key: String,
    /// PEM of the client certificate.
    pub client_cert: String,
    /// PEM of the CA that signed the server certificate.
    pub root_cert: String,
    /// Name to check the server certificate for, if not the address's host.
    pub domain: String,
}

impl ConnectionInfo {
    /// Reads and validates a connection.json file.
    pub fn read(path: &Path) -> Result<ConnectionInfo, String> {
        let data = fabric_formats::file::read_bounded(path, MAX_CONNECTION_JSON)
            .map_err(|e| e.to_string())?;
        Self::parse(&data)
    }

    /// Parses connection.json bytes.
    pub fn parse(data: &[u8]) -> Result<ConnectionInfo, String> {
        let raw: Raw = serde_json::from_slice(data).map_err(|e| format!("malformed: {e}"))?;
        if raw.address.is_empty() {
            return Err("chaincode address not provided".into());
        }
        let dial_timeout = match raw.dial_timeout {
            None => Duration::ZERO,
            Some(RawDuration::Nanos(n)) if n >= 0 => Duration::from_nanos(n as u64),
            Some(RawDuration::Nanos(_)) => return Err("negative dial_timeout".into()),
            Some(RawDuration::Text(t)) => parse_timeout(&t).map_err(|e| e.to_string())?,
        };
        let dial_timeout = if dial_timeout.is_zero() {
            Duration::from_secs(3)
        } else {
            dial_timeout
        };
        if raw.tls_required && raw.root_cert.is_empty() {
            return Err("tls_required is true but no root_cert is given".into());
        }
        if raw.client_auth_required && (raw.client_cert.is_empty() || raw.client_key.is_empty()) {
            return Err(
                "client_auth_required is true but client_cert or client_key is missing".into(),
            );
        }
        Ok(ConnectionInfo {
            address: raw.address,
            dial_timeout,
            tls_required: raw.tls_required,
            client_auth_required: raw.client_auth_required,
            client_key: raw.client_key,
            client_cert: raw.client_cert,
            root_cert: raw.root_cert,
            domain: raw.domain,
        })
    }

    /// Dials the chaincode server within `dial_timeout`.
    pub async fn connect(&self) -> Result<Channel, LaunchError> {
        let dial = |msg: String| LaunchError::Dial {
            address: self.address.clone(),
            msg,
        };
        let scheme = if self.tls_required { "https" } else { "http" };
        let mut ep = Endpoint::from_shared(format!("{scheme}://{}", self.address))
            .map_err(|e| dial(e.to_string()))?
            .connect_timeout(self.dial_timeout)
            .http2_keep_alive_interval(Duration::from_secs(60))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        if self.tls_required {
            let host = self
                .address
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or(&self.address)
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let mut tls =
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.root_cert));
            let name = if self.client_auth_required && !self.domain.is_empty() {
                self.domain.clone()
            } else {
                host
            };
            tls = tls.domain_name(name);
            if self.client_auth_required {
                let key = fabric_formats::pem::normalize_private_key(self.client_key.as_bytes())
                    .map_err(|e| dial(format!("client_key: {e}")))?;
                tls = tls.identity(Identity::from_pem(&self.client_cert, key));
            }
            ep = ep.tls_config(tls).map_err(|e| dial(e.to_string()))?;
        }
        match tokio::time::timeout(self.dial_timeout, ep.connect()).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(dial(error_chain(&e))),
            Err(_) => Err(dial(format!(
                "dial timeout {:?} expired",
                self.dial_timeout
            ))),
        }
    }
}

/// An error with its sources, which carry the useful part for transport errors.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_timeout("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_timeout("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_timeout("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_timeout("").is_err());
        assert!(parse_timeout("10").is_err());
        assert!(parse_timeout("-1s").is_err());
    }

    /// `dial_timeout` as connection.json gives it: Go duration text or nanoseconds, zero or
    /// absent meaning the 3 s default, negative and malformed values refused.
    #[test]
    fn dial_timeouts_in_connection_json() {
        let timeout = |v: &str| {
            ConnectionInfo::parse(format!(r#"{{"address":"h:1","dial_timeout":{v}}}"#).as_bytes())
                .map(|c| c.dial_timeout)
        };
        assert_eq!(timeout(r#""1m30s""#).unwrap(), Duration::from_secs(90));
        assert_eq!(timeout(r#""250ms""#).unwrap(), Duration::from_millis(250));
        assert_eq!(timeout("1500000000").unwrap(), Duration::from_millis(1500));
        assert_eq!(timeout(r#""0""#).unwrap(), Duration::from_secs(3));
        assert_eq!(timeout(r#""0s""#).unwrap(), Duration::from_secs(3));
        assert_eq!(timeout("0").unwrap(), Duration::from_secs(3));
        assert_eq!(timeout("-1").unwrap_err(), "negative dial_timeout");
        assert!(timeout(r#""-1s""#).is_err());
        assert!(timeout(r#""10""#).is_err());
        assert!(timeout(r#""10 s""#).is_err());
        assert!(timeout("1.5").is_err());
    }

    #[test]
    fn connection_json_rules() {
        let c = ConnectionInfo::parse(
            br#"{"address":"h:1","dial_timeout":"10s","tls_required":false}"#,
        )
        .unwrap();
        assert_eq!(c.dial_timeout, Duration::from_secs(10));
        let c = ConnectionInfo::parse(br#"{"address":"h:1"}"#).unwrap();
        assert_eq!(c.dial_timeout, Duration::from_secs(3));
        assert!(ConnectionInfo::parse(br#"{"address":"h:1","dial_timeout":""}"#).is_err());
        assert!(ConnectionInfo::parse(br#"{"address":"h:1","tls_required":"true"}"#).is_err());
        assert!(ConnectionInfo::parse(br#"{"dial_timeout":"1s"}"#).is_err());
        assert!(ConnectionInfo::parse(br#"{"address":"h:1","tls_required":true}"#).is_err());
    }
}
