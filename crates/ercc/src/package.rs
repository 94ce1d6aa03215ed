//! `ercc package`: writes the Fabric v2 install package for either way of running the registry and
//! prints its package id, like `peer lifecycle chaincode package` + `calculatepackageid` would.
//!
//! * normal mode: `metadata.json` type `ercc-type` (the `fpc-c` external builder), `code.tar.gz`
//!   holding the `ercc` binary (mode 0755) at its top;
//! * chaincode-as-a-service for Fabric's own `ccaas_builder` (shipped in the stock peer image and
//!   listed in its sample `core.yaml`): type `ccaas`, `code.tar.gz` holding one top-level
//!   `connection.json` whose `address` may be a Go template (`{{.peername}}_ercc:9999`) that the
//!   builder fills from the peer's `CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG`, so one package serves
//!   every peer;
//! * chaincode-as-a-service for FPC's `fpc-external-launcher`: type `external`, `code.tar.gz`
//!   holding one `<peer id>/connection.json` per peer that will dial the registry.
//!
//! The bytes are deterministic (fixed mtimes, owners, modes and entry order; gzip without a name or
//! time stamp), so the same inputs always give the same package id on every machine: operators of
//! different organisations can build the package independently and approve the same id.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use fabric_formats::{duration, file, pem};
use flate2::{Compression, GzBuilder};
use serde::Serialize;

pub use fabric_formats::label::package_id;

/// `metadata.json` type claimed by the `fpc-c` builder (normal mode).
pub const TYPE_NORMAL: &str = "ercc-type";
/// `metadata.json` type claimed by the `fpc-external-launcher` builder (chaincode-as-a-service).
pub const TYPE_CAAS: &str = "external";
/// `metadata.json` type claimed by Fabric's `ccaas_builder` (chaincode-as-a-service).
pub const TYPE_CCAAS: &str = "ccaas";
/// Name of the binary inside `code.tar.gz`; the `fpc-c` builder looks for exactly this name.
pub const BINARY_NAME: &str = "ercc";
/// Largest binary packaged. A peer receives the whole package in one gRPC message (100 MiB by
/// default), so anything near this would not install anyway; the limit is a guard against
/// reading a wrong, huge file into memory.
pub const MAX_BINARY_BYTES: u64 = 512 * 1024 * 1024;
/// Largest PEM file read for `--tls-root-cert`, `--client-cert`, `--client-key`.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;
/// Longest peer id accepted: it becomes a directory name inside a tar (ustar names stop at 255).
pub const MAX_PEER_ID_BYTES: usize = 200;

/// Fixed modification time of every entry (1 January 2000 00:00 UTC). Any constant would do;
/// zero is avoided because some tools show or treat epoch-0 files as missing a time.
const FIXED_MTIME: u64 = 946_684_800;

