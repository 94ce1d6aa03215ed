//! A test PKI for DCAP (crate feature `test-pki`, tests only): a root CA, a PCK CA with a PCK
//! certificate carrying the SGX extension, a TCB signing certificate, CRLs, signed TCB info and QE
//! identity, a QE report signed by the PCK key binding an attestation key, and quotes (v3 or v4)
//! for a chosen enclave and report data. Keys derive from a seed and ECDSA signing is RFC 6979,
//! so the same inputs always give the same bytes. Never trust its root outside tests.

use std::str::FromStr;
use std::time::Duration;

use der::asn1::{Any, BitString, GeneralizedTime, OctetString, UtcTime};
use der::{DateTime, Decode, Encode};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

use super::quote::{
    ATT_KEY_TYPE_ECDSA_P256, CERT_TYPE_PCK_CHAIN, CERT_TYPE_QE_REPORT, INTEL_QE_VENDOR_ID,
};
use super::x509::{
    SgxEntry, BASIC_CONSTRAINTS, ECDSA_WITH_SHA256, EC_PUBLIC_KEY, SGX_EXTENSION, SGX_FMSPC,
    SGX_PCEID, SGX_PPID, SGX_TCB,
};
use super::{Collateral, DcapEvidence};
use crate::time::format_rfc3339_utc;

/// Why the test PKI could not build something (only on impossible inputs, e.g. dates past 9999).
#[derive(Debug, thiserror::Error)]
#[error("test PKI: {0}")]
pub struct DcapTestPkiError(String);

fn err(e: impl std::fmt::Display) -> DcapTestPkiError {
    DcapTestPkiError(e.to_string())
}

/// The platform TCB the test PCK certificate claims; the test TCB info maps it to this status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestTcb {
    /// Status `UpToDate`, no advisory.
    UpToDate,
    /// Status `SWHardeningNeeded`, advisory `INTEL-SA-00615`.
    SwHardeningNeeded,
    /// Status `OutOfDate`, advisories `INTEL-SA-00289`, `INTEL-SA-00615`.
    OutOfDate,
    /// Status `Revoked`, advisory `INTEL-SA-00233`.
    Revoked,
}

impl TestTcb {
    fn svns(self) -> ([u8; 16], u16) {
        match self {
            TestTcb::UpToDate => ([5; 16], 13),
            TestTcb::SwHardeningNeeded => ([4; 16], 13),
            TestTcb::OutOfDate => ([3; 16], 11),
            TestTcb::Revoked => ([2; 16], 5),
        }
    }
}

/// The test platform's FMSPC.
pub const TEST_FMSPC: [u8; 6] = [0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00];
/// MRSIGNER of the test quoting enclave.
pub const TEST_QE_MRSIGNER: [u8; 32] = [0x51; 32];
/// A non-debug, 64-bit, initialised enclave's attributes.
pub const ATTRIBUTES_PRODUCTION: [u8; 16] = [0x05, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0];
/// The same with `ATTRIBUTES.DEBUG` set.
pub const ATTRIBUTES_DEBUG: [u8; 16] = [0x07, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0];

/// The ISV enclave a quote attests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteParams {
    /// 3 or 4.
    pub version: u16,
    /// MRENCLAVE.
    pub mrenclave: [u8; 32],
    /// MRSIGNER.
    pub mrsigner: [u8; 32],
    /// ISV product id.
    pub isv_prod_id: u16,
    /// ISV security version.
    pub isv_svn: u16,
    /// `ATTRIBUTES` (flags first; see [`ATTRIBUTES_DEBUG`]).
    pub attributes: [u8; 16],
    /// Report data.
    pub report_data: [u8; 64],
}

