//! X.509 fields for DCAP: strict PEM chains, the parts of a certificate the verifier reads (P-256
//! key, validity window, names, CA flag), CRLs as data, and the Intel SGX extension of PCK
//! certificates. Reading only: path validation and CRL checks are `path`'s (webpki).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use base64::Engine as _;
use der::asn1::{Any, ObjectIdentifier};
use der::{Choice, Decode, DecodeValue, Sequence};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use super::DcapError;
use crate::time::UnixTime;

pub(crate) const ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(crate) const EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `prime256v1`, the curve parameter of a P-256 `ecPublicKey`.
const P256_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(crate) const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
pub(crate) const SGX_EXTENSION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1");
pub(crate) const SGX_PPID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.1");
pub(crate) const SGX_TCB: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.2");
pub(crate) const SGX_PCEID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.3");
pub(crate) const SGX_FMSPC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.4");
/// Most certificates in one chain (Intel's have three).
const MAX_CHAIN_CERTS: usize = 5;

/// A parsed certificate with its P-256 key and validity window.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    pub der: Vec<u8>,
    pub cert: Certificate,
    /// The P-256 public key, an uncompressed SEC1 point (as ring and webpki take it).
    pub key: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
}

pub(crate) fn secs(t: &x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

impl Cert {
    pub(crate) fn from_der(der: &[u8], what: &'static str) -> Result<Self, DcapError> {
        let bad = |detail: String| DcapError::InvalidCertificate { what, detail };
        let cert = Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid != EC_PUBLIC_KEY {
            return Err(bad(format!(
                "public key algorithm {} is not EC",
                spki.algorithm.oid
            )));
        }
        let key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| bad("public key bit string".into()))?;
        // Whether the point is on the curve is ring's to decide, at the first signature check.
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .map(|p| p.decode_as::<ObjectIdentifier>());
        if !matches!(curve, Some(Ok(c)) if c == P256_CURVE)
            || key.len() != 65
            || key.first() != Some(&0x04)
        {
            return Err(bad("public key is not P-256".into()));
        }
        let v = &cert.tbs_certificate.validity;
        let (not_before, not_after) = (secs(&v.not_before), secs(&v.not_after));
        Ok(Cert {
            der: der.to_vec(),
            key: key.to_vec(),
            cert,
            not_before,
            not_after,
        })
    }

    pub(crate) fn is_ca(&self) -> bool {
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == BASIC_CONSTRAINTS)
            .any(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).is_ok_and(|b| b.ca))
    }

    pub(crate) fn issuer_name(&self) -> String {
        self.cert.tbs_certificate.issuer.to_string()
    }

    pub(crate) fn check_time(&self, what: &'static str, now: i64) -> Result<(), DcapError> {
        if now < self.not_before {
            return Err(DcapError::CertificateNotYetValid {
                what,
                not_before: UnixTime::from_secs(self.not_before),
                now: UnixTime::from_secs(now),
            });
        }
        if now > self.not_after {
            return Err(DcapError::CertificateExpired {
                what,
                not_after: UnixTime::from_secs(self.not_after),
                now: UnixTime::from_secs(now),
            });
        }
        Ok(())
    }
}

/// Splits a PEM certificate chain. Strict: only `CERTIFICATE` blocks, canonical base64 inside, and
/// nothing but line breaks (and the NUL terminator quotes carry) outside, so no byte is ignored.
pub(crate) fn parse_pem_chain(pem: &[u8], what: &'static str) -> Result<Vec<Vec<u8>>, DcapError> {
    parse_pem(pem, what, true)
}

/// Like [`parse_pem_chain`] but ignores text around the blocks (operator-supplied PEM files).
pub(crate) fn parse_pem_lenient(pem: &[u8], what: &'static str) -> Result<Vec<Vec<u8>>, DcapError> {
    parse_pem(pem, what, false)
}

/// The base64 of a PEM block without its line breaks (and, unless `strict`, any ASCII white
/// space), copied in runs between breaks: memchr finds them many bytes at a time.
fn without_line_breaks(body: &[u8], strict: bool) -> Vec<u8> {
    let mut b64 = Vec::with_capacity(body.len());
    if strict {
        let mut start = 0;
        for i in memchr::memchr2_iter(b'\n', b'\r', body) {
            b64.extend_from_slice(body.get(start..i).unwrap_or_default());
            // `i` indexes `body`, so `i + 1` is at most its length.
            start = i.saturating_add(1);
        }
        b64.extend_from_slice(body.get(start..).unwrap_or_default());
    } else {
        for run in body.split(u8::is_ascii_whitespace) {
            b64.extend_from_slice(run);
        }
    }
    b64
}

