//! The DCAP verification pipeline: from evidence and a trust anchor at a given time to the
//! verified enclave report and TCB status. Cheap, quote-local checks come first so that tampered
//! quotes are rejected before the certificate work. No policy here.

use sha2::{Digest, Sha256};

use super::path::{Anchor, Chain, Crl};
use super::quote::Quote;
use super::sigs::{SigCheck, Sigs};
use super::tcb::{self, QeIdentity, TcbInfo, TcbStatus};
use super::x509::{self, Cert, PckExtension};
use super::{Collateral, DcapError, DcapEvidence, DcapVerified};

const PCK_CHAIN: &[&str] = &["PCK certificate", "PCK CA certificate"];
const TCB_CHAIN: &[&str] = &["TCB info signing certificate"];
const QE_ID_CHAIN: &[&str] = &["QE identity signing certificate"];

/// Tracks the intersection of every validity window the evidence depends on (inclusive bounds).
struct Window {
    not_before: i64,
    not_after: i64,
}

impl Window {
    fn add(&mut self, from: i64, to: i64) {
        self.not_before = self.not_before.max(from);
        self.not_after = self.not_after.min(to);
    }
    fn add_cert(&mut self, c: &Cert) {
        self.add(c.not_before, c.not_after);
    }
    fn add_crl(&mut self, c: &Crl<'_>) {
        self.add(c.this_update, c.next_update.saturating_sub(1));
    }
}

/// A signed JSON collateral item (TCB info, QE identity): its exact bytes, the raw `r || s`
/// signature over them, and the issue/next-update window it states.
struct SignedJson<'a> {
    what: &'static str,
    window: (i64, i64),
    json: &'a str,
    signature: &'a [u8],
}

/// One verification in progress: what every step reads (the trust anchor, the time, the
/// signature checker, which may record each check) and the validity window the steps narrow.
struct Verification<'l> {
    anchor: Anchor,
    now: i64,
    sigs: Sigs<'l>,
    window: Window,
}

/// The PCK certificate and the PCK CA that issued it, from a chain of exactly those two.
fn pck_leaf_and_ca(chain: &Chain) -> Result<(&Cert, &Cert), DcapError> {
    match chain.certs.as_slice() {
        [leaf, ca] => Ok((leaf, ca)),
        certs => Err(DcapError::InvalidCertificate {
            what: "PCK certificate chain",
            detail: format!("{} certificates below the root, expected 2", certs.len()),
        }),
    }
}

impl<'l> Verification<'l> {
    fn new(anchor: Anchor, now: i64, log: Option<&'l mut Vec<SigCheck>>) -> Self {
        let mut window = Window {
            not_before: i64::MIN,
            not_after: i64::MAX,
        };
        window.add_cert(&anchor.cert);
        Verification {
            anchor,
            now,
            sigs: Sigs::new(log),
            window,
        }
    }

    /// Step 1: the attestation key signed the header and the ISV enclave report.
    fn check_quote_signature(&self, quote: &Quote<'_>) -> Result<(), DcapError> {
        let att_key = Sigs::raw_key(&quote.attestation_key);
        if !self
            .sigs
            .verify_raw("quote", &att_key, quote.signed, &quote.signature)
        {
            return Err(DcapError::SignatureInvalid { what: "quote" });
        }
        Ok(())
    }

    /// Step 3: the PCK chain from the quote leads to the trust anchor, and the PCK key signed the
    /// QE report.
    fn check_pck_chain(&mut self, quote: &Quote<'_>) -> Result<Chain, DcapError> {
        let ders = x509::parse_pem_chain(quote.pck_chain_pem, "PCK certificate chain")?;
        let chain = Chain::parse("PCK certificate chain", &ders, PCK_CHAIN, &self.anchor)?;
        chain.verify(&self.anchor, &[], self.now, &self.sigs)?;
        let (pck_leaf, _) = pck_leaf_and_ca(&chain)?;
        for c in &chain.certs {
            self.window.add_cert(c);
        }
        if !self.sigs.verify_raw(
            "QE report",
            &pck_leaf.key,
            &quote.qe_report.raw,
            &quote.qe_report_signature,
        ) {
            return Err(DcapError::SignatureInvalid { what: "QE report" });
        }
        Ok(chain)
    }

