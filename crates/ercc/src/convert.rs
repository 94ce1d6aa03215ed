//! `ercc convert`: turns credentials holding a `dcap` attestation (a bare quote) into credentials
//! holding `dcap` evidence (the quote plus all its collateral), fetched from a PCCS or Intel PCS
//! through the PCS v4 API, so that the registry can verify it offline at the transaction time.
//!
//! Blocking HTTP with `ureq`: a one-shot CLI making four sequential GETs needs no async runtime.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use enclave_attestation::dcap::{self, Collateral, DcapEvidence};
use prost::Message as _;
use serde::Deserialize;

use crate::cli_input::{self, InputError};
use crate::credentials;

/// Largest accepted response body from the collateral service.
const MAX_BODY: u64 = 1024 * 1024;

/// Fetch DCAP collateral for credentials and write credentials carrying `dcap` evidence.
#[derive(Debug, Clone, clap::Args)]
pub struct ConvertArgs {
    /// Base URL of a PCCS or of Intel PCS (e.g. https://api.trustedservices.intel.com);
    /// the PCS v4 paths (/sgx/certification/v4/...) are appended.
    #[arg(long, env = "ERCC_PCCS_URL")]
    pub pccs_url: String,
    /// File with the base64 credentials; `-` or absent reads standard input.
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Where to write the converted base64 credentials; absent writes standard output.
    #[arg(long = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Timeout of each request, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
    /// PEM file of the CA certificate(s) to trust for an https PCCS (a PCCS often has its own
    /// TLS certificate); by default the public web PKI roots are trusted.
    #[arg(long, value_name = "PEM_FILE")]
    pub pccs_ca_cert: Option<PathBuf>,
}

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The credentials cannot be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The credentials do not decode.
    #[error("invalid credentials: {0}")]
    InvalidCredentials(String),
    /// The credentials hold no dcap attestation (why).
    #[error("credentials do not hold a dcap attestation: {0}")]
    NotDcap(String),
    /// The attestation's quote does not parse.
    #[error("invalid dcap quote in the attestation: {0}")]
    Quote(#[from] dcap::DcapError),
    /// The collateral service URL is not http(s).
    #[error("invalid collateral service URL {0:?}: it must start with http:// or https://")]
    BadUrl(String),
    /// The PCCS CA certificate file cannot be used (its path, why).
    #[error("cannot use {0} as the PCCS CA certificate: {1}")]
    CaCert(String, String),
    /// The collateral service cannot be reached.
    #[error("cannot reach the collateral service at {url}: {detail}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The collateral service answered with an HTTP error.
    #[error("{url} answered HTTP {status}: is {base} a PCCS or Intel PCS (v4 API) base URL?")]
    HttpStatus {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The base URL given.
        base: String,
    },
    /// The answer is not a PCCS or PCS v4 one.
    #[error("{url} does not look like a PCCS or Intel PCS v4 response: {detail}")]
    WrongService {
        /// The URL asked.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The output file cannot be written (its path, the error).
    #[error("cannot write the converted credentials to {0}: {1}")]
    Output(String, std::io::Error),
}

#[derive(Deserialize)]
struct Attestation {
    attestation_type: String,
    attestation: String,
}

#[derive(Deserialize)]
struct TcbInfoResponse<'a> {
    #[serde(rename = "tcbInfo", borrow)]
    tcb_info: &'a serde_json::value::RawValue,
    signature: String,
}

#[derive(Deserialize)]
struct QeIdentityResponse<'a> {
    #[serde(rename = "enclaveIdentity", borrow)]
    enclave_identity: &'a serde_json::value::RawValue,
    signature: String,
}

struct Fetched {
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Fetched {
    /// A percent-encoded issuer chain header (the first of `names` present), decoded.
    fn chain_header(&self, url: &str, names: &[&str]) -> Result<String, ConvertError> {
        let value = names
            .iter()
            .find_map(|n| {
                self.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| v)
            })
            .ok_or_else(|| ConvertError::WrongService {
                url: url.to_string(),
                detail: format!("no {} header", names.join(" or ")),
            })?;
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|e| ConvertError::WrongService {
                url: url.to_string(),
                detail: format!("{}: {e}", names.join("/")),
            })?;
        if !decoded.contains("-----BEGIN CERTIFICATE-----") {
            return Err(ConvertError::WrongService {
                url: url.to_string(),
                detail: format!("{} header holds no PEM certificate", names.join("/")),
            });
        }
        Ok(decoded.into_owned())
    }
}

struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn get(&self, what: &str, url: &str) -> Result<Fetched, ConvertError> {
        eprintln!("fetching {what}: GET {url}");
        let mut resp = self
            .agent
            .get(url)
            .call()
            .map_err(|e| ConvertError::Unreachable {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(ConvertError::HttpStatus {
                url: url.to_string(),
                status,
                base: self.base.clone(),
            });
        }
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| ConvertError::Unreachable {
                url: url.to_string(),
                detail: format!("reading the body: {e}"),
            })?;
        eprintln!("  HTTP 200, {} bytes", body.len());
        Ok(Fetched { body, headers })
    }
}

fn wrong(url: &str, detail: impl std::fmt::Display) -> ConvertError {
    ConvertError::WrongService {
        url: url.to_string(),
        detail: detail.to_string(),
    }
}

fn signature_hex(url: &str, s: &str) -> Result<Vec<u8>, ConvertError> {
    let sig = hex::decode(s).map_err(|e| wrong(url, format!("signature is not hex: {e}")))?;
    if sig.len() != 64 {
        return Err(wrong(
            url,
            format!("signature is {} bytes, expected 64", sig.len()),
        ));
    }
    Ok(sig)
}

/// A DER CRL, or (as PCCS serves the root CA CRL) its hex text.
fn crl_body(url: &str, body: Vec<u8>) -> Result<Vec<u8>, ConvertError> {
    if body.first() == Some(&0x30) {
        return Ok(body);
    }
    let text =
        String::from_utf8(body).map_err(|_| wrong(url, "body is neither a DER CRL nor hex"))?;
    let der =
        hex::decode(text.trim()).map_err(|_| wrong(url, "body is neither a DER CRL nor hex"))?;
    if der.first() != Some(&0x30) {
        return Err(wrong(url, "body is not a CRL"));
    }
    Ok(der)
}

/// Fetches the collateral of `quote` from `base` (PCS v4 API).
fn fetch_collateral(client: &Client, quote: &[u8]) -> Result<Collateral, ConvertError> {
    let req = dcap::collateral_request(quote)?;
    let v4 = format!("{}/sgx/certification/v4", client.base);

    let url = format!("{v4}/pckcrl?ca={}&encoding=der", req.pck_ca.as_str());
    let r = client.get(&format!("PCK CRL ({} CA)", req.pck_ca.as_str()), &url)?;
    let pck_crl_issuer_chain = r.chain_header(&url, &["SGX-PCK-CRL-Issuer-Chain"])?;
    let pck_crl = crl_body(&url, r.body)?;

    let url = format!("{v4}/tcb?fmspc={}", hex::encode_upper(req.fmspc));
    let r = client.get("TCB info", &url)?;
    let tcb_info_issuer_chain = r.chain_header(
        &url,
        &["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"],
    )?;
    let t: TcbInfoResponse<'_> = serde_json::from_slice(&r.body).map_err(|e| wrong(&url, e))?;
    let (tcb_info, tcb_info_signature) = (
        t.tcb_info.get().to_string(),
        signature_hex(&url, &t.signature)?,
    );

    let url = format!("{v4}/qe/identity");
    let r = client.get("QE identity", &url)?;
    let qe_identity_issuer_chain = r.chain_header(&url, &["SGX-Enclave-Identity-Issuer-Chain"])?;
    let q: QeIdentityResponse<'_> = serde_json::from_slice(&r.body).map_err(|e| wrong(&url, e))?;
    let (qe_identity, qe_identity_signature) = (
        q.enclave_identity.get().to_string(),
        signature_hex(&url, &q.signature)?,
    );

    // PCCS serves the root CA CRL itself; Intel PCS points to it from the root certificate.
    let url = format!("{v4}/rootcacrl");
    let root_ca_crl = match client.get("root CA CRL", &url) {
        Ok(r) => crl_body(&url, r.body)?,
        Err(ConvertError::HttpStatus { status, .. }) if (400..500).contains(&status) => {
            let url = dcap::root_crl_url(&qe_identity_issuer_chain).ok_or_else(|| {
                wrong(
                    &url,
                    "404, and the root certificate names no CRL distribution point",
                )
            })?;
            let r = client.get("root CA CRL (from the root certificate)", &url)?;
            crl_body(&url, r.body)?
        }
        Err(e) => return Err(e),
    };

    Ok(Collateral {
        pck_crl_issuer_chain,
        root_ca_crl,
        pck_crl,
        tcb_info_issuer_chain,
        tcb_info,
        tcb_info_signature,
        qe_identity_issuer_chain,
        qe_identity,
        qe_identity_signature,
    })
}

