//! A human-oriented, non-verifying summary of `dcap` evidence for `ercc inspect`: what the quote
//! claims and what its collateral says, with no signature checked.

use serde_json::{json, Map, Value};

use super::quote::Quote;
use super::tcb::{self, QeIdentity, TcbInfo};
use super::x509::{self, Cert, PckExtension};
use super::{Collateral, DcapError, DcapEvidence};
use crate::time::format_rfc3339_utc;

/// The summary: what the quote claims, then the PCK certificate's platform fields, the
/// collateral's common validity window and the TCB status it assigns. A part that cannot be read
/// is reported under an `*error` key and the others still shown.
pub(crate) fn inspect_impl(ev: &DcapEvidence) -> Value {
    let mut out = Map::new();
    out.insert("attestation_type".into(), json!("dcap"));
    out.insert("verified".into(), json!(false));
    let quote = match Quote::parse(&ev.quote) {
        Ok(q) => q,
        Err(e) => {
            out.insert("error".into(), json!(e.to_string()));
            return Value::Object(out);
        }
    };
    describe_report(&mut out, &quote);
    let pck_ext = describe_pck(&mut out, &quote);
    let col = &ev.collateral;
    let tcb_info = tcb::parse_tcb_info(&col.tcb_info);
    let qe_id = tcb::parse_qe_identity(&col.qe_identity);
    describe_validity(&mut out, col, &tcb_info, &qe_id);
    describe_tcb_status(&mut out, &tcb_info, &qe_id, pck_ext.as_ref(), &quote);
    Value::Object(out)
}

/// The ISV enclave report's fields.
fn describe_report(out: &mut Map<String, Value>, quote: &Quote<'_>) {
    let r = &quote.report;
    out.insert("quote_version".into(), json!(quote.version));
    out.insert("mrenclave".into(), json!(hex::encode(r.mr_enclave)));
    out.insert("mrsigner".into(), json!(hex::encode(r.mr_signer)));
    out.insert("isv_prod_id".into(), json!(r.isv_prod_id));
    out.insert("isv_svn".into(), json!(r.isv_svn));
    out.insert("attributes".into(), json!(hex::encode(r.attributes)));
    out.insert("debug".into(), json!(r.debug()));
    out.insert("report_data".into(), json!(hex::encode(r.report_data)));
}

/// The PCK certificate's FMSPC, issuer and PCE SVN (`pck_error` if it cannot be read).
fn describe_pck(out: &mut Map<String, Value>, quote: &Quote<'_>) -> Option<PckExtension> {
    let pck = x509::parse_pem_chain(quote.pck_chain_pem, "PCK certificate chain")
        .and_then(|ders| match ders.first() {
            Some(d) => Cert::from_der(d, "PCK certificate"),
            None => Err(DcapError::InvalidEvidence("empty PCK chain".into())),
        })
        .and_then(|c| x509::pck_extension(&c).map(|e| (c, e)));
    match pck {
        Ok((cert, ext)) => {
            out.insert("fmspc".into(), json!(hex::encode_upper(ext.fmspc)));
            out.insert("pck_issuer".into(), json!(cert.issuer_name()));
            out.insert("pce_svn".into(), json!(ext.pce_svn));
            Some(ext)
        }
        Err(e) => {
            out.insert("pck_error".into(), json!(e.to_string()));
            None
        }
    }
}

/// `collateral_validity`: the intersection of the TCB info's, the QE identity's and the CRLs'
/// windows, of those that can be read.
fn describe_validity(
    out: &mut Map<String, Value>,
    col: &Collateral,
    tcb_info: &Result<TcbInfo, DcapError>,
    qe_id: &Result<QeIdentity, DcapError>,
) {
    let mut windows: Vec<(i64, i64)> = Vec::new();
    if let Ok(info) = tcb_info {
        if let Ok(w) = tcb::window("TCB info", &info.issue_date, &info.next_update) {
            windows.push(w);
        }
    }
    if let Ok(id) = qe_id {
        if let Ok(w) = tcb::window("QE identity", &id.issue_date, &id.next_update) {
            windows.push(w);
        }
    }
    for (der, what) in [(&col.root_ca_crl, "root CA CRL"), (&col.pck_crl, "PCK CRL")] {
        if let Ok(crl) = x509::parse_crl(der, what) {
            let t = &crl.tbs_cert_list;
            if let Some(next) = &t.next_update {
                windows.push((
                    x509::secs(&t.this_update),
                    x509::secs(next).saturating_sub(1),
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (
        windows.iter().map(|w| w.0).max(),
        windows.iter().map(|w| w.1).min(),
    ) {
        out.insert(
            "collateral_validity".into(),
            json!({"not_before": format_rfc3339_utc(from), "not_after": format_rfc3339_utc(to),
                   "not_before_unix": from, "not_after_unix": to}),
        );
    }
}

/// The TCB status the collateral assigns, if it can be computed (signatures not checked).
fn describe_tcb_status(
    out: &mut Map<String, Value>,
    tcb_info: &Result<TcbInfo, DcapError>,
    qe_id: &Result<QeIdentity, DcapError>,
    pck_ext: Option<&PckExtension>,
    quote: &Quote<'_>,
) {
    match (tcb_info, qe_id, pck_ext) {
        (Ok(info), Ok(id), Some(ext)) => {
            match tcb::match_platform(info, ext)
                .and_then(|p| tcb::match_qe(id, &quote.qe_report).map(|q| (p, q)))
            {
                Ok((p, q)) => {
                    let (status, adv) = tcb::combine(p, q);
                    out.insert("tcb_status".into(), json!(status.as_str()));
                    out.insert("advisory_ids".into(), json!(adv));
                }
                Err(e) => {
                    out.insert("tcb_error".into(), json!(e.to_string()));
                }
            }
        }
        (Err(e), _, _) | (_, Err(e), _) => {
            out.insert("tcb_error".into(), json!(e.to_string()));
        }
        _ => {}
    }
}
