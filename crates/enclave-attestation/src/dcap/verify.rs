//! The DCAP verification pipeline: from evidence and a trust anchor at a given time to the
//! verified enclave report and TCB status. Cheap, quote-local checks come first so that tampered
//! quotes are rejected before the certificate work. No policy here.

use sha2::{Digest, Sha256};

use super::path::{Anchor, Chain, Crl};
use super::quote::Quote;
use super::sigs::{SigCheck, Sigs};
use super::tcb::{self, TcbStatus};
use super::x509::{self, Cert};
use super::{DcapError, DcapEvidence, DcapVerified};

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

/// The certificate that signs a collateral item (TCB info, QE identity): `chain_pem` must verify
/// up to the root with the signer issued directly by it, and the root CA CRL must not revoke it.
fn collateral_signer(
    chain_name: &'static str,
    chain_pem: &str,
    names: &'static [&'static str],
    anchor: &Anchor,
    root_crl: &Crl<'_>,
    now: i64,
    sigs: &Sigs<'_>,
) -> Result<Cert, DcapError> {
    let ders = x509::parse_pem_chain(chain_pem.as_bytes(), chain_name)?;
    let chain = Chain::parse(chain_name, &ders, names, anchor)?;
    chain.verify(anchor, &[], now, sigs)?;
    if chain.certs.len() != 1 {
        return Err(DcapError::InvalidCertificate {
            what: chain_name,
            detail: "the signer must be issued directly by the root CA".into(),
        });
    }
    chain.verify(anchor, &[root_crl], now, sigs)?;
    chain
        .certs
        .into_iter()
        .next()
        .ok_or(DcapError::InvalidCertificate {
            what: chain_name,
            detail: "empty chain".into(),
        })
}

/// A signed JSON collateral item: current at `now` (its issue/next-update window, which also
/// narrows `window`) and signed by `signer` (raw `r || s` signature) over its exact bytes.
#[allow(clippy::too_many_arguments)]
fn check_signed_json(
    what: &'static str,
    item_window: (i64, i64),
    json: &str,
    signature: &[u8],
    signer: &Cert,
    now: i64,
    window: &mut Window,
    sigs: &Sigs<'_>,
) -> Result<(), DcapError> {
    tcb::check_window(what, item_window, now)?;
    window.add(item_window.0, item_window.1);
    if !sigs.verify_raw(what, &signer.key, json.as_bytes(), signature) {
        return Err(DcapError::SignatureInvalid { what });
    }
    Ok(())
}

