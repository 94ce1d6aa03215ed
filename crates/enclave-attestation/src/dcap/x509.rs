//! X.509 for DCAP: strict PEM chains, ECDSA P-256 certificate chains to a configured trust anchor,
//! CRLs (signature, validity window, revoked serials), and the Intel SGX extension of PCK certificates.

use base64::Engine as _;
use der::asn1::{Any, ObjectIdentifier};
use der::{Decode, Encode, Sequence};
use p256::ecdsa::{Signature, VerifyingKey};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use super::error::UtcSeconds;
use super::sigs::Sigs;
use super::DcapError;

pub(crate) const ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(crate) const EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
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
    pub key: VerifyingKey,
    pub not_before: i64,
    pub not_after: i64,
}

fn secs(t: &x509_cert::time::Time) -> i64 {
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
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| bad("public key bit string".into()))?;
        let key = VerifyingKey::from_sec1_bytes(key_bytes)
            .map_err(|_| bad("public key is not P-256".into()))?;
        let v = &cert.tbs_certificate.validity;
        let (not_before, not_after) = (secs(&v.not_before), secs(&v.not_after));
        Ok(Cert {
            der: der.to_vec(),
            cert,
            key,
            not_before,
            not_after,
        })
    }

    fn is_ca(&self) -> bool {
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

    fn check_time(&self, what: &'static str, now: i64) -> Result<(), DcapError> {
        if now < self.not_before {
            return Err(DcapError::CertificateNotYetValid {
                what,
                not_before: UtcSeconds(self.not_before),
                now: UtcSeconds(now),
            });
        }
        if now > self.not_after {
            return Err(DcapError::CertificateExpired {
                what,
                not_after: UtcSeconds(self.not_after),
                now: UtcSeconds(now),
            });
        }
        Ok(())
    }

    /// Whether `self` is signed by `issuer` (names chained, ECDSA-with-SHA256, signature valid).
    fn signed_by(&self, issuer: &Cert, sigs: &mut Sigs<'_>) -> bool {
        let tbs = &self.cert.tbs_certificate;
        if tbs.issuer != issuer.cert.tbs_certificate.subject
            || self.cert.signature_algorithm.oid != ECDSA_WITH_SHA256
            || tbs.signature != self.cert.signature_algorithm
        {
            return false;
        }
        let (Ok(msg), Some(sig)) = (tbs.to_der(), self.cert.signature.as_bytes()) else {
            return false;
        };
        let Ok(sig) = Signature::from_der(sig) else {
            return false;
        };
        sigs.verify("certificate", &issuer.key, &msg, &sig)
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

fn parse_pem(pem: &[u8], what: &'static str, strict: bool) -> Result<Vec<Vec<u8>>, DcapError> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let bad = |detail: &str| DcapError::InvalidCertificate {
        what,
        detail: format!("PEM chain: {detail}"),
    };
    let is_filler = |c: &u8| !strict || matches!(c, b'\n' | b'\r' | 0);
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
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
        let b64: Vec<u8> = body
            .iter()
            .copied()
            .filter(|c| !matches!(c, b'\n' | b'\r') && (strict || !c.is_ascii_whitespace()))
            .collect();
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

/// A verified chain: the certificates below the trust anchor, leaf first.
pub(crate) struct Chain {
    pub certs: Vec<Cert>,
}

/// Verifies `ders` (leaf first, optionally ending with the anchor itself) up to `anchor`, with every
/// certificate valid at `now`. `names[i]` names the i-th certificate in errors.
pub(crate) fn verify_chain(
    chain_name: &'static str,
    ders: &[Vec<u8>],
    names: &[&'static str],
    anchor: &Cert,
    now: i64,
    sigs: &mut Sigs<'_>,
) -> Result<Chain, DcapError> {
    let name = |i: usize| names.get(i).copied().unwrap_or("certificate");
    anchor.check_time("root CA certificate", now)?;
    if !anchor.is_ca() {
        return Err(DcapError::InvalidCertificate {
            what: "root CA certificate",
            detail: "not a CA".into(),
        });
    }
    let mut certs = Vec::new();
    for (i, der) in ders.iter().enumerate() {
        if *der == anchor.der {
            // The root may close the chain, and nothing may follow it.
            if i == 0 || i + 1 != ders.len() {
                return Err(DcapError::InvalidCertificate {
                    what: name(i),
                    detail: "the root CA appears at the wrong place in the chain".into(),
                });
            }
            break;
        }
        let cert = Cert::from_der(der, name(i))?;
        // A self-issued certificate other than the anchor: a different root.
        if cert.cert.tbs_certificate.issuer == cert.cert.tbs_certificate.subject {
            return Err(DcapError::UntrustedRoot { what: chain_name });
        }
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(DcapError::InvalidCertificate {
            what: name(0),
            detail: "empty chain".into(),
        });
    }
    for (i, c) in certs.iter().enumerate() {
        c.check_time(name(i), now)?;
        match certs.get(i + 1) {
            Some(issuer) => {
                if !issuer.is_ca() {
                    return Err(DcapError::InvalidCertificate {
                        what: name(i + 1),
                        detail: "not a CA".into(),
                    });
                }
                if !c.signed_by(issuer, sigs) {
                    return Err(DcapError::CertificateSignatureInvalid { what: name(i) });
                }
            }
            None => {
                if !c.signed_by(anchor, sigs) {
                    return Err(DcapError::UntrustedRoot { what: chain_name });
                }
            }
        }
    }
    Ok(Chain { certs })
}

/// A CRL whose signature and validity window have been checked.
pub(crate) struct Crl {
    pub list: CertificateList,
    pub this_update: i64,
    /// Exclusive: the CRL is stale from this instant on.
    pub next_update: i64,
}

pub(crate) fn parse_crl(der: &[u8], what: &'static str) -> Result<CertificateList, DcapError> {
    CertificateList::from_der(der).map_err(|e| DcapError::InvalidCrl {
        what,
        detail: e.to_string(),
    })
}

/// Checks a CRL is issued and signed by `issuer` and current at `now`.
pub(crate) fn verify_crl(
    list: CertificateList,
    what: &'static str,
    issuer: &Cert,
    now: i64,
    sigs: &mut Sigs<'_>,
) -> Result<Crl, DcapError> {
    let bad = |detail: &str| DcapError::InvalidCrl {
        what,
        detail: detail.into(),
    };
    let tbs = &list.tbs_cert_list;
    if tbs.issuer != issuer.cert.tbs_certificate.subject {
        return Err(bad(&format!(
            "issued by {}, expected {}",
            tbs.issuer, issuer.cert.tbs_certificate.subject
        )));
    }
    if list.signature_algorithm.oid != ECDSA_WITH_SHA256
        || tbs.signature != list.signature_algorithm
    {
        return Err(bad("signature algorithm is not ECDSA with SHA-256"));
    }
    let msg = tbs.to_der().map_err(|e| bad(&e.to_string()))?;
    let sig = list
        .signature
        .as_bytes()
        .and_then(|s| Signature::from_der(s).ok())
        .ok_or_else(|| bad("malformed signature"))?;
    if !sigs.verify("CRL", &issuer.key, &msg, &sig) {
        return Err(DcapError::CrlSignatureInvalid { what });
    }
    let this_update = secs(&tbs.this_update);
    let next_update = tbs
        .next_update
        .as_ref()
        .map(secs)
        .ok_or_else(|| bad("no nextUpdate"))?;
    if now < this_update {
        return Err(DcapError::CrlNotYetValid {
            what,
            this_update: UtcSeconds(this_update),
            now: UtcSeconds(now),
        });
    }
    if now >= next_update {
        return Err(DcapError::CrlExpired {
            what,
            next_update: UtcSeconds(next_update),
            now: UtcSeconds(now),
        });
    }
    Ok(Crl {
        list,
        this_update,
        next_update,
    })
}

impl Crl {
    /// Whether the CRL lists `cert` (which must be issued by the CRL's issuer).
    pub(crate) fn revokes(&self, cert: &Cert) -> bool {
        let serial = &cert.cert.tbs_certificate.serial_number;
        cert.cert.tbs_certificate.issuer == self.list.tbs_cert_list.issuer
            && self
                .list
                .tbs_cert_list
                .revoked_certificates
                .iter()
                .flatten()
                .any(|r| &r.serial_number == serial)
    }
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

fn decode_any<'a, T: Decode<'a>>(any: &Any, buf: &'a mut Vec<u8>) -> Option<T> {
    *buf = any.to_der().ok()?;
    T::from_der(buf).ok()
}

fn octets<const N: usize>(any: &Any) -> Option<[u8; N]> {
    let mut buf = Vec::new();
    let o: der::asn1::OctetString = decode_any(any, &mut buf)?;
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
    let mut buf = Vec::new();
    let ppid: der::asn1::OctetString = get(SGX_PPID)
        .and_then(|v| decode_any(v, &mut buf))
        .ok_or_else(|| bad("PPID"))?;
    let fmspc = get(SGX_FMSPC)
        .and_then(octets::<6>)
        .ok_or_else(|| bad("FMSPC"))?;
    let pce_id = get(SGX_PCEID)
        .and_then(octets::<2>)
        .ok_or_else(|| bad("PCE-ID"))?;
    let tcb_any = get(SGX_TCB).ok_or_else(|| bad("TCB"))?;
    let mut tcb_buf = Vec::new();
    let tcb: Vec<SgxEntry> = decode_any(tcb_any, &mut tcb_buf).ok_or_else(|| bad("TCB"))?;
    let mut comp_svn = [0u8; 16];
    for (i, slot) in comp_svn.iter_mut().enumerate() {
        let oid = SGX_TCB.push_arc(i as u32 + 1).map_err(|_| bad("TCB"))?;
        let mut b = Vec::new();
        *slot = tcb
            .iter()
            .find(|e| e.id == oid)
            .and_then(|e| decode_any::<u8>(&e.value, &mut b))
            .ok_or_else(|| bad(&format!("TCB component {}", i + 1)))?;
    }
    let pce_oid = SGX_TCB.push_arc(17).map_err(|_| bad("TCB"))?;
    let cpu_oid = SGX_TCB.push_arc(18).map_err(|_| bad("TCB"))?;
    let mut b = Vec::new();
    let pce_svn = tcb
        .iter()
        .find(|e| e.id == pce_oid)
        .and_then(|e| decode_any::<u16>(&e.value, &mut b))
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
