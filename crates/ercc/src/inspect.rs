//! `ercc inspect`: base64 credentials → readable JSON (chaincode and host parameters,
//! enclave id, attestation and evidence with the IAS report and quote fields decoded).
//!
//! Inspection never judges: it shows what is there, and what could not be decoded is
//! reported inline (`"error": ...`) so a half-broken credential can still be examined.
//! The evidence is described by `enclave_attestation::inspect_evidence`; when that parser
//! refuses it, the small lenient decoder here ([`inspect_evidence`]) shows what it can.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::cli_input::{CredentialsInput, InputError};
use crate::credentials::{self, CredentialsError};
use crate::proto::{AttestedData, Credentials};

/// Arguments of `ercc inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// Where the credentials come from.
    #[command(flatten)]
    pub input: CredentialsInput,
}

/// Why `ercc inspect` printed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// The credentials cannot be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The credentials do not decode.
    #[error("invalid credential bytes: {0}")]
    Credentials(#[from] CredentialsError),
    /// Standard output failed.
    #[error(transparent)]
    Output(#[from] crate::cli_output::OutputError),
}

/// Runs `ercc inspect`: prints the JSON description on standard output.
pub fn run(args: InspectArgs) -> Result<(), InspectError> {
    let text = args.input.read()?;
    let value = inspect_credentials(&text)?;
    crate::cli_output::print_json(&value)?;
    Ok(())
}

/// Describes base64 credentials as JSON. Fails only if the text is not `fpc.Credentials`.
pub fn inspect_credentials(text: &str) -> Result<Value, CredentialsError> {
    let creds = credentials::decode_credentials(text)?;
    Ok(describe(&creds))
}

fn describe(creds: &Credentials) -> Value {
    let mut out = Map::new();
    match credentials::decode_attested_data(creds) {
        Ok(ad) => {
            out.insert(
                "enclave_id".into(),
                credentials::enclave_id(&ad.enclave_vk).into(),
            );
            let mut a = describe_attested_data(&ad);
            if let Some(any) = &creds.serialized_attested_data {
                a.insert("type_url".into(), any.type_url.clone().into());
            }
            out.insert("attested_data".into(), Value::Object(a));
        }
        Err(e) => {
            out.insert("attested_data".into(), json!({ "error": e.to_string() }));
        }
    }
    out.insert("attestation".into(), json_or_bytes(&creds.attestation));
    out.insert("evidence".into(), describe_evidence(&creds.evidence));
    Value::Object(out)
}

fn describe_attested_data(ad: &AttestedData) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "cc_params".into(),
        match &ad.cc_params {
            Some(p) => json!({
                "chaincode_id": p.chaincode_id,
                "version": p.version,
                "sequence": p.sequence,
                "channel_id": p.channel_id,
            }),
            None => Value::Null,
        },
    );
    m.insert(
        "host_params".into(),
        match &ad.host_params {
            Some(h) => json!({
                "peer_msp_id": h.peer_msp_id,
                "peer_endpoint": h.peer_endpoint,
                "certificate": text_or_base64(&h.certificate),
            }),
            None => Value::Null,
        },
    );
    m.insert("enclave_vk".into(), text_or_base64(&ad.enclave_vk));
    m.insert("channel_hash".into(), hex::encode(&ad.channel_hash).into());
    m.insert("tlcc_mrenclave".into(), ad.tlcc_mrenclave.clone().into());
    m.insert(
        "chaincode_ek_base64".into(),
        STANDARD.encode(&ad.chaincode_ek).into(),
    );
    // ercc-rs's field 7 (docs/key-distribution.md), shown only when present.
    if !ad.enclave_ek.is_empty() {
        m.insert("enclave_ek".into(), text_or_base64(&ad.enclave_ek));
    }
    m
}

/// PEM and other text stays readable; binary becomes `{"base64": ...}`.
fn text_or_base64(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(|c| c.is_control() && !c.is_whitespace()) => s.into(),
        _ => json!({ "base64": STANDARD.encode(bytes) }),
    }
}

fn json_or_bytes(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| text_or_base64(bytes))
}

/// The attestation crate's description of the evidence (every field of every evidence
/// type); evidence it cannot parse gets its error plus what [`inspect_evidence`] can still
/// make out, so a half-broken credential remains readable.
fn describe_evidence(evidence: &[u8]) -> Value {
    if evidence.is_empty() {
        return Value::Null;
    }
    match enclave_attestation::inspect_evidence(evidence) {
        Ok(v) => v,
        Err(e) => {
            let mut v = inspect_evidence(evidence);
            if let Value::Object(m) = &mut v {
                m.insert("error".into(), e.to_string().into());
            }
            v
        }
    }
}