pub(crate) fn verify_impl(
    ev: &DcapEvidence,
    root_ca_der: &[u8],
    now: i64,
    log: Option<&mut Vec<SigCheck>>,
) -> Result<DcapVerified, DcapError> {
    let sigs = Sigs::new(log);
    let col = &ev.collateral;
    let quote = Quote::parse(&ev.quote)?;
    let anchor = Anchor::parse(root_ca_der, now)?;
    let mut window = Window {
        not_before: i64::MIN,
        not_after: i64::MAX,
    };
    window.add_cert(&anchor.cert);

    // 1. The attestation key signed the header and the ISV enclave report.
    let att_key = Sigs::raw_key(&quote.attestation_key);
    if !sigs.verify_raw("quote", &att_key, quote.signed, &quote.signature) {
        return Err(DcapError::SignatureInvalid { what: "quote" });
    }

    // 2. The QE report binds the attestation key: report_data = SHA-256(key || auth data) || 0^32.
    let mut h = Sha256::new();
    h.update(quote.attestation_key);
    h.update(quote.qe_auth_data);
    let digest = h.finalize();
    if quote.qe_report.report_data.get(..32) != Some(&digest[..])
        || quote
            .qe_report
            .report_data
            .get(32..)
            .is_none_or(|z| z.iter().any(|b| *b != 0))
    {
        return Err(DcapError::AttestationKeyNotBound);
    }

    // 3. The PCK chain from the quote leads to the trust anchor, and the PCK key signed the QE report.
    let pck_ders = x509::parse_pem_chain(quote.pck_chain_pem, "PCK certificate chain")?;
    let pck_chain = Chain::parse("PCK certificate chain", &pck_ders, PCK_CHAIN, &anchor)?;
    pck_chain.verify(&anchor, &[], now, &sigs)?;
    let [pck_leaf, pck_ca] = pck_chain.certs.as_slice() else {
        return Err(DcapError::InvalidCertificate {
            what: "PCK certificate chain",
            detail: format!(
                "{} certificates below the root, expected 2",
                pck_chain.certs.len()
            ),
        });
    };
    for c in &pck_chain.certs {
        window.add_cert(c);
    }
    if !sigs.verify_raw(
        "QE report",
        &pck_leaf.key,
        &quote.qe_report.raw,
        &quote.qe_report_signature,
    ) {
        return Err(DcapError::SignatureInvalid { what: "QE report" });
    }

    // 4. CRLs: the root's revokes intermediate CAs and signing certificates, the PCK CA's revokes
    //    PCKs. webpki checks both on the PCK path (signatures, nextUpdate, serials).
    let root_crl = Crl::parse(&col.root_ca_crl, "root CA CRL", &anchor.cert)?;
    let pck_crl_chain =
        x509::parse_pem_chain(col.pck_crl_issuer_chain.as_bytes(), "PCK CRL issuer chain")?;
    let chain_ok = match pck_crl_chain.as_slice() {
        [ca] => *ca == pck_ca.der,
        [ca, root] => *ca == pck_ca.der && *root == anchor.cert.der,
        _ => false,
    };
    if !chain_ok {
        return Err(DcapError::CollateralMismatch(
            "the PCK CRL issuer chain is not the quote's PCK CA and root".into(),
        ));
    }
    let pck_crl = Crl::parse(&col.pck_crl, "PCK CRL", pck_ca)?;

    pck_chain.verify(&anchor, &[&root_crl, &pck_crl], now, &sigs)?;
    for crl in [&root_crl, &pck_crl] {
        crl.check_issued(now)?;
        window.add_crl(crl);
    }

    // 5. TCB info: signed by a current, unrevoked signer under the root, and current itself.
    let tcb_signer = collateral_signer(
        "TCB info issuer chain",
        &col.tcb_info_issuer_chain,
        TCB_CHAIN,
        &anchor,
        &root_crl,
        now,
        &sigs,
    )?;
    window.add_cert(&tcb_signer);
    let tcb_info = tcb::parse_tcb_info(&col.tcb_info)?;
    let tcb_window = tcb::window("TCB info", &tcb_info.issue_date, &tcb_info.next_update)?;
    check_signed_json(
        "TCB info",
        tcb_window,
        &col.tcb_info,
        &col.tcb_info_signature,
        &tcb_signer,
        now,
        &mut window,
        &sigs,
    )?;

    // 6. QE identity, likewise (Intel signs both with one certificate: verify its chain once).
    let qe_signer = if col.qe_identity_issuer_chain == col.tcb_info_issuer_chain {
        tcb_signer
    } else {
        collateral_signer(
            "QE identity issuer chain",
            &col.qe_identity_issuer_chain,
            QE_ID_CHAIN,
            &anchor,
            &root_crl,
            now,
            &sigs,
        )?
    };
    window.add_cert(&qe_signer);
    let qe_identity = tcb::parse_qe_identity(&col.qe_identity)?;
    let qe_window = tcb::window(
        "QE identity",
        &qe_identity.issue_date,
        &qe_identity.next_update,
    )?;
    check_signed_json(
        "QE identity",
        qe_window,
        &col.qe_identity,
        &col.qe_identity_signature,
        &qe_signer,
        now,
        &mut window,
        &sigs,
    )?;

    // 7. TCB status: the platform's level from the PCK certificate, converged with the QE's.
    let pck_ext = x509::pck_extension(pck_leaf)?;
    let platform = tcb::match_platform(&tcb_info, &pck_ext)?;
    let qe_level = tcb::match_qe(&qe_identity, &quote.qe_report)?;
    let (status, advisory_ids) = tcb::combine(platform, qe_level);
    if status == TcbStatus::Revoked {
        // The platform's keys are compromised: no policy may accept it.
        return Err(DcapError::TcbRevoked);
    }

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
        collateral_not_before: window.not_before,
        collateral_not_after: window.not_after,
        quote_version: quote.version,
    })
}