    /// Step 4: CRLs. The root's revokes intermediate CAs and signing certificates, the PCK CA's
    /// revokes PCKs; webpki checks both on the PCK path (signatures, nextUpdate, serials).
    /// Returns the root CA CRL, which the collateral signers' chains are checked against.
    fn check_revocation<'c>(
        &mut self,
        col: &'c Collateral,
        pck_chain: &Chain,
        pck_ca: &Cert,
    ) -> Result<Crl<'c>, DcapError> {
        let root_crl = Crl::parse(&col.root_ca_crl, "root CA CRL", &self.anchor.cert)?;
        let pck_crl_chain =
            x509::parse_pem_chain(col.pck_crl_issuer_chain.as_bytes(), "PCK CRL issuer chain")?;
        let chain_ok = match pck_crl_chain.as_slice() {
            [ca] => *ca == pck_ca.der,
            [ca, root] => *ca == pck_ca.der && *root == self.anchor.cert.der,
            _ => false,
        };
        if !chain_ok {
            return Err(DcapError::CollateralMismatch(
                "the PCK CRL issuer chain is not the quote's PCK CA and root".into(),
            ));
        }
        let pck_crl = Crl::parse(&col.pck_crl, "PCK CRL", pck_ca)?;
        pck_chain.verify(&self.anchor, &[&root_crl, &pck_crl], self.now, &self.sigs)?;
        for crl in [&root_crl, &pck_crl] {
            crl.check_issued(self.now)?;
            self.window.add_crl(crl);
        }
        Ok(root_crl)
    }

    /// The certificate that signs a collateral item (TCB info, QE identity): `chain_pem` must
    /// verify up to the root with the signer issued directly by it, and the root CA CRL must not
    /// revoke it. Narrows the window to the signer's validity.
    fn collateral_signer(
        &mut self,
        chain_name: &'static str,
        chain_pem: &str,
        names: &'static [&'static str],
        root_crl: &Crl<'_>,
    ) -> Result<Cert, DcapError> {
        let ders = x509::parse_pem_chain(chain_pem.as_bytes(), chain_name)?;
        let chain = Chain::parse(chain_name, &ders, names, &self.anchor)?;
        chain.verify(&self.anchor, &[], self.now, &self.sigs)?;
        if chain.certs.len() != 1 {
            return Err(DcapError::InvalidCertificate {
                what: chain_name,
                detail: "the signer must be issued directly by the root CA".into(),
            });
        }
        chain.verify(&self.anchor, &[root_crl], self.now, &self.sigs)?;
        let signer = chain
            .certs
            .into_iter()
            .next()
            .ok_or(DcapError::InvalidCertificate {
                what: chain_name,
                detail: "empty chain".into(),
            })?;
        self.window.add_cert(&signer);
        Ok(signer)
    }

    /// A signed JSON collateral item: current at `now` (its window, which also narrows the
    /// verification's) and signed by `signer` over its exact bytes.
    fn check_signed_json(&mut self, item: &SignedJson<'_>, signer: &Cert) -> Result<(), DcapError> {
        let what = item.what;
        tcb::check_window(what, item.window, self.now)?;
        self.window.add(item.window.0, item.window.1);
        if !self
            .sigs
            .verify_raw(what, &signer.key, item.json.as_bytes(), item.signature)
        {
            return Err(DcapError::SignatureInvalid { what });
        }
        Ok(())
    }

    /// Step 5: TCB info, signed by a current, unrevoked signer under the root, and current itself.
    /// Returns the signer too (Intel signs the QE identity with the same certificate).
    fn check_tcb_info(
        &mut self,
        col: &Collateral,
        root_crl: &Crl<'_>,
    ) -> Result<(TcbInfo, Cert), DcapError> {
        let chain = &col.tcb_info_issuer_chain;
        let signer = self.collateral_signer("TCB info issuer chain", chain, TCB_CHAIN, root_crl)?;
        let tcb_info = tcb::parse_tcb_info(&col.tcb_info)?;
        let item = SignedJson {
            what: "TCB info",
            window: tcb::window("TCB info", &tcb_info.issue_date, &tcb_info.next_update)?,
            json: &col.tcb_info,
            signature: &col.tcb_info_signature,
        };
        self.check_signed_json(&item, &signer)?;
        Ok((tcb_info, signer))
    }

    /// Step 6: QE identity, likewise; when its issuer chain is the TCB info's (as Intel's is),
    /// the chain is verified once.
    fn check_qe_identity(
        &mut self,
        col: &Collateral,
        root_crl: &Crl<'_>,
        tcb_signer: Cert,
    ) -> Result<QeIdentity, DcapError> {
        let signer = if col.qe_identity_issuer_chain == col.tcb_info_issuer_chain {
            self.window.add_cert(&tcb_signer);
            tcb_signer
        } else {
            let chain = &col.qe_identity_issuer_chain;
            self.collateral_signer("QE identity issuer chain", chain, QE_ID_CHAIN, root_crl)?
        };
        let qe_identity = tcb::parse_qe_identity(&col.qe_identity)?;
        let item = SignedJson {
            what: "QE identity",
            window: tcb::window(
                "QE identity",
                &qe_identity.issue_date,
                &qe_identity.next_update,
            )?,
            json: &col.qe_identity,
            signature: &col.qe_identity_signature,
        };
        self.check_signed_json(&item, &signer)?;
        Ok(qe_identity)
    }
}