/// What went wrong while building a package. Nothing is written when any of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum PackagingError {
    /// The label breaks Fabric's label rule.
    #[error(
        "invalid label {0:?}: a label starts with a letter or digit and continues with letters, \
         digits, '_', '.', '+' or '-' (regex ^[[:alnum:]][[:alnum:]_.+-]*$)"
    )]
    InvalidLabel(String),
    /// A `--peer` is not `PEER_ID=HOST:PORT`.
    #[error("invalid --peer {0:?}: expected PEER_ID=HOST:PORT")]
    InvalidPeerSpec(String),
    /// A peer id cannot name a directory.
    #[error("invalid peer id {0:?}: it must be non-empty, at most 200 bytes, not '.' or '..', and without '/', '\\', spaces or control characters")]
    InvalidPeerId(String),
    /// A peer id is given twice.
    #[error("peer id {0:?} is given more than once")]
    DuplicatePeer(String),
    /// A CaaS package without peers.
    #[error("a chaincode-as-a-service package needs at least one --peer PEER_ID=HOST:PORT")]
    NoPeers,
    /// The address template is not one ccaas_builder fills.
    #[error(
        "invalid address template {address:?}: {reason} (ccaas_builder fills {{{{.name}}}} \
         from the peer's CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG)"
    )]
    InvalidTemplate {
        /// The address given.
        address: String,
        /// Why.
        reason: &'static str,
    },
    /// `--domain` with `--address` (ccaas_builder drops it).
    #[error(
        "--domain cannot be used with --address: Fabric's ccaas_builder rewrites connection.json \
         without a domain; give the server a certificate for the address's host, or package for \
         fpc-external-launcher with --peer"
    )]
    DomainWithCcaas,
    /// The address is not `host:port`.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress {
        /// The address given.
        address: String,
        /// Why.
        reason: &'static str,
    },
    /// The dial timeout is not a Go duration.
    #[error(
        "invalid dial timeout {value:?}: expected a Go duration such as 10s, 500ms or 1m30s \
         ({reason})"
    )]
    InvalidDialTimeout {
        /// The value given.
        value: String,
        /// Why Go's grammar refuses it.
        #[source]
        reason: duration::DurationError,
    },
    /// TLS without `--tls-root-cert`.
    #[error("TLS needs the CA certificate that verifies the registry server (--tls-root-cert)")]
    MissingRootCert,
    /// Client authentication without all its files.
    #[error("client authentication needs --tls-root-cert, --client-cert and --client-key")]
    IncompleteClientAuth,
    /// An empty `--domain`.
    #[error("--domain must not be empty")]
    EmptyDomain,
    /// A client-authentication option without `--client-auth` (the option).
    #[error("{0} is only used with --client-auth")]
    ClientAuthOnly(&'static str),
    /// A PEM file that is not the expected block.
    #[error("{}: {reason}", path.display())]
    InvalidPem {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// A file above its size limit.
    #[error("{}: {size} bytes is more than the limit of {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A path that is not a regular file.
    #[error("{}: not a regular file", .0.display())]
    NotAFile(PathBuf),
    /// The binary to package is empty.
    #[error("the ercc binary to package is empty: {}", .0.display())]
    EmptyBinary(PathBuf),
    /// The running binary cannot be found.
    #[error("cannot find the running ercc binary to package (give --binary PATH): {0}")]
    CurrentExe(#[source] io::Error),
    /// A file cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Standard output failed.
    #[error("cannot write the package id to stdout: {0}")]
    Stdout(#[source] io::Error),
    /// Writing the archive failed.
    #[error("building the package archive: {0}")]
    Archive(#[source] io::Error),
}

/// `ercc package`: build an install package and print its id.
#[derive(clap::Args, Debug, Clone)]
pub struct PackageArgs {
    /// Which builder the package is for.
    #[command(subcommand)]
    pub mode: PackageMode,
}

/// Which builder the package is for.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum PackageMode {
    /// Normal mode: the peer runs the registry through the fpc-c external builder
    /// (metadata type ercc-type, the ercc binary inside the package).
    Normal(NormalArgs),
    /// Chaincode as a service: the registry runs as a server that the peers dial. With --address:
    /// for Fabric's ccaas_builder, in the stock peer image (metadata type ccaas, one
    /// connection.json for every peer). With --peer: for FPC's fpc-external-launcher builder
    /// (metadata type external, one connection.json per peer).
    Caas(CaasArgs),
}

/// Options of `ercc package normal`.
#[derive(clap::Args, Debug, Clone)]
pub struct NormalArgs {
    /// Package label (becomes the first part of the package id).
    #[arg(long)]
    pub label: String,
    /// Where to write the package (.tar.gz).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The ercc binary to put in the package (default: this running ercc). It must be built for
    /// the peer's machine (same architecture and C library).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
}

/// Options of `ercc package caas`. Exactly one of `--address` (ccaas_builder) and `--peer`
/// (fpc-external-launcher) says which builder the package is for.
#[derive(clap::Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("builder").required(true).args(["address", "peers"])))]
pub struct CaasArgs {
    /// Package label (becomes the first part of the package id).
    #[arg(long)]
    pub label: String,
    /// Where to write the package (.tar.gz).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// For Fabric's ccaas_builder (package type ccaas): the address at which every peer reaches
    /// the registry server. It may hold Go template fields, e.g. '{{.peername}}_ercc:9999', that
    /// ccaas_builder fills from the JSON object in each peer's
    /// CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG (a missing field fails that peer's install).
    #[arg(long, value_name = "HOST:PORT")]
    pub address: Option<String>,
    /// For FPC's fpc-external-launcher (package type external): a peer (its CORE_PEER_ID) and the
    /// address at which it reaches the registry server. Repeat for every peer that installs this
    /// package.
    #[arg(long = "peer", value_name = "PEER_ID=HOST:PORT")]
    pub peers: Vec<String>,
    /// How long a peer waits when dialling the server (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub dial_timeout: String,
    /// CA certificate (PEM) that verifies the registry server's TLS certificate; turns
    /// tls_required on. Without it the peers dial in plain text.
    #[arg(long, value_name = "PEM_FILE")]
    pub tls_root_cert: Option<PathBuf>,
    /// The peers present a client certificate (the server then needs CHAINCODE_CLIENT_CA_CERT).
    #[arg(long)]
    pub client_auth: bool,
    /// Client certificate (PEM) the peers present; with --client-auth.
    #[arg(long, value_name = "PEM_FILE")]
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM) the peers use; with --client-auth. It ends up inside the package,
    /// so it is readable by everyone who can read the package.
    #[arg(long, value_name = "PEM_FILE")]
    pub client_key: Option<PathBuf>,
    /// Server name the peers verify instead of the host of the address (the peer applies it only
    /// with client authentication; not with --address, as ccaas_builder drops it).
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,
}

/// `metadata.json` of an install package. Field order is fixed by the struct, so the JSON bytes
/// (and with them the package id) are stable.
#[derive(Debug, Clone, Serialize)]
struct Metadata<'a> {
    path: &'a str,
    #[serde(rename = "type")]
    package_type: &'a str,
    label: &'a str,
}

/// One peer's `connection.json`, in the keys the peer's `ccaas_builder` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// `address`: where the peer dials the registry.
    pub address: String,
    /// `dial_timeout`: a Go duration.
    pub dial_timeout: String,
    /// `tls_required`.
    pub tls_required: bool,
    /// `client_auth_required`.
    pub client_auth_required: bool,
    /// `domain`: the TLS server name, when not the address's host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `root_cert`: PEM of the CA that verifies the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_cert: Option<String>,
    /// `client_cert`: PEM of the peer's client certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    /// `client_key`: PEM of its key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
}