impl QuoteParams {
    /// A v3 quote of a production enclave with this MRENCLAVE and report data
    /// `SHA-256(statement) || 0^32` (FPC's binding of the attested data).
    pub fn for_statement(mrenclave: [u8; 32], statement: &[u8]) -> Self {
        let mut report_data = [0u8; 64];
        report_data[..32].copy_from_slice(&Sha256::digest(statement));
        QuoteParams {
            version: 3,
            mrenclave,
            mrsigner: [0x4d; 32],
            isv_prod_id: 0,
            isv_svn: 0,
            attributes: ATTRIBUTES_PRODUCTION,
            report_data,
        }
    }
}

struct Issued {
    key: SigningKey,
    cert: Certificate,
    der: Vec<u8>,
}

/// The test PKI. Build with [`DcapTestPki::new`], adjust with the `with_*` methods.
pub struct DcapTestPki {
    o: Opts,
    root: Issued,
    pck_ca: Issued,
    pck: Issued,
    tcb_signer: Issued,
    attestation_key: SigningKey,
}

#[derive(Clone)]
struct Opts {
    seed: String,
    issued_at: i64,
    valid_for: i64,
    tcb: TestTcb,
    revoke_pck: bool,
    root_crl_url: Option<String>,
}

fn key(seed: &str, label: &str) -> Result<SigningKey, DcapTestPkiError> {
    let d = Sha256::digest(format!("ercc-rs dcap test PKI/{seed}/{label}").as_bytes());
    SigningKey::from_slice(&d).map_err(err)
}

fn time(t: i64) -> Result<Time, DcapTestPkiError> {
    let dt = DateTime::from_unix_duration(Duration::from_secs(u64::try_from(t).map_err(err)?))
        .map_err(err)?;
    Ok(if dt.year() < 2050 {
        Time::UtcTime(UtcTime::from_date_time(dt).map_err(err)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_date_time(dt))
    })
}

fn alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA256,
        parameters: None,
    }
}

fn spki(key: &SigningKey) -> Result<SubjectPublicKeyInfoOwned, DcapTestPkiError> {
    let prime256v1 = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: EC_PUBLIC_KEY,
            parameters: Some(Any::from_der(&prime256v1.to_der().map_err(err)?).map_err(err)?),
        },
        subject_public_key: BitString::from_bytes(
            key.verifying_key().to_encoded_point(false).as_bytes(),
        )
        .map_err(err)?,
    })
}

/// Key identifier (SKI/AKI): the first 20 bytes of SHA-256 of the public key point.
fn key_id(key: &SigningKey) -> Result<OctetString, DcapTestPkiError> {
    let point = key.verifying_key().to_encoded_point(false);
    OctetString::new(
        Sha256::digest(point.as_bytes())
            .get(..20)
            .unwrap_or_default(),
    )
    .map_err(err)
}

fn ext<T: Encode>(oid: &str, critical: bool, v: &T) -> Result<Extension, DcapTestPkiError> {
    Ok(Extension {
        extn_id: der::asn1::ObjectIdentifier::new(oid).map_err(err)?,
        critical,
        extn_value: OctetString::new(v.to_der().map_err(err)?).map_err(err)?,
    })
}

fn aki(issuer: &SigningKey) -> Result<Extension, DcapTestPkiError> {
    let id = AuthorityKeyIdentifier {
        key_identifier: Some(key_id(issuer)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    ext("2.5.29.35", false, &id)
}

fn crl_distribution_point(url: &str) -> Result<Extension, DcapTestPkiError> {
    use x509_cert::ext::pkix::crl::dp::DistributionPoint;
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    let uri = der::asn1::Ia5String::new(url).map_err(err)?;
    let dp = DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![
            GeneralName::UniformResourceIdentifier(uri),
        ])),
        reasons: None,
        crl_issuer: None,
    };
    ext(
        "2.5.29.31",
        false,
        &x509_cert::ext::pkix::CrlDistributionPoints(vec![dp]),
    )
}

fn any<T: Encode>(v: &T) -> Result<Any, DcapTestPkiError> {
    Any::from_der(&v.to_der().map_err(err)?).map_err(err)
}

