//! Configuration from the command line and environment, read exactly as the Go shim reads it
//! in normal mode, plus the CaaS variables this runtime defines.
//!
//! Every function takes the environment as a lookup function so tests need not mutate the
//! process environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use fabric_formats::boolean::parse_bool;
use fabric_formats::file::{read_bounded, ReadError};

use crate::error::{ConfigError, FileError};

/// Largest certificate/key file we read; real ones are a few KiB.
const MAX_PEM_FILE: u64 = 1024 * 1024;

/// How the runtime runs, chosen from the environment.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The chaincode dials the peer's `ChaincodeSupport.Register`.
    Normal(NormalConfig),
    /// The chaincode serves `Chaincode.Connect` and the peers dial it.
    Caas(CaasConfig),
}

/// Normal-mode settings (`-peer.address`, `CORE_*`).
#[derive(Debug, Clone)]
pub struct NormalConfig {
    /// `host:port` of the peer's chaincode listener.
    pub peer_address: String,
    /// Name sent in REGISTER (`CORE_CHAINCODE_ID_NAME`, the package id).
    pub chaincode_name: String,
    /// TLS material; `None` when `CORE_PEER_TLS_ENABLED` is false.
    pub tls: Option<ClientTls>,
    /// `CORE_PEER_LOCALMSPID`.
    pub msp_id: Option<String>,
    /// Bound on connecting: TCP, TLS, HTTP/2 and the peer's answer to REGISTER together
    /// ([`DEFAULT_DIAL_TIMEOUT`], the Go shim's dial timeout).
    pub dial_timeout: Duration,
}

/// The Go shim's dial timeout, here the bound on the whole connection set-up.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Client TLS material for normal mode, all PEM.
#[derive(Clone)]
pub struct ClientTls {
    /// CA that signed the peer's chaincode-listener certificate.
    pub root_cert_pem: Vec<u8>,
    /// Our client certificate.
    pub client_cert_pem: Vec<u8>,
    /// Our client key (any label; see `fabric_formats::pem::normalize_private_key`).
    pub client_key_pem: Vec<u8>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").finish_non_exhaustive()
    }
}

/// Chaincode-as-a-service settings.
#[derive(Debug, Clone)]
pub struct CaasConfig {
    /// Listen address (`CHAINCODE_SERVER_ADDRESS`), `host:port`.
    pub address: String,
    /// Name sent in REGISTER (`CHAINCODE_PKG_ID`).
    pub package_id: String,
    /// Server TLS; `None` serves plain gRPC.
    pub tls: Option<ServerTls>,
    /// `CORE_PEER_LOCALMSPID`, when set.
    pub msp_id: Option<String>,
}

/// Server TLS material for CaaS mode, all PEM.
#[derive(Clone)]
pub struct ServerTls {
    /// Server certificate chain.
    pub cert_pem: Vec<u8>,
    /// Server key.
    pub key_pem: Vec<u8>,
    /// When set, peers must present a certificate issued by this CA (mutual TLS).
    pub client_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("mutual", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// Picks the mode: CaaS when both the package id (`CHAINCODE_PKG_ID` or `CHAINCODE_ID`) and
/// `CHAINCODE_SERVER_ADDRESS` are set, normal mode when neither is, and an error when only one is.
pub fn mode_from_env(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Mode, ConfigError> {
    let pkg = package_id_from_env(env)?;
    let addr = non_empty(env, "CHAINCODE_SERVER_ADDRESS");
    match (pkg, addr) {
        (Some(_), Some(_)) => Ok(Mode::Caas(caas_from_env(env)?)),
        (None, None) => Ok(Mode::Normal(normal_from_env(args, env)?)),
        (Some((_, name)), None) => Err(ConfigError::HalfCaas { set: name }),
        (None, Some(_)) => Err(ConfigError::HalfCaas {
            set: "CHAINCODE_SERVER_ADDRESS",
        }),
    }
}

/// Finds the Go flag `peer.address` in any of Go's spellings: `-peer.address=X`,
/// `--peer.address=X`, `-peer.address X`, `--peer.address X`. Other arguments are ignored.
pub(crate) fn peer_address_flag(args: &[String]) -> Option<String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            continue;
        };
        if flag == "peer.address" {
            return iter.next().cloned();
        }
        if let Some(v) = flag.strip_prefix("peer.address=") {
            return Some(v.to_owned());
        }
    }
    None
}

/// Splits `host:port` (IPv6 hosts in brackets) and returns the host without brackets.
pub(crate) fn split_host_port(address: &str) -> Result<(String, u16), String> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("address {address:?} is not host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("address {address:?} has an invalid port"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(format!("address {address:?} has no host"));
    }
    Ok((host.to_owned(), port))
}