impl Connection {
    /// A plain-text connection to `address` (no TLS).
    pub fn plain(address: &str, dial_timeout: &str) -> Connection {
        Connection {
            address: address.to_owned(),
            dial_timeout: dial_timeout.to_owned(),
            tls_required: false,
            client_auth_required: false,
            domain: None,
            root_cert: None,
            client_cert: None,
            client_key: None,
        }
    }

    /// Checks what the peer (and the fpc-external-launcher build script) would refuse or
    /// misread: the address, the duration, and the TLS material the flags require.
    pub fn validate(&self) -> Result<(), PackagingError> {
        validate_address(&self.address)?;
        self.validate_rest()
    }

    /// [`Connection::validate`] for Fabric's ccaas_builder: the address may hold templates, and
    /// `domain` is refused because ccaas_builder would drop it.
    pub fn validate_for_ccaas(&self) -> Result<(), PackagingError> {
        validate_address_template(&self.address)?;
        if self.domain.is_some() {
            return Err(PackagingError::DomainWithCcaas);
        }
        self.validate_rest()
    }

    fn validate_rest(&self) -> Result<(), PackagingError> {
        validate_dial_timeout(&self.dial_timeout)?;
        let nonempty = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        if self.tls_required && !nonempty(&self.root_cert) {
            return Err(PackagingError::MissingRootCert);
        }
        if self.client_auth_required
            && !(self.tls_required && nonempty(&self.client_cert) && nonempty(&self.client_key))
        {
            return Err(PackagingError::IncompleteClientAuth);
        }
        Ok(())
    }
}

/// Enforces Fabric's label rule `^[[:alnum:]][[:alnum:]_.+-]*$` (ASCII classes, as in Go's regexp).
pub fn validate_label(label: &str) -> Result<(), PackagingError> {
    if fabric_formats::label::is_valid_label(label) {
        Ok(())
    } else {
        Err(PackagingError::InvalidLabel(label.to_owned()))
    }
}

/// A peer id must be usable as one directory name inside `code.tar.gz` and as `CORE_PEER_ID`.
pub fn validate_peer_id(peer_id: &str) -> Result<(), PackagingError> {
    let bad = peer_id.is_empty()
        || peer_id.len() > MAX_PEER_ID_BYTES
        || peer_id == "."
        || peer_id == ".."
        || peer_id
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_whitespace() || c.is_control());
    if bad {
        Err(PackagingError::InvalidPeerId(peer_id.to_owned()))
    } else {
        Ok(())
    }
}