fn entry<T: Encode>(id: der::asn1::ObjectIdentifier, v: &T) -> Result<SgxEntry, DcapTestPkiError> {
    Ok(SgxEntry { id, value: any(v)? })
}

fn sgx_extension(seed: &str, tcb: TestTcb) -> Result<Extension, DcapTestPkiError> {
    let (comp, pce_svn) = tcb.svns();
    let mut tcb_entries = Vec::new();
    for (i, svn) in comp.iter().enumerate() {
        tcb_entries.push(entry(SGX_TCB.push_arc(i as u32 + 1).map_err(err)?, svn)?);
    }
    tcb_entries.push(entry(SGX_TCB.push_arc(17).map_err(err)?, &pce_svn)?);
    tcb_entries.push(entry(
        SGX_TCB.push_arc(18).map_err(err)?,
        &OctetString::new(comp.to_vec()).map_err(err)?,
    )?);
    let ppid = Sha256::digest(format!("ppid/{seed}").as_bytes());
    let entries = vec![
        entry(
            SGX_PPID,
            &OctetString::new(ppid.get(..16).unwrap_or_default().to_vec()).map_err(err)?,
        )?,
        SgxEntry {
            id: SGX_TCB,
            value: any(&tcb_entries)?,
        },
        entry(SGX_PCEID, &OctetString::new(vec![0, 0]).map_err(err)?)?,
        entry(
            SGX_FMSPC,
            &OctetString::new(TEST_FMSPC.to_vec()).map_err(err)?,
        )?,
        // SGX type: ENUMERATED 0 (Standard).
        SgxEntry {
            id: SGX_EXTENSION.push_arc(5).map_err(err)?,
            value: Any::from_der(&[0x0a, 0x01, 0x00]).map_err(err)?,
        },
    ];
    Ok(Extension {
        extn_id: SGX_EXTENSION,
        critical: false,
        extn_value: OctetString::new(entries.to_der().map_err(err)?).map_err(err)?,
    })
}

struct CertSpec<'a> {
    serial: u8,
    subject: &'a str,
    ca: bool,
    not_before: i64,
    not_after: i64,
    extra: Option<Extension>,
}

fn issue(
    spec: CertSpec<'_>,
    key: SigningKey,
    issuer: Option<(&Certificate, &SigningKey)>,
) -> Result<Issued, DcapTestPkiError> {
    let subject = Name::from_str(spec.subject).map_err(err)?;
    let issuer_name = issuer.map_or_else(
        || subject.clone(),
        |(c, _)| c.tbs_certificate.subject.clone(),
    );
    let signer = issuer.map_or(&key, |(_, k)| k);
    let usage = if spec.ca {
        KeyUsages::KeyCertSign | KeyUsages::CRLSign
    } else {
        KeyUsages::DigitalSignature | KeyUsages::NonRepudiation
    };
    let mut extensions = vec![
        aki(signer)?,
        ext("2.5.29.14", false, &SubjectKeyIdentifier(key_id(&key)?))?,
        ext("2.5.29.15", true, &KeyUsage(usage))?,
        Extension {
            extn_id: BASIC_CONSTRAINTS,
            critical: true,
            extn_value: OctetString::new(
                BasicConstraints {
                    ca: spec.ca,
                    path_len_constraint: None,
                }
                .to_der()
                .map_err(err)?,
            )
            .map_err(err)?,
        },
    ];
    extensions.extend(spec.extra);
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[spec.serial]).map_err(err)?,
        signature: alg(),
        issuer: issuer_name,
        validity: Validity {
            not_before: time(spec.not_before)?,
            not_after: time(spec.not_after)?,
        },
        subject,
        subject_public_key_info: spki(&key)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let sig: Signature = signer.sign(&tbs.to_der().map_err(err)?);
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg(),
        signature: BitString::from_bytes(sig.to_der().as_bytes()).map_err(err)?,
    };
    let der = cert.to_der().map_err(err)?;
    Ok(Issued { key, cert, der })
}