/// Normal-mode configuration, as the Go shim reads it.
pub fn normal_from_env(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<NormalConfig, ConfigError> {
    let peer_address =
        peer_address_flag(args).ok_or(ConfigError::Missing("flag 'peer.address' must be set"))?;
    split_host_port(&peer_address).map_err(|reason| ConfigError::Invalid {
        name: "peer.address",
        reason,
    })?;
    let chaincode_name = non_empty(env, "CORE_CHAINCODE_ID_NAME")
        .ok_or(ConfigError::Missing("'CORE_CHAINCODE_ID_NAME' must be set"))?;
    let tls_enabled = env("CORE_PEER_TLS_ENABLED")
        .as_deref()
        .and_then(parse_bool)
        .ok_or(ConfigError::Invalid {
            name: "CORE_PEER_TLS_ENABLED",
            reason: "'CORE_PEER_TLS_ENABLED' must be set to 'true' or 'false'".into(),
        })?;
    let tls = if tls_enabled {
        let client_key_pem =
            read_pem_or_base64(env, "CORE_TLS_CLIENT_KEY_FILE", "CORE_TLS_CLIENT_KEY_PATH")?;
        let client_cert_pem = read_pem_or_base64(
            env,
            "CORE_TLS_CLIENT_CERT_FILE",
            "CORE_TLS_CLIENT_CERT_PATH",
        )?;
        let root_path = non_empty(env, "CORE_PEER_TLS_ROOTCERT_FILE").ok_or(
            ConfigError::Missing("'CORE_PEER_TLS_ROOTCERT_FILE' must be set when TLS is enabled"),
        )?;
        let root_cert_pem = read_limited("CORE_PEER_TLS_ROOTCERT_FILE", Path::new(&root_path))?;
        Some(ClientTls {
            root_cert_pem,
            client_cert_pem,
            client_key_pem,
        })
    } else {
        None
    };
    Ok(NormalConfig {
        peer_address,
        chaincode_name,
        tls,
        msp_id: non_empty(env, "CORE_PEER_LOCALMSPID"),
        dial_timeout: DEFAULT_DIAL_TIMEOUT,
    })
}

/// CaaS configuration.
///
/// TLS: `CHAINCODE_TLS_DISABLED` (Go bool) true ⇒ plain. Otherwise `CHAINCODE_TLS_KEY` and
/// `CHAINCODE_TLS_CERT` (PEM file paths) turn TLS on, and `CHAINCODE_CLIENT_CA_CERT` (PEM file)
/// additionally requires peers to present a certificate from that CA. With none of them set the
/// server is plain, like FPC's Go ercc (the caller logs this loudly); `CHAINCODE_TLS_DISABLED=false`
/// without key and certificate is an error.
pub fn caas_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<CaasConfig, ConfigError> {
    let (package_id, _) = package_id_from_env(env)?.ok_or(ConfigError::Missing(
        "CHAINCODE_PKG_ID (or CHAINCODE_ID) must be set",
    ))?;
    let address = non_empty(env, "CHAINCODE_SERVER_ADDRESS")
        .ok_or(ConfigError::Missing("CHAINCODE_SERVER_ADDRESS must be set"))?;
    split_host_port(&address).map_err(|reason| ConfigError::Invalid {
        name: "CHAINCODE_SERVER_ADDRESS",
        reason,
    })?;
    let disabled = match non_empty(env, "CHAINCODE_TLS_DISABLED") {
        None => None,
        Some(v) => Some(parse_bool(&v).ok_or_else(|| ConfigError::Invalid {
            name: "CHAINCODE_TLS_DISABLED",
            reason: format!("{v:?} is not a boolean"),
        })?),
    };
    let key = non_empty(env, "CHAINCODE_TLS_KEY");
    let cert = non_empty(env, "CHAINCODE_TLS_CERT");
    let ca = non_empty(env, "CHAINCODE_CLIENT_CA_CERT");
    let tls = match (disabled, key, cert) {
        (Some(true), _, _) => None,
        (_, Some(key), Some(cert)) => Some(ServerTls {
            key_pem: read_limited("CHAINCODE_TLS_KEY", Path::new(&key))?,
            cert_pem: read_limited("CHAINCODE_TLS_CERT", Path::new(&cert))?,
            client_ca_pem: match &ca {
                Some(p) => Some(read_limited("CHAINCODE_CLIENT_CA_CERT", Path::new(p))?),
                None => None,
            },
        }),
        (Some(false), _, _) => {
            return Err(ConfigError::Missing(
                "CHAINCODE_TLS_DISABLED=false needs CHAINCODE_TLS_KEY and CHAINCODE_TLS_CERT",
            ))
        }
        (None, None, None) => None,
        (None, _, _) => {
            return Err(ConfigError::Missing(
                "CHAINCODE_TLS_KEY and CHAINCODE_TLS_CERT must be set together",
            ))
        }
    };
    if tls.is_none() && ca.is_some() {
        return Err(ConfigError::Invalid {
            name: "CHAINCODE_CLIENT_CA_CERT",
            reason: "client authentication needs TLS (CHAINCODE_TLS_KEY and CHAINCODE_TLS_CERT)"
                .into(),
        });
    }
    Ok(CaasConfig {
        address,
        package_id,
        tls,
        msp_id: non_empty(env, "CORE_PEER_LOCALMSPID"),
    })
}

/// The CaaS package id and the variable it came from. FPC names it `CHAINCODE_PKG_ID`; Fabric's
/// samples and most deployments name it `CHAINCODE_ID`. Either is accepted; both set to different
/// values is refused rather than guessed.
pub(crate) fn package_id_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, &'static str)>, ConfigError> {
    match (
        non_empty(env, "CHAINCODE_PKG_ID"),
        non_empty(env, "CHAINCODE_ID"),
    ) {
        (Some(pkg), Some(id)) if pkg != id => Err(ConfigError::Invalid {
            name: "CHAINCODE_ID",
            reason: format!(
                "{id:?} differs from CHAINCODE_PKG_ID {pkg:?}; both name the package id: \
                 set one of them, or both to the same value"
            ),
        }),
        (Some(pkg), _) => Ok(Some((pkg, "CHAINCODE_PKG_ID"))),
        (None, Some(id)) => Ok(Some((id, "CHAINCODE_ID"))),
        (None, None) => Ok(None),
    }
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

/// The Go shim reads `*_FILE` (raw PEM) when the variable is set at all, even to an empty
/// path, and falls back to `*_PATH` (a file holding base64 of the PEM) otherwise.
fn read_pem_or_base64(
    env: &dyn Fn(&str) -> Option<String>,
    file_var: &'static str,
    path_var: &'static str,
) -> Result<Vec<u8>, ConfigError> {
    if let Some(path) = env(file_var) {
        return read_limited(file_var, Path::new(&path));
    }
    let path = env(path_var).unwrap_or_default();
    let encoded = read_limited(path_var, Path::new(&path))?;
    let trimmed: Vec<u8> = encoded
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .map_err(|e| ConfigError::File {
            name: path_var,
            path: PathBuf::from(path),
            reason: FileError::NotBase64(e),
        })
}

fn read_limited(name: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    read_bounded(path, MAX_PEM_FILE).map_err(|e| ConfigError::File {
        name,
        path: path.to_owned(),
        reason: match e {
            ReadError::Io { source, .. } => FileError::Io(source),
            ReadError::TooLarge { limit, .. } => FileError::TooLarge { limit },
            ReadError::NotAFile { .. } => FileError::Io(std::io::ErrorKind::InvalidInput.into()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_files_are_read_bounded() {
        let e = read_limited("X", Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        assert!(read_limited("X", Path::new("/nonexistent/file.pem")).is_err());
    }

    #[test]
    fn flag_spellings() {
        let v =
            |s: &[&str]| peer_address_flag(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(v(&["-peer.address=h:1"]).as_deref(), Some("h:1"));
        assert_eq!(v(&["--peer.address=h:2"]).as_deref(), Some("h:2"));
        assert_eq!(v(&["-peer.address", "h:3"]).as_deref(), Some("h:3"));
        assert_eq!(v(&["x", "--peer.address", "h:4"]).as_deref(), Some("h:4"));
        assert_eq!(v(&["peer.address=h:5"]), None);
        assert_eq!(v(&[]), None);
    }

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn package_id_spellings() {
        let id = |vars: &[(&str, &str)]| package_id_from_env(&env_of(vars));
        assert_eq!(id(&[]).unwrap(), None);
        assert_eq!(
            id(&[("CHAINCODE_PKG_ID", "a:1")]).unwrap(),
            Some(("a:1".into(), "CHAINCODE_PKG_ID"))
        );
        assert_eq!(
            id(&[("CHAINCODE_ID", "a:1"), ("CHAINCODE_PKG_ID", "")]).unwrap(),
            Some(("a:1".into(), "CHAINCODE_ID"))
        );
        assert!(id(&[("CHAINCODE_ID", "a:1"), ("CHAINCODE_PKG_ID", "a:1")]).is_ok());
        let e = id(&[("CHAINCODE_ID", "a:1"), ("CHAINCODE_PKG_ID", "a:2")]).unwrap_err();
        assert!(
            e.to_string().contains("differs from CHAINCODE_PKG_ID"),
            "{e}"
        );

        let caas = |vars: &[(&str, &str)]| mode_from_env(&[], &env_of(vars));
        let addr = ("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:9999");
        match caas(&[("CHAINCODE_ID", "ercc:ab"), addr]).unwrap() {
            Mode::Caas(c) => assert_eq!(c.package_id, "ercc:ab"),
            other => panic!("{other:?}"),
        }
        let e = caas(&[("CHAINCODE_ID", "ercc:ab")]).unwrap_err();
        assert!(e.to_string().contains("only CHAINCODE_ID is set"), "{e}");
        assert!(caas(&[("CHAINCODE_ID", "x"), ("CHAINCODE_PKG_ID", "y"), addr]).is_err());
    }

    #[test]
    fn host_port() {
        assert_eq!(
            split_host_port("127.0.0.1:7052").unwrap(),
            ("127.0.0.1".into(), 7052)
        );
        assert_eq!(split_host_port("[::1]:7052").unwrap(), ("::1".into(), 7052));
        assert!(split_host_port("nohost").is_err());
        assert!(split_host_port(":1").is_err());
        assert!(split_host_port("h:99999").is_err());
    }
}