/// `host:port` as the peer dials it: a host name or IPv4 address, or a bracketed IPv6 address,
/// and a port from 1 to 65535.
pub fn validate_address(address: &str) -> Result<(), PackagingError> {
    let err = |reason| PackagingError::InvalidAddress {
        address: address.to_owned(),
        reason,
    };
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| err("expected HOST:PORT"))?;
    if host.is_empty() {
        return Err(err("the host is empty"));
    }
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => {
            !v6.is_empty()
                && v6
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        }
        None => !host.chars().any(|c| {
            matches!(c, ':' | '/' | '[' | ']' | '{' | '}') || c.is_whitespace() || c.is_control()
        }),
    };
    if !host_ok {
        return Err(err(
            "the host must be a name, an IPv4 address or a bracketed IPv6 address",
        ));
    }
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.chars().all(|c| c.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
    if !port_ok {
        return Err(err("the port must be a number from 1 to 65535"));
    }
    Ok(())
}

/// An address for ccaas_builder: `host:port` once every template action is filled in. Only field
/// references (`{{.name}}`, `{{ .a.b }}`, with optional `-` trim markers) are accepted: that is
/// what filling from a JSON object needs, and anything else would only fail at install time.
pub fn validate_address_template(address: &str) -> Result<(), PackagingError> {
    let err = |reason| PackagingError::InvalidTemplate {
        address: address.to_owned(),
        reason,
    };
    let mut filled = String::with_capacity(address.len());
    let mut rest = address;
    while let Some(start) = rest.find("{{") {
        filled.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| err("a '{{' is not closed by '}}'"))?;
        let action = after[..end]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        let field_ok = action.strip_prefix('.').is_some_and(|path| {
            path.split('.').all(|name| {
                name.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        });
        if !field_ok {
            return Err(err(
                "only field references such as {{.peername}} are supported",
            ));
        }
        // A stand-in that is valid both as a host name and as a port.
        filled.push('1');
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        return Err(err("a '}}' has no '{{'"));
    }
    filled.push_str(rest);
    validate_address(&filled).map_err(|_| {
        err("it must be host:port once the fields are filled in (a port may come from a field)")
    })
}

/// A non-negative Go `time.ParseDuration` string: `0`, or one or more `<number><unit>` with units
/// ns, us, µs, μs, ms, s, m, h (e.g. `10s`, `1m30s`, `1.5h`), optionally after a `+`, within
/// Go's `time.Duration`. An empty string is refused: the peer cannot parse it.
pub fn validate_dial_timeout(value: &str) -> Result<(), PackagingError> {
    duration::parse_timeout(value)
        .map(|_| ())
        .map_err(|reason| PackagingError::InvalidDialTimeout {
            value: value.to_owned(),
            reason,
        })
}

/// `metadata.json` bytes: `{"path":"","type":T,"label":L}`.
pub fn metadata_json(package_type: &str, label: &str) -> Result<Vec<u8>, PackagingError> {
    validate_label(label)?;
    serde_json::to_vec(&Metadata {
        path: "",
        package_type,
        label,
    })
    .map_err(|e| PackagingError::Archive(io::Error::other(e)))
}

/// A normal-mode package: `metadata.json` type `ercc-type` and `code.tar.gz` holding `ercc`
/// (mode 0755).
pub fn normal_package(label: &str, binary: &[u8]) -> Result<Vec<u8>, PackagingError> {
    let metadata = metadata_json(TYPE_NORMAL, label)?;
    let mut code = TarGz::new();
    code.file(BINARY_NAME, 0o755, binary)?;
    install_package(&metadata, &code.finish()?)
}

/// A chaincode-as-a-service package: `metadata.json` type `external` and `code.tar.gz` holding
/// `<peer id>/connection.json` for every peer (in peer-id order).
pub fn caas_package(
    label: &str,
    peers: &BTreeMap<String, Connection>,
) -> Result<Vec<u8>, PackagingError> {
    let metadata = metadata_json(TYPE_CAAS, label)?;
    if peers.is_empty() {
        return Err(PackagingError::NoPeers);
    }
    let mut code = TarGz::new();
    for (peer_id, connection) in peers {
        validate_peer_id(peer_id)?;
        connection.validate()?;
        let json = serde_json::to_vec_pretty(connection)
            .map_err(|e| PackagingError::Archive(io::Error::other(e)))?;
        code.dir(peer_id)?;
        code.file(&format!("{peer_id}/connection.json"), 0o644, &json)?;
    }
    install_package(&metadata, &code.finish()?)
}

/// A package for Fabric's `ccaas_builder`: `metadata.json` type `ccaas` and `code.tar.gz`
/// holding one top-level `connection.json`, used by every peer (templates filled per peer).
pub fn ccaas_package(label: &str, connection: &Connection) -> Result<Vec<u8>, PackagingError> {
    let metadata = metadata_json(TYPE_CCAAS, label)?;
    connection.validate_for_ccaas()?;
    let json = serde_json::to_vec_pretty(connection)
        .map_err(|e| PackagingError::Archive(io::Error::other(e)))?;
    let mut code = TarGz::new();
    code.file("connection.json", 0o644, &json)?;
    install_package(&metadata, &code.finish()?)
}

/// The outer install package: exactly two regular files and no directory entries, as the peer
/// requires, written the way the peer CLI writes them (mode 0100644).
pub fn install_package(
    metadata_json: &[u8],
    code_tar_gz: &[u8],
) -> Result<Vec<u8>, PackagingError> {
    let mut outer = TarGz::new();
    outer.file("metadata.json", 0o100_644, metadata_json)?;
    outer.file("code.tar.gz", 0o100_644, code_tar_gz)?;
    outer.finish()
}

/// A gzip-compressed ustar archive with fixed owners and times.
struct TarGz {
    tar: tar::Builder<Vec<u8>>,
}

impl TarGz {
    fn new() -> TarGz {
        TarGz {
            tar: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(FIXED_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header
    }

    fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), PackagingError> {
        let mut header = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        self.tar
            .append_data(&mut header, path, data)
            .map_err(PackagingError::Archive)
    }

    fn dir(&mut self, path: &str) -> Result<(), PackagingError> {
        let mut header = Self::header(tar::EntryType::Directory, 0o755, 0);
        self.tar
            .append_data(&mut header, format!("{path}/"), io::empty())
            .map_err(PackagingError::Archive)
    }

    fn finish(self) -> Result<Vec<u8>, PackagingError> {
        let tar = self.tar.into_inner().map_err(PackagingError::Archive)?;
        // No file name and mtime 0 in the gzip header: the bytes depend on the content only.
        let mut gz = GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), Compression::default());
        gz.write_all(&tar).map_err(PackagingError::Archive)?;
        gz.finish().map_err(PackagingError::Archive)
    }
}

