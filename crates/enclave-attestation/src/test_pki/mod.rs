//! Test PKI (feature `test-pki`): an RSA root and report-signing certificate, made at run time,
//! signing IAS-style reports for a chosen enclave and statement, so tests and end-to-end runs can
//! produce EPID evidence that verifies against a configured test root. Test tooling only: never
//! enable the feature in a production build.
//!
//! The RSA keys are fixed test keys (`keys/`): generating RSA keys takes tens of seconds per key in
//! debug builds. The certificates are generated at run time, per [`IasTestPki`], with the validity
//! windows a test asks for.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SigningKey, PKCS_RSA_SHA256,
};
use time::OffsetDateTime;

use crate::anchors::RootCa;
use crate::appraisal::expected_report_data;
use crate::ias::QUOTE_BODY_LEN;
use crate::policy::Policy;
use crate::time::{format_ias_timestamp, UnixTime};

/// Test PKI failures (key loading or certificate encoding).
#[derive(Debug, thiserror::Error)]
#[error("test PKI: {0}")]
pub struct IasTestPkiError(String);

fn err(e: impl std::fmt::Display) -> IasTestPkiError {
    IasTestPkiError(e.to_string())
}

/// The fixed test keys (PKCS#8 PEM): see `keys/README.md` for why they are not generated.
const ROOT_KEY: &str = include_str!("keys/root.key.pem");
const SIGNING_KEY: &str = include_str!("keys/signing.key.pem");
const OTHER_ROOT_KEY: &str = include_str!("keys/other-root.key.pem");

fn key(pem: &str) -> Result<KeyPair, IasTestPkiError> {
    KeyPair::from_pkcs8_pem_and_sign_algo(pem, &PKCS_RSA_SHA256).map_err(err)
}

/// Subject common name of the test root (both the normal and the "other" root).
pub const ROOT_NAME: &str = "ercc-rs Test SGX Attestation Report Signing CA";
/// Subject common name of the test report-signing certificate.
pub const SIGNING_NAME: &str = "ercc-rs Test SGX Attestation Report Signing";

/// Default validity of the test root: 2000-01-01 .. 2100-01-01.
pub const ROOT_VALIDITY: (UnixTime, UnixTime) = (
    UnixTime::from_secs(946_684_800),
    UnixTime::from_secs(4_102_444_800),
);
/// Default validity of the test signing certificate: 2010-01-01 .. 2090-01-01.
pub const SIGNING_VALIDITY: (UnixTime, UnixTime) = (
    UnixTime::from_secs(1_262_304_000),
    UnixTime::from_secs(3_786_912_000),
);

/// A test root and report-signing certificate.
pub struct IasTestPki {
    root_pem: String,
    root_der: Vec<u8>,
    signing_pem: String,
    signing_key: KeyPair,
}

/// What a test report attests.
#[derive(Debug, Clone)]
pub struct ReportSpec {
    /// MRENCLAVE.
    pub mrenclave: [u8; 32],
    /// MRSIGNER.
    pub mrsigner: [u8; 32],
    /// ISVPRODID.
    pub isv_prod_id: u16,
    /// ISVSVN.
    pub isv_svn: u16,
    /// REPORTDATA (by default the FPC binding of the statement).
    pub report_data: [u8; 64],
    /// `isvEnclaveQuoteStatus`.
    pub quote_status: String,
    /// The DEBUG attribute.
    pub debug: bool,
    /// The IAS timestamp.
    pub timestamp: UnixTime,
    /// Linkable (`epid-linkable`, sign type 1) or unlinkable (`epid-unlinkable`, sign type 0).
    pub linkable: bool,
    /// `advisoryIDs` (omitted when empty).
    pub advisory_ids: Vec<String>,
}

impl ReportSpec {
    /// A production-mode enclave with status `OK`, bound to `statement`, issued at `timestamp`.
    pub fn new(mrenclave: [u8; 32], statement: &[u8], timestamp: UnixTime) -> ReportSpec {
        ReportSpec {
            mrenclave,
            mrsigner: [0x5a; 32],
            isv_prod_id: 0,
            isv_svn: 0,
            report_data: expected_report_data(statement),
            quote_status: "OK".into(),
            debug: false,
            timestamp,
            linkable: true,
            advisory_ids: Vec::new(),
        }
    }

    /// The 432-byte quote body.
    pub fn quote_body(&self) -> [u8; QUOTE_BODY_LEN] {
        let mut q = [0u8; QUOTE_BODY_LEN];
        let mut put = |at: usize, bytes: &[u8]| {
            if let Some(dst) = q.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        };
        put(0, &2u16.to_le_bytes());
        put(2, &u16::from(self.linkable).to_le_bytes());
        // attributes: INIT | MODE64BIT, plus DEBUG when asked.
        let flags: u64 = 0x05 | if self.debug { 0x02 } else { 0 };
        put(96, &flags.to_le_bytes());
        put(104, &0x07u64.to_le_bytes());
        put(112, &self.mrenclave);
        put(176, &self.mrsigner);
        put(304, &self.isv_prod_id.to_le_bytes());
        put(306, &self.isv_svn.to_le_bytes());
        put(368, &self.report_data);
        q
    }

