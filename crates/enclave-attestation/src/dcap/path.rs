//! Certificate paths and CRLs for DCAP, validated by webpki at the verification time (as IAS's
//! are): Intel's PCK chain (PCK certificate, PCK CA, root) and collateral-signer chains (signer,
//! root), every certificate checked against its issuer's CRL. webpki decides; this module adds
//! what DCAP asks on top of RFC 5280 (the exact chain shape, the trust anchor's own validity and CA
//! flag, each CRL issued by the expected CA and not dated in the future) and names the certificate
//! or CRL behind a webpki error, which webpki itself does not.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::time::Duration;

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor};
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, EndEntityCert, ExpirationPolicy,
    RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
};
use x509_cert::crl::CertificateList;

use super::sigs::Sigs;
use super::x509::{self, Cert, ECDSA_WITH_SHA256};
use super::DcapError;
use crate::ias::signing::AnyKeyPurpose;
use crate::time::UnixTime;

/// The configured root: trusted for its key and name, and (stricter than RFC 5280 §6.1.1, as
/// before) required to be a CA certificate valid at the verification time.
pub(crate) struct Anchor {
    pub cert: Cert,
    trust: TrustAnchor<'static>,
}

impl Anchor {
    pub(crate) fn parse(der: &[u8], now: i64) -> Result<Self, DcapError> {
        const WHAT: &str = "root CA certificate";
        let cert = Cert::from_der(der, WHAT)?;
        let trust = webpki::anchor_from_trusted_cert(&CertificateDer::from(der))
            .map(|a| a.to_owned())
            .map_err(|e| DcapError::InvalidCertificate {
                what: WHAT,
                detail: format!("{e:?}"),
            })?;
        cert.check_time(WHAT, now)?;
        if !cert.is_ca() {
            return Err(DcapError::InvalidCertificate {
                what: WHAT,
                detail: "not a CA".into(),
            });
        }
        Ok(Anchor { cert, trust })
    }
}

/// A CRL from the collateral, parsed for webpki and for the fields webpki keeps to itself.
pub(crate) struct Crl<'a> {
    pub what: &'static str,
    list: CertificateList,
    webpki: CertRevocationList<'a>,
    pub this_update: i64,
    /// Exclusive: the CRL is stale from this instant on.
    pub next_update: i64,
}

impl<'a> Crl<'a> {
    /// Parses a CRL that must be issued by `issuer` with ECDSA-with-SHA256. Its signature and
    /// nextUpdate are checked by webpki when it is used in a path, its thisUpdate by [`Self::check_issued`].
    pub(crate) fn parse(
        der: &'a [u8],
        what: &'static str,
        issuer: &Cert,
    ) -> Result<Self, DcapError> {
        let bad = |detail: String| DcapError::InvalidCrl { what, detail };
        let list = x509::parse_crl(der, what)?;
        let tbs = &list.tbs_cert_list;
        let expected = &issuer.cert.tbs_certificate.subject;
        if tbs.issuer != *expected {
            return Err(bad(format!(
                "issued by {}, expected {expected}",
                tbs.issuer
            )));
        }
        if list.signature_algorithm.oid != ECDSA_WITH_SHA256
            || tbs.signature != list.signature_algorithm
        {
            return Err(bad("signature algorithm is not ECDSA with SHA-256".into()));
        }
        let next_update = tbs
            .next_update
            .as_ref()
            .map(x509::secs)
            .ok_or_else(|| bad("no nextUpdate".into()))?;
        let webpki = BorrowedCertRevocationList::from_der(der)
            .map_err(|e| bad(format!("{e:?}")))?
            .into();
        Ok(Crl {
            what,
            this_update: x509::secs(&tbs.this_update),
            next_update,
            list,
            webpki,
        })
    }

    /// webpki does not look at thisUpdate: a CRL from the future is refused here.
    pub(crate) fn check_issued(&self, now: i64) -> Result<(), DcapError> {
        if now < self.this_update {
            return Err(DcapError::CrlNotYetValid {
                what: self.what,
                this_update: UnixTime::from_secs(self.this_update),
                now: UnixTime::from_secs(now),
            });
        }
        Ok(())
    }