fn pem(ders: &[&[u8]]) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    for der in ders {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

const YEAR: i64 = 365 * 86_400;

impl DcapTestPki {
    /// A PKI whose collateral is issued at `issued_at` (Unix seconds) and valid for 30 days;
    /// certificates are valid from a year before to ten years after. Platform TCB: UpToDate.
    pub fn new(seed: &str, issued_at: i64) -> Result<Self, DcapTestPkiError> {
        Self::build(Opts {
            seed: seed.to_string(),
            issued_at,
            valid_for: 30 * 86_400,
            tcb: TestTcb::UpToDate,
            revoke_pck: false,
            root_crl_url: None,
        })
    }

    fn build(o: Opts) -> Result<Self, DcapTestPkiError> {
        let seed = o.seed.as_str();
        let (nb, na) = (o.issued_at - YEAR, o.issued_at + 10 * YEAR);
        let spec = |serial, subject, ca, extra| CertSpec {
            serial,
            subject,
            ca,
            not_before: nb,
            not_after: na,
            extra,
        };
        let root_extra = o
            .root_crl_url
            .as_deref()
            .map(crl_distribution_point)
            .transpose()?;
        let root = issue(
            spec(
                1,
                "CN=ercc-rs Test SGX Root CA,O=ercc-rs test",
                true,
                root_extra,
            ),
            key(seed, "root")?,
            None,
        )?;
        let pck_ca = issue(
            spec(
                2,
                "CN=ercc-rs Test SGX PCK Processor CA,O=ercc-rs test",
                true,
                None,
            ),
            key(seed, "pck-ca")?,
            Some((&root.cert, &root.key)),
        )?;
        let pck = issue(
            spec(
                3,
                "CN=ercc-rs Test SGX PCK Certificate,O=ercc-rs test",
                false,
                Some(sgx_extension(seed, o.tcb)?),
            ),
            key(seed, "pck")?,
            Some((&pck_ca.cert, &pck_ca.key)),
        )?;
        let tcb_signer = issue(
            spec(
                4,
                "CN=ercc-rs Test SGX TCB Signing,O=ercc-rs test",
                false,
                None,
            ),
            key(seed, "tcb-signing")?,
            Some((&root.cert, &root.key)),
        )?;
        let attestation_key = key(seed, "attestation-key")?;
        Ok(DcapTestPki {
            o,
            root,
            pck_ca,
            pck,
            tcb_signer,
            attestation_key,
        })
    }

    /// Collateral valid for `secs` after issue (TCB info and QE identity `nextUpdate` =
    /// issue + secs, inclusive; CRLs stale one second later).
    pub fn with_validity(self, secs: i64) -> Result<Self, DcapTestPkiError> {
        Self::build(Opts {
            valid_for: secs,
            ..self.o
        })
    }

    /// A PCK certificate claiming this platform TCB.
    pub fn with_tcb(self, tcb: TestTcb) -> Result<Self, DcapTestPkiError> {
        Self::build(Opts { tcb, ..self.o })
    }

    /// List the PCK certificate in the PCK CRL.
    pub fn with_revoked_pck(self, revoked: bool) -> Result<Self, DcapTestPkiError> {
        Self::build(Opts {
            revoke_pck: revoked,
            ..self.o
        })
    }

    /// A root certificate naming `url` as its CRL distribution point (as Intel's does).
    pub fn with_root_crl_url(self, url: &str) -> Result<Self, DcapTestPkiError> {
        Self::build(Opts {
            root_crl_url: Some(url.to_string()),
            ..self.o
        })
    }

    /// The root CA's CRL (DER), as served at its distribution point.
    pub fn root_ca_crl(&self) -> Result<Vec<u8>, DcapTestPkiError> {
        self.crl(&self.root, &[])
    }

    /// The root CA certificate (DER): the trust anchor to verify against.
    pub fn root_ca_der(&self) -> Vec<u8> {
        self.root.der.clone()
    }

    /// The root CA certificate (PEM), e.g. for `ERCC_DCAP_ROOT_CA`.
    pub fn root_ca_pem(&self) -> String {
        pem(&[&self.root.der])
    }

    /// `[issued_at, issued_at + validity]`: when evidence from this PKI verifies.
    pub fn validity_window(&self) -> (i64, i64) {
        (self.o.issued_at, self.o.issued_at + self.o.valid_for)
    }

    fn crl(&self, issuer: &Issued, revoked: &[&Issued]) -> Result<Vec<u8>, DcapTestPkiError> {
        let revoked_certificates = revoked
            .iter()
            .map(|c| {
                Ok(RevokedCert {
                    serial_number: c.cert.tbs_certificate.serial_number.clone(),
                    revocation_date: time(self.o.issued_at - 86_400)?,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, DcapTestPkiError>>()?;
        let tbs = TbsCertList {
            version: Version::V2,
            signature: alg(),
            issuer: issuer.cert.tbs_certificate.subject.clone(),
            this_update: time(self.o.issued_at)?,
            next_update: Some(time(self.o.issued_at + self.o.valid_for + 1)?),
            revoked_certificates: (!revoked_certificates.is_empty())
                .then_some(revoked_certificates),
            // RFC 5280 (and webpki) require the CRL number and the authority key identifier.
            crl_extensions: Some(vec![
                ext(
                    "2.5.29.20",
                    false,
                    &CrlNumber(der::asn1::Uint::new(&[1]).map_err(err)?),
                )?,
                aki(&issuer.key)?,
            ]),
        };
        let sig: Signature = issuer.key.sign(&tbs.to_der().map_err(err)?);
        CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: alg(),
            signature: BitString::from_bytes(sig.to_der().as_bytes()).map_err(err)?,
        }
        .to_der()
        .map_err(err)
    }

    /// The TCB info JSON (SGX, version 3) exactly as signed.
    pub fn tcb_info_json(&self) -> String {
        let level = |t: TestTcb, status: &str, adv: &[&str]| {
            let (comp, pce) = t.svns();
            let comps: Vec<_> = comp.iter().map(|s| serde_json::json!({"svn": s})).collect();
            serde_json::json!({"tcb": {"sgxtcbcomponents": comps, "pcesvn": pce},
                "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": status, "advisoryIDs": adv})
        };
        serde_json::json!({
            "id": "SGX", "version": 3,
            "issueDate": format_rfc3339_utc(self.o.issued_at),
            "nextUpdate": format_rfc3339_utc(self.o.issued_at + self.o.valid_for),
            "fmspc": hex::encode_upper(TEST_FMSPC), "pceId": "0000", "tcbType": 0,
            "tcbEvaluationDataNumber": 17,
            "tcbLevels": [
                level(TestTcb::UpToDate, "UpToDate", &[]),
                level(TestTcb::SwHardeningNeeded, "SWHardeningNeeded", &["INTEL-SA-00615"]),
                level(TestTcb::OutOfDate, "OutOfDate", &["INTEL-SA-00289", "INTEL-SA-00615"]),
                level(TestTcb::Revoked, "Revoked", &["INTEL-SA-00233"]),
            ]
        })
        .to_string()
    }

    /// The QE identity JSON (version 2) exactly as signed.
    pub fn qe_identity_json(&self) -> String {
        serde_json::json!({
            "id": "QE", "version": 2,
            "issueDate": format_rfc3339_utc(self.o.issued_at),
            "nextUpdate": format_rfc3339_utc(self.o.issued_at + self.o.valid_for),
            "tcbEvaluationDataNumber": 17,
            "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
            "attributes": "11000000000000000000000000000000",
            "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
            "mrsigner": hex::encode_upper(TEST_QE_MRSIGNER), "isvprodid": 1,
            "tcbLevels": [
                {"tcb": {"isvsvn": 8}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "UpToDate"},
                {"tcb": {"isvsvn": 6}, "tcbDate": "2021-11-10T00:00:00Z", "tcbStatus": "OutOfDate",
                 "advisoryIDs": ["INTEL-SA-00615"]}
            ]
        })
        .to_string()
    }

    /// Signs `json` with the TCB signing key (raw `r || s`), to build valid-looking collateral
    /// that says something else (mismatch tests).
    pub fn sign_collateral_json(&self, json: &str) -> Vec<u8> {
        let sig: Signature = self.tcb_signer.key.sign(json.as_bytes());
        sig.to_bytes().to_vec()
    }

    /// All the collateral, as a PCS would serve it for the test platform.
    pub fn collateral(&self) -> Result<Collateral, DcapTestPkiError> {
        let signing_chain = pem(&[&self.tcb_signer.der, &self.root.der]);
        let tcb_info = self.tcb_info_json();
        let qe_identity = self.qe_identity_json();
        let sign = |msg: &str| -> Vec<u8> {
            let sig: Signature = self.tcb_signer.key.sign(msg.as_bytes());
            sig.to_bytes().to_vec()
        };
        let revoked: Vec<&Issued> = if self.o.revoke_pck {
            vec![&self.pck]
        } else {
            vec![]
        };
        Ok(Collateral {
            pck_crl_issuer_chain: pem(&[&self.pck_ca.der, &self.root.der]),
            root_ca_crl: self.crl(&self.root, &[])?,
            pck_crl: self.crl(&self.pck_ca, &revoked)?,
            tcb_info_issuer_chain: signing_chain.clone(),
            tcb_info_signature: sign(&tcb_info),
            tcb_info,
            qe_identity_issuer_chain: signing_chain,
            qe_identity_signature: sign(&qe_identity),
            qe_identity,
        })
    }

    /// Collateral as a PCS serves it after a later TCB evaluation: TCB info issued at `issued_at`
    /// (valid as long as the PKI's collateral), with `tcbEvaluationDataNumber` `evaluation` and the
    /// level of platforms claiming `level` now marked `status`, signed by the TCB signing key; the
    /// rest as [`DcapTestPki::collateral`]. For re-appraisal tests.
    pub fn reevaluated_collateral(
        &self,
        issued_at: i64,
        evaluation: u32,
        level: TestTcb,
        status: &str,
    ) -> Result<Collateral, DcapTestPkiError> {
        let mut info: serde_json::Value =
            serde_json::from_str(&self.tcb_info_json()).map_err(err)?;
        let index = [
            TestTcb::UpToDate,
            TestTcb::SwHardeningNeeded,
            TestTcb::OutOfDate,
            TestTcb::Revoked,
        ]
        .iter()
        .position(|t| *t == level)
        .unwrap_or_default();
        info["issueDate"] = format_rfc3339_utc(issued_at).into();
        info["nextUpdate"] = format_rfc3339_utc(issued_at + self.o.valid_for).into();
        info["tcbEvaluationDataNumber"] = evaluation.into();
        info["tcbLevels"][index]["tcbStatus"] = status.into();
        let tcb_info = info.to_string();
        Ok(Collateral {
            tcb_info_signature: self.sign_collateral_json(&tcb_info),
            tcb_info,
            ..self.collateral()?
        })
    }

    /// A quote of the ISV enclave `p`, signed by the attestation key, with a QE report signed by
    /// the PCK key and the PCK chain as certification data.
    pub fn quote(&self, p: &QuoteParams) -> Vec<u8> {
        let (cpu_svn, pce_svn) = self.o.tcb.svns();
        let mut q = Vec::new();
        q.extend_from_slice(&p.version.to_le_bytes());
        q.extend_from_slice(&ATT_KEY_TYPE_ECDSA_P256.to_le_bytes());
        q.extend_from_slice(&0u32.to_le_bytes()); // v3: reserved; v4: TEE type SGX
        if p.version == 3 {
            q.extend_from_slice(&8u16.to_le_bytes()); // QE SVN
            q.extend_from_slice(&pce_svn.to_le_bytes());
        } else {
            q.extend_from_slice(&[0; 4]);
        }
        q.extend_from_slice(&INTEL_QE_VENDOR_ID);
        q.extend_from_slice(&[0; 20]);
        let mut body = [0u8; 384];
        body[..16].copy_from_slice(&cpu_svn);
        body[48..64].copy_from_slice(&p.attributes);
        body[64..96].copy_from_slice(&p.mrenclave);
        body[128..160].copy_from_slice(&p.mrsigner);
        body[256..258].copy_from_slice(&p.isv_prod_id.to_le_bytes());
        body[258..260].copy_from_slice(&p.isv_svn.to_le_bytes());
        body[320..384].copy_from_slice(&p.report_data);
        q.extend_from_slice(&body);

        let quote_sig: Signature = self.attestation_key.sign(&q);
        let point = self.attestation_key.verifying_key().to_encoded_point(false);
        let att_pub = point.as_bytes().get(1..).unwrap_or_default();
        let auth_data: Vec<u8> = (0u8..32).collect();

        let mut qe = [0u8; 384];
        qe[..16].copy_from_slice(&cpu_svn);
        qe[48] = 0x11;
        qe[128..160].copy_from_slice(&TEST_QE_MRSIGNER);
        qe[256..258].copy_from_slice(&1u16.to_le_bytes());
        qe[258..260].copy_from_slice(&8u16.to_le_bytes());
        let mut h = Sha256::new();
        h.update(att_pub);
        h.update(&auth_data);
        qe[320..352].copy_from_slice(&h.finalize());
        let qe_sig: Signature = self.pck.key.sign(&qe);

        let mut chain = pem(&[&self.pck.der, &self.pck_ca.der, &self.root.der]).into_bytes();
        chain.push(0); // Intel's quoting library NUL-terminates the PEM chain.
        let mut qe_section = Vec::new();
        qe_section.extend_from_slice(&qe);
        qe_section.extend_from_slice(&qe_sig.to_bytes());
        qe_section.extend_from_slice(&(auth_data.len() as u16).to_le_bytes());
        qe_section.extend_from_slice(&auth_data);
        qe_section.extend_from_slice(&CERT_TYPE_PCK_CHAIN.to_le_bytes());
        qe_section.extend_from_slice(&(chain.len() as u32).to_le_bytes());
        qe_section.extend_from_slice(&chain);

        let mut sig_data = Vec::new();
        sig_data.extend_from_slice(&quote_sig.to_bytes());
        sig_data.extend_from_slice(att_pub);
        if p.version == 3 {
            sig_data.extend_from_slice(&qe_section);
        } else {
            sig_data.extend_from_slice(&CERT_TYPE_QE_REPORT.to_le_bytes());
            sig_data.extend_from_slice(&(qe_section.len() as u32).to_le_bytes());
            sig_data.extend_from_slice(&qe_section);
        }
        q.extend_from_slice(&(sig_data.len() as u32).to_le_bytes());
        q.extend_from_slice(&sig_data);
        q
    }

    /// Evidence for the ISV enclave `p`.
    pub fn evidence(&self, p: &QuoteParams) -> Result<DcapEvidence, DcapTestPkiError> {
        Ok(DcapEvidence {
            quote: self.quote(p),
            collateral: self.collateral()?,
        })
    }

    /// `Credentials.evidence` bytes (`{"attestation_type":"dcap","evidence":...}`) for an enclave
    /// with this MRENCLAVE attesting `statement` (report data `SHA-256(statement) || 0^32`).
    pub fn fpc_evidence(
        &self,
        mrenclave: [u8; 32],
        statement: &[u8],
    ) -> Result<Vec<u8>, DcapTestPkiError> {
        Ok(self
            .evidence(&QuoteParams::for_statement(mrenclave, statement))?
            .to_fpc_evidence()
            .into_bytes())
    }
}