/// Converts base64 `Credentials` text; the fetches go through `client`.
fn convert_text(client: &Client, input: &str) -> Result<String, ConvertError> {
    let mut creds = credentials::decode_credentials(input)
        .map_err(|e| ConvertError::InvalidCredentials(e.to_string()))?;
    if creds.attestation.is_empty() {
        return Err(ConvertError::NotDcap("attestation is empty".into()));
    }
    let att: Attestation = serde_json::from_slice(&creds.attestation).map_err(|e| {
        ConvertError::NotDcap(format!("attestation is not the FPC attestation JSON: {e}"))
    })?;
    if att.attestation_type != "dcap" {
        return Err(ConvertError::NotDcap(format!(
            "attestation_type is {:?}",
            att.attestation_type
        )));
    }
    let quote = base64::engine::general_purpose::STANDARD
        .decode(att.attestation.trim())
        .map_err(|e| ConvertError::NotDcap(format!("the quote is not base64: {e}")))?;
    let collateral = fetch_collateral(client, &quote)?;
    let evidence = DcapEvidence { quote, collateral };
    let summary = dcap::inspect(&evidence);
    eprintln!(
        "collateral valid {} .. {}; TCB status {} (not verified here)",
        summary["collateral_validity"]["not_before"]
            .as_str()
            .unwrap_or("?"),
        summary["collateral_validity"]["not_after"]
            .as_str()
            .unwrap_or("?"),
        summary["tcb_status"].as_str().unwrap_or("unknown"),
    );
    creds.evidence = evidence.to_fpc_evidence().into_bytes();
    Ok(base64::engine::general_purpose::STANDARD.encode(creds.encode_to_vec()))
}

/// Largest `--ca-cert` file read (a CA bundle is a few hundred KiB at most).
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

fn tls_roots(path: &std::path::Path) -> Result<ureq::tls::RootCerts, ConvertError> {
    let bad = |e: String| ConvertError::CaCert(path.display().to_string(), e);
    let pem =
        fabric_formats::file::read_bounded(path, MAX_CA_FILE_BYTES).map_err(|e| bad(e.reason()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| bad(e.to_string()))? {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err(bad("no PEM certificate in the file".into()));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

fn client(
    base_url: &str,
    timeout: Duration,
    ca_cert: Option<&std::path::Path>,
) -> Result<Client, ConvertError> {
    let base = base_url
        .trim_end_matches('/')
        .trim_end_matches("/sgx/certification/v4")
        .to_string();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(ConvertError::BadUrl(base_url.to_string()));
    }
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout));
    if let Some(path) = ca_cert {
        config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(tls_roots(path)?)
                .build(),
        );
    }
    let agent: ureq::Agent = config.build().into();
    Ok(Client { agent, base })
}

/// Runs `ercc convert`.
pub fn run(args: ConvertArgs) -> Result<(), ConvertError> {
    let client = client(
        &args.pccs_url,
        Duration::from_secs(args.timeout_secs),
        args.pccs_ca_cert.as_deref(),
    )?;
    let input = match &args.input {
        Some(p) if p.as_os_str() != "-" => cli_input::read_file(p)?,
        _ => cli_input::read_stdin()?,
    };
    let out = convert_text(&client, &input)?;
    match &args.output {
        // Renamed into place, so a failed write never leaves truncated credentials at `--out`.
        Some(p) => crate::package::write_atomically(p, format!("{out}\n").as_bytes())
            .map_err(|(path, e)| ConvertError::Output(path.display().to_string(), e)),
        None => {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{out}").map_err(|e| ConvertError::Output("standard output".into(), e))
        }
    }
}