    /// Whether the CRL lists `cert` (for naming a revoked certificate; webpki decides).
    fn lists(&self, cert: &Cert) -> bool {
        let tbs = &cert.cert.tbs_certificate;
        tbs.issuer == self.list.tbs_cert_list.issuer
            && self
                .list
                .tbs_cert_list
                .revoked_certificates
                .iter()
                .flatten()
                .any(|r| r.serial_number == tbs.serial_number)
    }
}

/// A chain from the evidence: the certificates below the trust anchor, leaf first.
pub(crate) struct Chain {
    name: &'static str,
    names: &'static [&'static str],
    pub certs: Vec<Cert>,
}

impl Chain {
    /// Reads `ders` (leaf first, optionally ending with the anchor itself). `names[i]` names the
    /// i-th certificate in errors. Nothing is trusted yet.
    pub(crate) fn parse(
        name: &'static str,
        ders: &[Vec<u8>],
        names: &'static [&'static str],
        anchor: &Anchor,
    ) -> Result<Self, DcapError> {
        let mut chain = Chain {
            name,
            names,
            certs: Vec::new(),
        };
        for (i, der) in ders.iter().enumerate() {
            if *der == anchor.cert.der {
                // The root may close the chain, and nothing may follow it.
                if i == 0 || Some(i) != ders.len().checked_sub(1) {
                    return Err(DcapError::InvalidCertificate {
                        what: chain.cert_name(i),
                        detail: "the root CA appears at the wrong place in the chain".into(),
                    });
                }
                break;
            }
            let cert = Cert::from_der(der, chain.cert_name(i))?;
            // A self-issued certificate other than the anchor: a different root.
            if cert.cert.tbs_certificate.issuer == cert.cert.tbs_certificate.subject {
                return Err(DcapError::UntrustedRoot { what: name });
            }
            chain.certs.push(cert);
        }
        if chain.certs.is_empty() {
            return Err(DcapError::InvalidCertificate {
                what: chain.cert_name(0),
                detail: "empty chain".into(),
            });
        }
        Ok(chain)
    }

    fn cert_name(&self, i: usize) -> &'static str {
        self.names.get(i).copied().unwrap_or("certificate")
    }

    /// webpki's path validation at `now`: every certificate valid, each signed by the next and the
    /// last by `anchor`, CA flags and key usages right, and, unless `crls` is empty, none revoked
    /// by them (each certificate needs one, signed by its issuer and current). Every certificate
    /// of the chain must be on the path. The pipeline validates a path first and its revocation
    /// after (RFC 5280's order); the second pass re-checks no signature (see `sigs`).
    pub(crate) fn verify(
        &self,
        anchor: &Anchor,
        crls: &[&Crl<'_>],
        now: i64,
        sigs: &Sigs<'_>,
    ) -> Result<(), DcapError> {
        let time = u64::try_from(now)
            .map(|s| rustls_pki_types::UnixTime::since_unix_epoch(Duration::from_secs(s)))
            .map_err(|_| DcapError::InvalidCertificate {
                what: self.name,
                detail: "verification time before 1970".into(),
            })?;
        let ders: Vec<CertificateDer<'_>> = self
            .certs
            .iter()
            .map(|c| CertificateDer::from(c.der.as_slice()))
            .collect();
        let (leaf, intermediates) = ders.split_first().ok_or(DcapError::InvalidCertificate {
            what: self.name,
            detail: "empty chain".into(),
        })?;
        let leaf = EndEntityCert::try_from(leaf).map_err(|e| DcapError::InvalidCertificate {
            what: self.cert_name(0),
            detail: format!("{e:?}"),
        })?;
        let crl_refs: Vec<&CertRevocationList<'_>> = crls.iter().map(|c| &c.webpki).collect();
        // `new` refuses only an empty list: no revocation pass asked for.
        let revocation = RevocationOptionsBuilder::new(&crl_refs).ok().map(|b| {
            b.with_depth(RevocationCheckDepth::Chain)
                .with_status_policy(UnknownStatusPolicy::Deny)
                .with_expiration_policy(ExpirationPolicy::Enforce)
                .build()
        });
        let algs: [&dyn SignatureVerificationAlgorithm; 1] = [sigs];
        let path = leaf
            .verify_for_usage(
                &algs,
                std::slice::from_ref(&anchor.trust),
                intermediates,
                time,
                AnyKeyPurpose,
                revocation,
                None,
            )
            .map_err(|e| self.explain(e, anchor, crls, now, sigs))?;
        // webpki found a shorter path, around a certificate of ours: that one does not chain.
        if path.intermediate_certificates().count() != intermediates.len() {
            return Err(self.unchained());
        }
        Ok(())
    }

    /// Names the certificate or CRL behind a webpki error, in webpki's order of checks.
    fn explain(
        &self,
        e: webpki::Error,
        anchor: &Anchor,
        crls: &[&Crl<'_>],
        now: i64,
        sigs: &Sigs<'_>,
    ) -> DcapError {
        use webpki::Error as W;
        let found = match &e {
            // Validity is checked leaf first, as the path is built.
            W::CertExpired { .. } | W::CertNotValidYet { .. } => self
                .certs
                .iter()
                .enumerate()
                .find_map(|(i, c)| c.check_time(self.cert_name(i), now).err()),
            W::UnknownIssuer => Some(self.unchained()),
            W::EndEntityUsedAsCa => self
                .certs
                .iter()
                .enumerate()
                .skip(1)
                .find(|(_, c)| !c.is_ca())
                .map(|(i, _)| DcapError::InvalidCertificate {
                    what: self.cert_name(i),
                    detail: "not a CA".into(),
                }),
            W::InvalidSignatureForPublicKey => self.bad_signature(anchor, sigs),
            W::InvalidCrlSignatureForPublicKey => self.key_owner(anchor, sigs).and_then(|issuer| {
                crls.iter()
                    .find(|c| c.list.tbs_cert_list.issuer == issuer.cert.tbs_certificate.subject)
                    .map(|c| DcapError::CrlSignatureInvalid { what: c.what })
            }),
            // CRLs are checked from the top of the path down: the root's first.
            W::CrlExpired { .. } => {
                crls.iter()
                    .find(|c| now >= c.next_update)
                    .map(|c| DcapError::CrlExpired {
                        what: c.what,
                        next_update: UnixTime::from_secs(c.next_update),
                        now: UnixTime::from_secs(now),
                    })
            }
            // A CRL dated in the future is refused before anything it lists counts (as before
            // webpki); then the revoked certificate nearest the root is named.
            W::CertRevoked => crls
                .iter()
                .find_map(|c| c.check_issued(now).err())
                .or_else(|| {
                    self.certs
                        .iter()
                        .enumerate()
                        .rev()
                        .find(|(_, c)| crls.iter().any(|crl| crl.lists(c)))
                        .map(|(i, _)| DcapError::Revoked {
                            what: self.cert_name(i),
                        })
                }),
            _ => None,
        };
        found.unwrap_or_else(|| DcapError::InvalidCertificate {
            what: self.name,
            detail: format!("{e:?}"),
        })
    }

    /// No path through every certificate: the first whose issuer is not the next one's subject
    /// is not signed by it; when they all chain by name, the last is not issued by the root.
    fn unchained(&self) -> DcapError {
        self.certs
            .windows(2)
            .position(|w| {
                matches!(w, [c, issuer]
                    if c.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject)
            })
            .map_or(DcapError::UntrustedRoot { what: self.name }, |i| {
                DcapError::CertificateSignatureInvalid {
                    what: self.cert_name(i),
                }
            })
    }

    /// A certificate signature failed: under the anchor's key the chain does not lead to the
    /// root; under a CA's key, the certificate below it is not its.
    fn bad_signature(&self, anchor: &Anchor, sigs: &Sigs<'_>) -> Option<DcapError> {
        let key = sigs.failed_key()?;
        if key == anchor.cert.key {
            return Some(DcapError::UntrustedRoot { what: self.name });
        }
        let issuer = self.certs.iter().skip(1).position(|c| c.key == key)?;
        Some(DcapError::CertificateSignatureInvalid {
            what: self.cert_name(issuer),
        })
    }

    /// The certificate (anchor included) whose key refused the last failed check.
    fn key_owner<'c>(&'c self, anchor: &'c Anchor, sigs: &Sigs<'_>) -> Option<&'c Cert> {
        let key = sigs.failed_key()?;
        std::iter::once(&anchor.cert)
            .chain(&self.certs)
            .find(|c| c.key == key)
    }
}