/// A small, lenient decoder of `Credentials.evidence` (`{"attestation_type": T,
/// "evidence": E}`): for `epid-*` the IAS report fields and the quote body.
pub fn inspect_evidence(evidence: &[u8]) -> Value {
    if evidence.is_empty() {
        return Value::Null;
    }
    let outer: Value = match serde_json::from_slice(evidence) {
        Ok(v) => v,
        Err(e) => {
            return json!({ "error": format!("evidence is not JSON: {e}"), "raw": text_or_base64(evidence) })
        }
    };
    let kind = outer.get("attestation_type").and_then(Value::as_str);
    let inner = outer.get("evidence");
    let mut m = Map::new();
    m.insert("attestation_type".into(), kind.into());
    match (kind, inner) {
        (Some("epid-linkable" | "epid-unlinkable"), Some(Value::String(s))) => {
            m.insert("ias".into(), inspect_ias_evidence(s));
        }
        (_, Some(v)) => {
            m.insert("evidence".into(), v.clone());
        }
        (_, None) => {
            m.insert("error".into(), "no \"evidence\" field".into());
        }
    }
    Value::Object(m)
}

/// `{"iasSignature", "iasCertificates", "iasReport"}` → report fields + quote fields.
fn inspect_ias_evidence(inner: &str) -> Value {
    let v: Value = match serde_json::from_str(inner) {
        Ok(v) => v,
        Err(e) => return json!({ "error": format!("IAS evidence is not JSON: {e}") }),
    };
    let mut m = Map::new();
    if let Some(sig) = v.get("iasSignature").and_then(Value::as_str) {
        let len = STANDARD.decode(sig).map(|b| b.len()).ok();
        m.insert("signature_bytes".into(), len.into());
    }
    if let Some(certs) = v.get("iasCertificates").and_then(Value::as_str) {
        let pem = percent_encoding::percent_decode_str(certs).decode_utf8_lossy();
        m.insert(
            "certificates_in_chain".into(),
            pem.matches("-----BEGIN CERTIFICATE-----").count().into(),
        );
    }
    match v.get("iasReport").and_then(Value::as_str) {
        Some(report) => {
            m.insert("report".into(), inspect_ias_report(report));
        }
        None => {
            m.insert("report".into(), json!({ "error": "no iasReport string" }));
        }
    }
    Value::Object(m)
}

fn inspect_ias_report(report: &str) -> Value {
    let v: Value = match serde_json::from_str(report) {
        Ok(v) => v,
        Err(e) => return json!({ "error": format!("IAS report is not JSON: {e}") }),
    };
    let mut m = Map::new();
    for field in [
        "id",
        "timestamp",
        "version",
        "isvEnclaveQuoteStatus",
        "advisoryIDs",
        "advisoryURL",
        "epidPseudonym",
    ] {
        if let Some(x) = v.get(field) {
            m.insert(field.into(), x.clone());
        }
    }
    if let Some(body) = v.get("isvEnclaveQuoteBody").and_then(Value::as_str) {
        m.insert(
            "quote".into(),
            match STANDARD.decode(body) {
                Ok(bytes) => describe_quote_body(&bytes),
                Err(e) => json!({ "error": format!("quote body is not base64: {e}") }),
            },
        );
    }
    Value::Object(m)
}

/// Length of `sgx_quote_t` without its signature, as IAS returns it.
pub use enclave_attestation::ias::QUOTE_BODY_LEN;

