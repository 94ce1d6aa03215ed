//! `dcap` evidence: SGX ECDSA quotes (versions 3 and 4) with all their collateral, verified offline
//! against a configured trust anchor at a given time. Cryptographic verification and TCB status
//! computation only; policy (accepted statuses, advisories, debug, MRENCLAVE, report data) is the
//! caller's. See `docs/dcap-evidence.md` for the evidence format.

mod error;
mod evidence;
mod inspect;
mod path;
mod quote;
mod reappraise;
mod sigs;
mod tcb;
#[cfg(feature = "test-pki")]
pub mod test_pki;
mod verify;
pub(crate) mod x509;

pub use error::DcapError;
pub use evidence::{
    Collateral, DcapEvidence, MAX_CHAIN_LEN, MAX_CRL_LEN, MAX_EVIDENCE_LEN,
    MAX_JSON_COLLATERAL_LEN, MAX_QUOTE_LEN,
};
pub use reappraise::{reappraise, tcb_info_version, Rejudged, TcbInfoVersion};
#[doc(hidden)]
pub use sigs::SigCheck;
pub use tcb::TcbStatus;

/// Intel SGX Root CA (DER), the default DCAP trust anchor.
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = crate::anchors::INTEL_SGX_ROOT_DER;

/// What a verified quote proves, before any policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcapVerified {
    /// The ISV enclave's MRENCLAVE.
    pub mrenclave: [u8; 32],
    /// The ISV enclave's MRSIGNER.
    pub mrsigner: [u8; 32],
    /// The ISV enclave's product id.
    pub isv_prod_id: u16,
    /// The ISV enclave's security version.
    pub isv_svn: u16,
    /// The ISV enclave's report data (FPC: SHA-256 of the attested data, then 32 zero bytes).
    pub report_data: [u8; 64],
    /// `ATTRIBUTES.DEBUG` of the ISV enclave.
    pub debug: bool,
    /// Intel's name of the combined platform and QE TCB status, e.g. `UpToDate`, `SWHardeningNeeded`.
    pub tcb_status: String,
    /// Advisories of the matched TCB levels (platform's first, then the QE's).
    pub advisory_ids: Vec<String>,
    /// The platform's FMSPC, from the PCK certificate.
    pub fmspc: [u8; 6],
    /// First second (Unix) at which every certificate, CRL, TCB info and QE identity is valid.
    pub collateral_not_before: i64,
    /// Last second (Unix) at which they all still are.
    pub collateral_not_after: i64,
    /// 3 or 4.
    pub quote_version: u16,
}

impl DcapVerified {
    /// The attested enclave, in the form shared with the other evidence types.
    pub fn enclave_report(&self) -> crate::claims::EnclaveReport {
        crate::claims::EnclaveReport {
            mrenclave: self.mrenclave,
            mrsigner: self.mrsigner,
            isv_prod_id: self.isv_prod_id,
            isv_svn: self.isv_svn,
            report_data: self.report_data,
            debug: self.debug,
        }
    }
}

/// Verifies `dcap` evidence against `root_ca_der` at `now_unix_secs` (the transaction time):
/// certificate chains and CRLs, TCB info and QE identity (signatures and validity windows), the QE
/// report and its binding of the attestation key, the quote signature, and the TCB status.
pub fn verify(
    ev: &DcapEvidence,
    root_ca_der: &[u8],
    now_unix_secs: i64,
) -> Result<DcapVerified, DcapError> {
    verify::verify_impl(ev, root_ca_der, now_unix_secs, None)
}

/// Like [`verify`], also returning every ECDSA check it made (for the benchmark's baseline).
#[doc(hidden)]
pub fn verify_recording(
    ev: &DcapEvidence,
    root_ca_der: &[u8],
    now_unix_secs: i64,
) -> (Result<DcapVerified, DcapError>, Vec<SigCheck>) {
    let mut log = Vec::new();
    let r = verify::verify_impl(ev, root_ca_der, now_unix_secs, Some(&mut log));
    (r, log)
}