/// Runs `ercc package`: builds the package, writes it to `--out` and prints its id on stdout.
pub fn run(args: PackageArgs) -> Result<(), PackagingError> {
    let (label, out, package) = match args.mode {
        PackageMode::Normal(a) => {
            validate_label(&a.label)?;
            let path = match a.binary {
                Some(p) => p,
                None => std::env::current_exe().map_err(PackagingError::CurrentExe)?,
            };
            let binary = read_limited(&path, MAX_BINARY_BYTES)?;
            if binary.is_empty() {
                return Err(PackagingError::EmptyBinary(path));
            }
            let package = normal_package(&a.label, &binary)?;
            (a.label, a.out, package)
        }
        PackageMode::Caas(a) => {
            validate_label(&a.label)?;
            let package = match &a.address {
                Some(address) => ccaas_package(&a.label, &caas_connection(&a, address)?)?,
                None => caas_package(&a.label, &caas_connections(&a)?)?,
            };
            (a.label, a.out, package)
        }
    };
    write_atomically(&out, &package)
        .map_err(|(path, source)| PackagingError::Io { path, source })?;
    let id = package_id(&label, &package);
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{id}").map_err(PackagingError::Stdout)
}

/// Turns the `caas --address` flags into the one `connection.json` for ccaas_builder.
pub fn caas_connection(args: &CaasArgs, address: &str) -> Result<Connection, PackagingError> {
    let connection = Connection {
        address: address.to_owned(),
        ..connection_settings(args)?
    };
    connection.validate_for_ccaas()?;
    Ok(connection)
}