    /// The report JSON as IAS API v4 would write it.
    pub fn report_json(&self) -> String {
        let mut report = serde_json::Map::new();
        report.insert("id".into(), "ercc-rs-test-pki".into());
        report.insert(
            "timestamp".into(),
            format_ias_timestamp(self.timestamp).into(),
        );
        report.insert("version".into(), 4.into());
        if !self.advisory_ids.is_empty() {
            report.insert(
                "advisoryURL".into(),
                "https://security-center.intel.com".into(),
            );
            report.insert("advisoryIDs".into(), self.advisory_ids.clone().into());
        }
        report.insert(
            "isvEnclaveQuoteStatus".into(),
            self.quote_status.clone().into(),
        );
        report.insert(
            "isvEnclaveQuoteBody".into(),
            STANDARD.encode(self.quote_body()).into(),
        );
        serde_json::Value::Object(report).to_string()
    }

    /// The evidence type matching `linkable`.
    pub fn evidence_type(&self) -> &'static str {
        if self.linkable {
            "epid-linkable"
        } else {
            "epid-unlinkable"
        }
    }
}

/// Characters IAS left unescaped in `X-IASReport-Signing-Certificate` (Python's
/// `urllib.parse.quote(chain, safe='/')`).
const IAS_URL_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// URL-encodes a PEM chain the way IAS did.
pub fn url_encode_chain(pem: &str) -> String {
    utf8_percent_encode(pem, IAS_URL_ESCAPES).to_string()
}

/// Builds FPC evidence bytes from parts (for tests that tamper with one of them).
pub fn evidence_from_parts(
    evidence_type: &str,
    report: &str,
    signature: &[u8],
    chain_pem: &str,
) -> Vec<u8> {
    let inner = serde_json::json!({
        "iasSignature": STANDARD.encode(signature),
        "iasCertificates": url_encode_chain(chain_pem),
        "iasReport": report,
    });
    serde_json::json!({
        "attestation_type": evidence_type,
        "evidence": inner.to_string(),
    })
    .to_string()
    .into_bytes()
}

fn to_offset(t: UnixTime) -> Result<OffsetDateTime, IasTestPkiError> {
    OffsetDateTime::from_unix_timestamp(t.as_secs()).map_err(err)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "ercc-rs test PKI");
    dn.push(DnType::CommonName, common_name);
    dn
}

impl IasTestPki {
    /// The shared test PKI with the default validity windows. Panics if key generation fails,
    /// which only a broken system random source can cause.
    pub fn shared() -> &'static IasTestPki {
        static SHARED: OnceLock<IasTestPki> = OnceLock::new();
        SHARED.get_or_init(|| {
            match IasTestPki::with_signing_validity(SIGNING_VALIDITY.0, SIGNING_VALIDITY.1) {
                Ok(pki) => pki,
                Err(e) => panic!("{e}"),
            }
        })
    }

    /// The test root with a report-signing certificate valid from `not_before` to `not_after`.
    pub fn with_signing_validity(
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Result<IasTestPki, IasTestPkiError> {
        IasTestPki::build(ROOT_KEY, not_before, not_after)
    }

    /// A different root with the same name as the normal test root, and its own signing
    /// certificate: evidence it signs must not verify against [`IasTestPki::shared`]'s root.
    pub fn other_root() -> Result<IasTestPki, IasTestPkiError> {
        IasTestPki::build(OTHER_ROOT_KEY, SIGNING_VALIDITY.0, SIGNING_VALIDITY.1)
    }

    fn build(
        root_key: &str,
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Result<IasTestPki, IasTestPkiError> {
        let root_key = key(root_key)?;
        let mut root_params = CertificateParams::default();
        root_params.distinguished_name = name(ROOT_NAME);
        root_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        root_params.not_before = to_offset(ROOT_VALIDITY.0)?;
        root_params.not_after = to_offset(ROOT_VALIDITY.1)?;
        let root_cert = root_params.self_signed(&root_key).map_err(err)?;
        let issuer = Issuer::new(root_params, root_key);

        let signing_key = key(SIGNING_KEY)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(SIGNING_NAME);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = to_offset(not_before)?;
        params.not_after = to_offset(not_after)?;
        let signing_cert = params.signed_by(&signing_key, &issuer).map_err(err)?;
        Ok(IasTestPki {
            root_pem: root_cert.pem(),
            root_der: root_cert.der().to_vec(),
            signing_pem: signing_cert.pem(),
            signing_key,
        })
    }

    /// The root certificate, PEM (write it to a file for `ERCC_IAS_ROOT_CA`).
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The root as a trust anchor.
    pub fn root_ca(&self) -> Result<RootCa, IasTestPkiError> {
        RootCa::from_der(&self.root_der, "test PKI root").map_err(err)
    }

    /// The default policy with this PKI's root as the IAS anchor.
    pub fn policy(&self) -> Result<Policy, IasTestPkiError> {
        Ok(Policy {
            ias_root_ca: self.root_ca()?,
            ..Policy::default()
        })
    }

    /// The chain IAS would send: signing certificate, then root (PEM).
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.signing_pem, self.root_pem)
    }

    /// RSASSA-PKCS1-v1_5 SHA-256 signature of `data` with the report-signing key.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, IasTestPkiError> {
        self.signing_key.sign(data).map_err(err)
    }

    /// FPC evidence bytes (`{"attestation_type": "epid-...", "evidence": ...}`) for `spec`.
    pub fn evidence(&self, spec: &ReportSpec) -> Result<Vec<u8>, IasTestPkiError> {
        let report = spec.report_json();
        let signature = self.sign(report.as_bytes())?;
        Ok(evidence_from_parts(
            spec.evidence_type(),
            &report,
            &signature,
            &self.chain_pem(),
        ))
    }
}