/// A non-verifying summary for operators: quote fields, FMSPC, the TCB status and advisories the
/// collateral assigns (when computable), and the collateral validity window. `"verified": false`.
pub fn inspect(ev: &DcapEvidence) -> serde_json::Value {
    inspect::inspect_impl(ev)
}

/// Which PCK CA issued a quote's PCK certificate (the `ca` parameter of the PCS `pckcrl` request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PckCa {
    /// The Intel SGX PCK Processor CA.
    Processor,
    /// The Intel SGX PCK Platform CA.
    Platform,
}

impl PckCa {
    /// The name the PCS API uses (`processor`, `platform`).
    pub fn as_str(self) -> &'static str {
        match self {
            PckCa::Processor => "processor",
            PckCa::Platform => "platform",
        }
    }
}

/// What to ask a PCS/PCCS for to build a quote's collateral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollateralRequest {
    /// The platform's FMSPC (the TCB info to ask for).
    pub fmspc: [u8; 6],
    /// The CA whose CRL to ask for.
    pub pck_ca: PckCa,
}

/// Reads the FMSPC and the issuing PCK CA from the PCK certificate inside a quote (not verified).
pub fn collateral_request(quote: &[u8]) -> Result<CollateralRequest, DcapError> {
    if quote.len() > MAX_QUOTE_LEN {
        return Err(DcapError::QuoteTooLarge {
            size: quote.len(),
            max: MAX_QUOTE_LEN,
        });
    }
    let q = quote::Quote::parse(quote)?;
    let ders = x509::parse_pem_chain(q.pck_chain_pem, "PCK certificate chain")?;
    let leaf = ders
        .first()
        .ok_or_else(|| DcapError::MalformedQuote("empty PCK chain".into()))?;
    let cert = x509::Cert::from_der(leaf, "PCK certificate")?;
    let ext = x509::pck_extension(&cert)?;
    let issuer = cert.issuer_name();
    let pck_ca = if issuer.contains("Platform CA") {
        PckCa::Platform
    } else if issuer.contains("Processor CA") {
        PckCa::Processor
    } else {
        return Err(DcapError::InvalidCertificate {
            what: "PCK certificate",
            detail: format!("issuer {issuer} is neither a PCK Processor CA nor a PCK Platform CA"),
        });
    };
    Ok(CollateralRequest {
        fmspc: ext.fmspc,
        pck_ca,
    })
}

/// The CRL distribution point URL of the last certificate of a PEM chain (the root CA's CRL,
/// for fetching it from Intel when a service has no `rootcacrl` endpoint).
pub fn root_crl_url(pem_chain: &str) -> Option<String> {
    use der::Decode as _;
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    use x509_cert::ext::pkix::CrlDistributionPoints;
    let ders = x509::parse_pem_chain(pem_chain.as_bytes(), "issuer chain").ok()?;
    let cert = x509_cert::Certificate::from_der(ders.last()?).ok()?;
    let oid = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.31");
    let ext = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oid)?;
    let points = CrlDistributionPoints::from_der(ext.extn_value.as_bytes()).ok()?;
    points.0.iter().find_map(|p| match &p.distribution_point {
        Some(DistributionPointName::FullName(names)) => names.iter().find_map(|n| match n {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
            _ => None,
        }),
        _ => None,
    })
}

/// Reads a trust anchor from PEM (e.g. the `ERCC_DCAP_ROOT_CA` file): exactly one certificate
/// with a P-256 key. Returns its DER, as [`verify`] takes it.
pub fn root_ca_der_from_pem(pem: &[u8]) -> Result<Vec<u8>, DcapError> {
    let what = "DCAP root CA certificate";
    let mut ders = x509::parse_pem_lenient(pem, what)?;
    if ders.len() != 1 {
        return Err(DcapError::InvalidCertificate {
            what,
            detail: format!("{} certificates, expected exactly one", ders.len()),
        });
    }
    let der = ders.remove(0);
    x509::Cert::from_der(&der, what)?;
    Ok(der)
}