/// Turns the `caas --peer` flags into one validated `connection.json` per peer.
pub fn caas_connections(args: &CaasArgs) -> Result<BTreeMap<String, Connection>, PackagingError> {
    let settings = connection_settings(args)?;
    if args.peers.is_empty() {
        return Err(PackagingError::NoPeers);
    }
    let mut peers = BTreeMap::new();
    for spec in &args.peers {
        let (peer_id, address) = spec
            .split_once('=')
            .ok_or_else(|| PackagingError::InvalidPeerSpec(spec.clone()))?;
        validate_peer_id(peer_id)?;
        validate_address(address)?;
        let connection = Connection {
            address: address.to_owned(),
            ..settings.clone()
        };
        if peers.insert(peer_id.to_owned(), connection).is_some() {
            return Err(PackagingError::DuplicatePeer(peer_id.to_owned()));
        }
    }
    Ok(peers)
}

/// Everything in a `connection.json` but the address, from the flags (PEM files read).
fn connection_settings(args: &CaasArgs) -> Result<Connection, PackagingError> {
    validate_dial_timeout(&args.dial_timeout)?;
    if !args.client_auth {
        if args.client_cert.is_some() {
            return Err(PackagingError::ClientAuthOnly("--client-cert"));
        }
        if args.client_key.is_some() {
            return Err(PackagingError::ClientAuthOnly("--client-key"));
        }
        if args.domain.is_some() {
            return Err(PackagingError::ClientAuthOnly("--domain"));
        }
    }
    if args.domain.as_deref() == Some("") {
        return Err(PackagingError::EmptyDomain);
    }
    let root_cert = args
        .tls_root_cert
        .as_deref()
        .map(|p| read_pem(p, PemKind::Certificate))
        .transpose()?;
    let (client_cert, client_key) = if args.client_auth {
        match (&root_cert, &args.client_cert, &args.client_key) {
            (Some(_), Some(cert), Some(key)) => (
                Some(read_pem(cert, PemKind::Certificate)?),
                Some(read_pem(key, PemKind::PrivateKey)?),
            ),
            _ => return Err(PackagingError::IncompleteClientAuth),
        }
    } else {
        (None, None)
    };

    Ok(Connection {
        address: String::new(),
        dial_timeout: args.dial_timeout.clone(),
        tls_required: root_cert.is_some(),
        client_auth_required: args.client_auth,
        domain: args.domain.clone(),
        root_cert,
        client_cert,
        client_key,
    })
}

#[derive(Clone, Copy)]
enum PemKind {
    Certificate,
    PrivateKey,
}

/// Reads a PEM file and checks it holds a readable block of the kind asked for (a private key
/// in any of its encodings, whatever its label); the content is embedded as is.
fn read_pem(path: &Path, kind: PemKind) -> Result<String, PackagingError> {
    let bytes = read_limited(path, MAX_PEM_BYTES)?;
    let invalid = |reason| PackagingError::InvalidPem {
        path: path.to_owned(),
        reason,
    };
    let text = String::from_utf8(bytes).map_err(|_| invalid("not a text (PEM) file"))?;
    let ok = match kind {
        PemKind::Certificate => pem::decode_all(text.as_bytes())
            .is_ok_and(|blocks| blocks.iter().any(|b| b.label == pem::Label::Certificate)),
        PemKind::PrivateKey => pem::private_key(text.as_bytes()).is_ok(),
    };
    if !ok {
        return Err(invalid(match kind {
            PemKind::Certificate => "no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
            PemKind::PrivateKey => "no PEM private key (-----BEGIN ... PRIVATE KEY-----) in it",
        }));
    }
    Ok(text)
}

/// Reads a regular file, refusing before allocation anything larger than `limit`.
fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, PackagingError> {
    file::read_regular_bounded(path, limit).map_err(|e| match e {
        file::ReadError::NotAFile { path } => PackagingError::NotAFile(path),
        file::ReadError::TooLarge { path, size, limit } => {
            PackagingError::TooLarge { path, size, limit }
        }
        file::ReadError::Io { path, source } => PackagingError::Io { path, source },
    })
}