/// Step 2: the QE report binds the attestation key: report_data = SHA-256(key || auth data) || 0^32.
fn check_key_binding(quote: &Quote<'_>) -> Result<(), DcapError> {
    let mut h = Sha256::new();
    h.update(quote.attestation_key);
    h.update(quote.qe_auth_data);
    let digest = h.finalize();
    let (bound, zeros) = quote.qe_report.report_data.split_at(32);
    if bound != digest.as_slice() || zeros.iter().any(|b| *b != 0) {
        return Err(DcapError::AttestationKeyNotBound);
    }
    Ok(())
}

/// Step 7: the TCB status, the platform's level from the PCK certificate converged with the
/// QE's; a revoked TCB is refused here (the platform's keys are compromised: no policy may
/// accept it).
fn tcb_status(
    tcb_info: &TcbInfo,
    qe_identity: &QeIdentity,
    pck_ext: &PckExtension,
    quote: &Quote<'_>,
) -> Result<(TcbStatus, Vec<String>), DcapError> {
    let platform = tcb::match_platform(tcb_info, pck_ext)?;
    let qe_level = tcb::match_qe(qe_identity, &quote.qe_report)?;
    let (status, advisory_ids) = tcb::combine(platform, qe_level);
    if status == TcbStatus::Revoked {
        return Err(DcapError::TcbRevoked);
    }
    Ok((status, advisory_ids))
}

/// Verifies `ev` against the root `root_ca_der` at `now`, recording each signature check in
/// `log` when given. Cheap, quote-local checks come first.
pub(crate) fn verify_impl(
    ev: &DcapEvidence,
    root_ca_der: &[u8],
    now: i64,
    log: Option<&mut Vec<SigCheck>>,
) -> Result<DcapVerified, DcapError> {
    let col = &ev.collateral;
    let quote = Quote::parse(&ev.quote)?;
    let mut v = Verification::new(Anchor::parse(root_ca_der, now)?, now, log);
    v.check_quote_signature(&quote)?;
    check_key_binding(&quote)?;
    let pck_chain = v.check_pck_chain(&quote)?;
    let (pck_leaf, pck_ca) = pck_leaf_and_ca(&pck_chain)?;
    let root_crl = v.check_revocation(col, &pck_chain, pck_ca)?;
    let (tcb_info, tcb_signer) = v.check_tcb_info(col, &root_crl)?;
    let qe_identity = v.check_qe_identity(col, &root_crl, tcb_signer)?;
    let pck_ext = x509::pck_extension(pck_leaf)?;
    let (status, advisory_ids) = tcb_status(&tcb_info, &qe_identity, &pck_ext, &quote)?;

    let r = &quote.report;
    Ok(DcapVerified {
        mrenclave: r.mr_enclave,
        mrsigner: r.mr_signer,
        isv_prod_id: r.isv_prod_id,
        isv_svn: r.isv_svn,
        report_data: r.report_data,
        debug: r.debug(),
        tcb_status: status.as_str().to_string(),
        advisory_ids,
        fmspc: pck_ext.fmspc,
        collateral_not_before: v.window.not_before,
        collateral_not_after: v.window.not_after,
        quote_version: quote.version,
    })
}