fn parse_pem(pem: &[u8], what: &'static str, strict: bool) -> Result<Vec<Vec<u8>>, DcapError> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let bad = |detail: &str| DcapError::InvalidCertificate {
        what,
        detail: format!("PEM chain: {detail}"),
    };
    let is_filler = |c: &u8| !strict || matches!(c, b'\n' | b'\r' | 0);
    let find = memchr::memmem::find;
    let mut rest = pem;
    let mut out = Vec::new();
    loop {
        let Some(start) = find(rest, BEGIN) else {
            if !rest.iter().all(is_filler) {
                return Err(bad("unexpected bytes outside certificate blocks"));
            }
            break;
        };
        let (before, after) = rest.split_at(start);
        if !before.iter().all(is_filler) {
            return Err(bad("unexpected bytes outside certificate blocks"));
        }
        let after = after.get(BEGIN.len()..).unwrap_or_default();
        let end = find(after, END).ok_or_else(|| bad("unterminated certificate block"))?;
        let (body, tail) = after.split_at(end);
        let b64 = without_line_breaks(body, strict);
        let der = base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .map_err(|e| bad(&format!("base64: {e}")))?;
        if out.len() == MAX_CHAIN_CERTS {
            return Err(bad("too many certificates"));
        }
        out.push(der);
        rest = tail.get(END.len()..).unwrap_or_default();
    }
    if out.is_empty() {
        return Err(bad("no certificate"));
    }
    Ok(out)
}

pub(crate) fn parse_crl(der: &[u8], what: &'static str) -> Result<CertificateList, DcapError> {
    CertificateList::from_der(der).map_err(|e| DcapError::InvalidCrl {
        what,
        detail: e.to_string(),
    })
}

/// The PCK certificate's Intel SGX extension values the verifier needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PckExtension {
    pub ppid: Vec<u8>,
    pub fmspc: [u8; 6],
    pub pce_id: [u8; 2],
    pub cpu_svn: [u8; 16],
    pub comp_svn: [u8; 16],
    pub pce_svn: u16,
}

#[derive(Sequence)]
pub(crate) struct SgxEntry {
    pub id: ObjectIdentifier,
    pub value: Any,
}

/// The value of an extension entry as `T`, all of it (in place: no re-encoding).
fn decode_any<'a, T: Choice<'a> + DecodeValue<'a>>(any: &'a Any) -> Option<T> {
    any.decode_as().ok()
}

fn octets<const N: usize>(any: &Any) -> Option<[u8; N]> {
    let o: der::asn1::OctetStringRef<'_> = decode_any(any)?;
    o.as_bytes().try_into().ok()
}

/// Parses the SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate.
pub(crate) fn pck_extension(cert: &Cert) -> Result<PckExtension, DcapError> {
    let bad = |detail: &str| DcapError::InvalidCertificate {
        what: "PCK certificate",
        detail: format!("SGX extension: {detail}"),
    };
    let ext = cert
        .cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == SGX_EXTENSION)
        .ok_or_else(|| bad("missing"))?;
    let entries =
        Vec::<SgxEntry>::from_der(ext.extn_value.as_bytes()).map_err(|e| bad(&e.to_string()))?;
    let get = |oid: ObjectIdentifier| entries.iter().find(|e| e.id == oid).map(|e| &e.value);
    let ppid: der::asn1::OctetStringRef<'_> = get(SGX_PPID)
        .and_then(decode_any)
        .ok_or_else(|| bad("PPID"))?;
    let fmspc = get(SGX_FMSPC)
        .and_then(octets::<6>)
        .ok_or_else(|| bad("FMSPC"))?;
    let pce_id = get(SGX_PCEID)
        .and_then(octets::<2>)
        .ok_or_else(|| bad("PCE-ID"))?;
    let tcb_any = get(SGX_TCB).ok_or_else(|| bad("TCB"))?;
    let tcb: Vec<SgxEntry> = decode_any(tcb_any).ok_or_else(|| bad("TCB"))?;
    let mut comp_svn = [0u8; 16];
    // Components 1..=16 (the OID arcs are 1-based).
    for (arc, slot) in (1u32..).zip(comp_svn.iter_mut()) {
        let oid = SGX_TCB.push_arc(arc).map_err(|_| bad("TCB"))?;
        *slot = tcb
            .iter()
            .find(|e| e.id == oid)
            .and_then(|e| decode_any::<u8>(&e.value))
            .ok_or_else(|| bad(&format!("TCB component {arc}")))?;
    }
    let pce_oid = SGX_TCB.push_arc(17).map_err(|_| bad("TCB"))?;
    let cpu_oid = SGX_TCB.push_arc(18).map_err(|_| bad("TCB"))?;
    let pce_svn = tcb
        .iter()
        .find(|e| e.id == pce_oid)
        .and_then(|e| decode_any::<u16>(&e.value))
        .ok_or_else(|| bad("PCESVN"))?;
    let cpu_svn = tcb
        .iter()
        .find(|e| e.id == cpu_oid)
        .and_then(|e| octets::<16>(&e.value))
        .ok_or_else(|| bad("CPUSVN"))?;
    Ok(PckExtension {
        ppid: ppid.as_bytes().to_vec(),
        fmspc,
        pce_id,
        cpu_svn,
        comp_svn,
        pce_svn,
    })
}