/// Fields of the 432-byte quote body, decoded by the attestation crate's parser (which only
/// reads fixed offsets and never judges), so both inspection paths show the same fields.
fn describe_quote_body(q: &[u8]) -> Value {
    match enclave_attestation::ias::QuoteBody::parse(q) {
        Ok(body) => body.to_json(),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{CcParameters, HostParameters};
    use prost::Message;

    fn vectors() -> std::path::PathBuf {
        test_vectors::path("ias")
    }

    fn creds_with_evidence(evidence: Vec<u8>) -> String {
        let ad = AttestedData {
            cc_params: Some(CcParameters {
                chaincode_id: "cc".into(),
                version: "v".into(),
                sequence: 3,
                channel_id: "ch".into(),
            }),
            host_params: Some(HostParameters {
                peer_msp_id: "Org1MSP".into(),
                peer_endpoint: "peer0:7051".into(),
                certificate: b"-----BEGIN CERTIFICATE-----\n".to_vec(),
            }),
            enclave_vk: b"vk".to_vec(),
            chaincode_ek: vec![0, 1],
            ..Default::default()
        };
        let c = Credentials {
            serialized_attested_data: Some(prost_types::Any {
                type_url: "github.com/fpc/fpc.AttestedData".into(),
                value: ad.encode_to_vec(),
            }),
            attestation: br#"{"attestation_type":"simulated","attestation":"MA=="}"#.to_vec(),
            evidence,
        };
        STANDARD.encode(c.encode_to_vec())
    }

    #[test]
    fn describes_parameters_and_a_real_ias_vector() {
        let path = vectors().join("auditee-hashmachine/fpc_evidence.json");
        let evidence = test_vectors::read(&path);
        let v = inspect_credentials(&creds_with_evidence(evidence)).unwrap();
        assert_eq!(v["enclave_id"], credentials::enclave_id(b"vk"));
        assert_eq!(v["attested_data"]["cc_params"]["sequence"], 3);
        assert_eq!(
            v["attested_data"]["host_params"]["peer_endpoint"],
            "peer0:7051"
        );
        assert_eq!(v["attested_data"]["chaincode_ek_base64"], "AAE=");
        assert_eq!(v["attestation"]["attestation_type"], "simulated");
        // The attestation crate's description of the evidence.
        assert_eq!(v["evidence"]["attestation_type"], "epid-unlinkable");
        assert_eq!(
            v["evidence"]["ias"]["isvEnclaveQuoteStatus"],
            "GROUP_OUT_OF_DATE"
        );
        assert_eq!(
            v["evidence"]["quote"]["mrenclave"],
            "a5ea14ec7fa0036626867a3131260d5d9a70b67e7433c1cf6e567b84fa10a68d"
        );

        // The local decoder agrees on the same vector.
        let evidence = test_vectors::read(&path);
        let local = inspect_evidence(&evidence);
        let ias = &local["ias"];
        assert_eq!(local["attestation_type"], "epid-unlinkable");
        assert_eq!(ias["certificates_in_chain"], 2);
        assert_eq!(ias["signature_bytes"], 256);
        let report = &ias["report"];
        assert_eq!(report["isvEnclaveQuoteStatus"], "GROUP_OUT_OF_DATE");
        assert_eq!(report["timestamp"], "2021-12-10T07:53:35.290763");
        // Values the IAS vectors' README lists.
        assert_eq!(
            report["quote"]["mrenclave"],
            "a5ea14ec7fa0036626867a3131260d5d9a70b67e7433c1cf6e567b84fa10a68d"
        );
        assert_eq!(
            report["quote"]["mrsigner"],
            "bd71c6380ef77c5417e8b2d1ce2d4b6504b9f418e5049342440cfff2443d95bd"
        );
        assert_eq!(report["quote"]["debug"], true);
        assert_eq!(report["quote"]["sign_type"], 0);
    }

    #[test]
    fn production_vector_has_debug_false_and_prod_id() {
        let evidence =
            test_vectors::read(vectors().join("pdo-wawaka-attestation-test/fpc_evidence.json"));
        let v = inspect_evidence(&evidence);
        let q = &v["ias"]["report"]["quote"];
        assert_eq!(q["isv_prod_id"], 37095);
        assert_eq!(q["isv_svn"], 1);
        assert_eq!(q["sign_type"], 1);
        let prod =
            test_vectors::read(vectors().join("integritee-test8-production/fpc_evidence.json"));
        assert_eq!(
            inspect_evidence(&prod)["ias"]["report"]["quote"]["debug"],
            false
        );
    }

    #[test]
    fn garbage_is_described_not_fatal() {
        for evidence in [
            b"not json".to_vec(),
            br#"{"attestation_type":"epid-linkable","evidence":"{]"}"#.to_vec(),
            br#"{"attestation_type":"epid-linkable","evidence":"{\"iasReport\":\"{\\\"isvEnclaveQuoteBody\\\":\\\"AAAA\\\"}\"}"}"#.to_vec(),
            br#"{"attestation_type":5}"#.to_vec(),
            "[".repeat(10_000).into_bytes(),
        ] {
            let v = inspect_evidence(&evidence);
            assert!(v.is_object(), "{v}");
        }
        let v = inspect_evidence(
            br#"{"attestation_type":"epid-linkable","evidence":"{\"iasReport\":\"{\\\"isvEnclaveQuoteBody\\\":\\\"AAAA\\\"}\"}"}"#,
        );
        assert_eq!(
            v["ias"]["report"]["quote"]["error"],
            "isvEnclaveQuoteBody is 3 bytes, expected 432"
        );
        // Broken evidence inside valid credentials: the error plus the lenient decoding.
        let v = inspect_credentials(&creds_with_evidence(
            br#"{"attestation_type":"epid-linkable","evidence":"{]"}"#.to_vec(),
        ))
        .unwrap();
        assert_eq!(v["evidence"]["attestation_type"], "epid-linkable");
        assert!(v["evidence"]["error"].is_string(), "{v}");
        assert!(v["evidence"]["ias"]["error"].is_string(), "{v}");
        // Credentials that are not protobuf fail with the registry's text.
        assert_eq!(
            inspect_credentials("").unwrap_err().to_string(),
            "credential input empty"
        );
    }
}