/// Writes next to the target and renames, so an interrupted run never leaves a truncated file
/// under the name an operator would use. The error names the path that failed.
pub(crate) fn write_atomically(out: &Path, data: &[u8]) -> Result<(), (PathBuf, std::io::Error)> {
    let mut tmp_name = out.as_os_str().to_owned();
    tmp_name.push(".partial");
    let tmp = PathBuf::from(tmp_name);
    let result = File::create(&tmp)
        .and_then(|mut f| f.write_all(data).and_then(|()| f.sync_all()))
        .map_err(|e| (tmp.clone(), e))
        .and_then(|()| std::fs::rename(&tmp, out).map_err(|e| (out.to_owned(), e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_fabric_rule() {
        for ok in ["ercc", "ercc_1.0", "a", "0x+y-z", "ERCC.v2"] {
            assert!(validate_label(ok).is_ok(), "{ok}");
        }
        for bad in ["", "_ercc", "-x", ".x", "er cc", "ercc:1", "ércc", "a/b"] {
            assert!(validate_label(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_durations() {
        for ok in [
            "0",
            "10s",
            "1m30s",
            "1.5h",
            ".5s",
            "5.s",
            "300ms",
            "2us",
            "7µs",
            "7μs",
            "1h2m3s4ms5us6ns",
            "+1s",
        ] {
            assert!(validate_dial_timeout(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "10", "s", "-1s", "1x", "1 s", ".s", "1s ", "1.2.3s", "00",
        ] {
            assert!(validate_dial_timeout(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses() {
        for ok in [
            "h:1",
            "ercc.example.com:9999",
            "10.0.0.1:65535",
            "[::1]:7052",
        ] {
            assert!(validate_address(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "h",
            ":1",
            "h:",
            "h:0",
            "h:65536",
            "h:x",
            "a b:1",
            "::1:7052",
            "[]:1",
            "{{.peername}}:1",
            "h:+1",
        ] {
            assert!(validate_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn address_templates() {
        for ok in [
            "{{.peername}}_ercc:9999",
            "{{ .peername }}.ercc.example.com:9999",
            "{{- .host -}}:{{.port}}",
            "{{.org.peer}}:1",
            "ercc.example.com:9999",
        ] {
            assert!(validate_address_template(ok).is_ok(), "{ok}");
        }
        for bad in [
            "{{.peername}_ercc:9999",
            "{{peername}}:1",
            "{{.}}:1",
            "{{printf \"x\"}}:1",
            "{{.a..b}}:1",
            "h}}:1",
            "{{.peername}}",
            "{{.h}}:0",
            "{{.h}} x:1",
        ] {
            assert!(validate_address_template(bad).is_err(), "{bad:?}");
        }
        let mut c = Connection::plain("{{.peername}}:9999", "10s");
        assert!(
            c.validate().is_err(),
            "fpc-external-launcher does not expand templates"
        );
        assert!(c.validate_for_ccaas().is_ok());
        c.domain = Some("ercc".into());
        assert!(matches!(
            c.validate_for_ccaas(),
            Err(PackagingError::DomainWithCcaas)
        ));
    }

    #[test]
    fn peer_ids() {
        assert!(validate_peer_id("peer0.org1.example.com").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b", "a b", "a\nb"] {
            assert!(validate_peer_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_peer_id(&"p".repeat(201)).is_err());
    }

    #[test]
    fn package_id_is_label_and_sha256() {
        assert_eq!(
            package_id("ercc", b"abc"),
            "ercc:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn metadata_json_bytes() {
        let m = metadata_json(TYPE_NORMAL, "ercc_1").expect("metadata");
        assert_eq!(m, br#"{"path":"","type":"ercc-type","label":"ercc_1"}"#);
        assert!(metadata_json(TYPE_CAAS, "bad label").is_err());
    }

    #[test]
    fn tls_flags_need_their_material() {
        let mut c = Connection::plain("h:1", "10s");
        assert!(c.validate().is_ok());
        c.tls_required = true;
        assert!(c.validate().is_err());
        c.root_cert = Some("-----BEGIN CERTIFICATE-----".into());
        assert!(c.validate().is_ok());
        c.client_auth_required = true;
        assert!(c.validate().is_err());
        c.client_cert = Some("cert".into());
        c.client_key = Some("key".into());
        assert!(c.validate().is_ok());
    }
}
