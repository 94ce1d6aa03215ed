//! [`CredentialsVerifier`] backed by `enclave-attestation`: verification and appraisal under an
//! explicit [`Policy`] (from the `ERCC_*` environment or `ERCC_POLICY_FILE`), at the
//! transaction time. The one place where the registry meets the attestation crate; the
//! chaincode and `ercc verify` both get their verifier from [`verifier_from_env`].

use enclave_attestation::dcap::TcbInfoVersion;
use enclave_attestation::{
    Claims, Policy, PolicyError, ReappraisalRequest, UnixTime, VerificationRequest,
};

use crate::lifecycle::{Judgement, ReappraisalInput, Rejudgement, TcbInfoRecord};
use crate::registry::{CredentialsVerifier, VerifierError};

/// Why no verifier could be built (bad policy configuration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct VerifierSetupError(#[from] pub PolicyError);

/// Verifies evidence with `enclave_attestation::verify` under one policy.
#[derive(Debug, Clone)]
pub struct PolicyVerifier {
    policy: Policy,
}

impl PolicyVerifier {
    /// A verifier applying `policy`.
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }

    /// The policy it applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

impl CredentialsVerifier for PolicyVerifier {
    fn verify(
        &self,
        evidence: &[u8],
        expected_mrenclave: &str,
        statement: &[u8],
        now_unix: i64,
    ) -> Result<Judgement, VerifierError> {
        let request = VerificationRequest {
            evidence,
            expected_mrenclave,
            statement,
            now: UnixTime::from_secs(now_unix),
        };
        let started = crate::metrics::enabled().then(std::time::Instant::now);
        let result = enclave_attestation::verify(&self.policy, &request)
            .map(|v| judgement(v.claims()))
            .map_err(VerifierError::from);
        if let Some(started) = started {
            crate::metrics::verification(evidence, result.is_ok(), started.elapsed());
        }
        result
    }

    fn reappraise(&self, input: &ReappraisalInput<'_>) -> Result<Rejudgement, VerifierError> {
        let request = ReappraisalRequest {
            evidence: input.evidence,
            expected_mrenclave: input.expected_mrenclave,
            statement: input.statement,
            applied: tcb_info_version(input.applied)?,
            collateral: input.collateral,
            now: UnixTime::from_secs(input.now_unix),
        };
        let r = enclave_attestation::reappraise(&self.policy, &request)?;
        Ok(Rejudgement {
            tcb_info: tcb_info_record(&r.tcb_info),
            status: r.claims.as_ref().and_then(|c| c.status.clone()),
            advisory_ids: r.claims.map(|c| c.advisory_ids).unwrap_or_default(),
            rejected: r.verdict.err().map(|e| e.to_string()),
        })
    }
}

/// What the registry records of verified claims.
fn judgement(c: &Claims) -> Judgement {
    Judgement {
        evidence_type: c.evidence_type.to_string(),
        status: c.status.clone(),
        advisory_ids: c.advisory_ids.clone(),
        issued_at: c.issued_at.map(UnixTime::as_secs),
        tcb_info: c.tcb_info.as_ref().map(tcb_info_record),
    }
}

fn tcb_info_record(t: &TcbInfoVersion) -> TcbInfoRecord {
    TcbInfoRecord {
        fmspc: hex::encode_upper(t.fmspc),
        issue_date: t.issue_date,
        evaluation_data_number: t.evaluation_data_number,
    }
}

fn tcb_info_version(t: &TcbInfoRecord) -> Result<TcbInfoVersion, VerifierError> {
    let mut fmspc = [0u8; 6];
    hex::decode_to_slice(&t.fmspc, &mut fmspc)
        .map_err(|_| VerifierError::RecordedFmspc(t.fmspc.clone()))?;
    Ok(TcbInfoVersion {
        fmspc,
        issue_date: t.issue_date,
        evaluation_data_number: t.evaluation_data_number,
    })
}

/// The verifier configured from the environment (`ERCC_POLICY_FILE`, `ERCC_ACCEPTED_EVIDENCE`,
/// ...), with the policy it applies (for the start log and `QueryActivePolicy`).
pub fn verifier_from_env() -> Result<(Box<dyn CredentialsVerifier>, Policy), VerifierSetupError> {
    // The registry's own settings share the `ERCC_*` namespace and the policy file.
    let shared = crate::registry_policy::REGISTRY_POLICY_ENV_VARS;
    let policy = Policy::from_vars_sharing(std::env::vars_os(), shared, &read_policy_file)
        .map_err(VerifierSetupError)?;
    Ok((Box::new(PolicyVerifier::new(policy.clone())), policy))
}

/// Reads a file the policy names, refusing one larger than `max` bytes before reading it whole.
pub(crate) fn read_policy_file(path: &std::path::Path, max: usize) -> Result<Vec<u8>, String> {
    let limit = u64::try_from(max).unwrap_or(u64::MAX);
    fabric_formats::file::read_bounded(path, limit).map_err(|e| match e {
        fabric_formats::file::ReadError::TooLarge { limit, .. } => {
            format!("larger than the limit of {limit} bytes")
        }
        other => other.reason(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::MemLedger;
    use crate::proto::{AttestedData, CcParameters, Credentials, HostParameters};
    use crate::registry::Registry;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use enclave_attestation::test_pki::{evidence_from_parts, IasTestPki, ReportSpec};
    use prost::Message;

    const NOW: i64 = 1_750_000_000;
    const MRENCLAVE: [u8; 32] = [0x42; 32];

    fn attested() -> Vec<u8> {
        AttestedData {
            cc_params: Some(CcParameters {
                chaincode_id: "mycc".into(),
                version: hex::encode(MRENCLAVE),
                sequence: 1,
                channel_id: "mychannel".into(),
            }),
            host_params: Some(HostParameters {
                peer_msp_id: "Org1MSP".into(),
                peer_endpoint: "peer0:7051".into(),
                certificate: vec![],
            }),
            enclave_vk: b"-----BEGIN PUBLIC KEY-----\n".to_vec(),
            chaincode_ek: b"ek".to_vec(),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn credentials(evidence: Vec<u8>, statement: Vec<u8>) -> String {
        let c = Credentials {
            serialized_attested_data: Some(prost_types::Any {
                type_url: crate::proto::ATTESTED_DATA_TYPE_URL.into(),
                value: statement,
            }),
            attestation: vec![],
            evidence,
        };
        STANDARD.encode(c.encode_to_vec())
    }

    fn signed_evidence(spec: &ReportSpec) -> Vec<u8> {
        let pki = IasTestPki::shared();
        let report = spec.report_json();
        let signature = pki.sign(report.as_bytes()).unwrap();
        evidence_from_parts(spec.evidence_type(), &report, &signature, &pki.chain_pem())
    }

    fn ledger() -> MemLedger {
        let mut l = MemLedger::new("mychannel", NOW, "Org1MSP");
        l.define_chaincode("mycc", &hex::encode(MRENCLAVE), 1);
        l
    }

    fn registry() -> Registry {
        Registry::new(PolicyVerifier::new(IasTestPki::shared().policy().unwrap()))
    }

    #[test]
    fn test_pki_evidence_registers_end_to_end() {
        let statement = attested();
        let spec = ReportSpec::new(MRENCLAVE, &statement, UnixTime::from_secs(NOW - 60));
        let text = credentials(signed_evidence(&spec), statement);
        let mut l = ledger();
        registry().register_enclave(&mut l, &text).unwrap();
        assert_eq!(l.state.len(), 3);
        // The record keeps what was judged: the IAS report's time is the attestation time.
        let key = crate::keys::appraisal_key(
            "mycc",
            &crate::credentials::enclave_id(b"-----BEGIN PUBLIC KEY-----\n"),
        )
        .unwrap();
        let record: serde_json::Value = serde_json::from_slice(&l.state[&key]).unwrap();
        assert_eq!(record["evidence_type"], spec.evidence_type());
        assert_eq!(record["status"], "OK");
        assert_eq!(record["attested_at"], NOW - 60);
        assert_eq!(record["registered_at"], NOW);
    }

    /// Real DCAP verification in the registry: test PKI evidence registers, a newer TCB info
    /// marking its platform OutOfDate revokes it, older collateral is refused unwritten.
    #[test]
    fn dcap_enclave_is_revoked_by_newer_tcb_info() {
        use enclave_attestation::dcap::test_pki::{DcapTestPki as DcapPki, TestTcb};
        const ISSUED: i64 = 1_790_000_000;
        let pki = DcapPki::new("ercc lifecycle", ISSUED).unwrap();
        let mut policy = Policy::default();
        policy.dcap.root_ca =
            enclave_attestation::RootCa::from_pem(pki.root_ca_pem().as_bytes(), "test root")
                .unwrap();
        policy
            .accepted_evidence
            .insert(enclave_attestation::EvidenceType::Dcap);
        let registry = Registry::new(PolicyVerifier::new(policy));
        let statement = attested();
        let text = credentials(pki.fpc_evidence(MRENCLAVE, &statement).unwrap(), statement);
        let mut l = ledger();
        l.tx_timestamp = Some(ISSUED + 3600);
        registry.register_enclave(&mut l, &text).unwrap();
        let eid = crate::credentials::enclave_id(b"-----BEGIN PUBLIC KEY-----\n");

        l.tx_timestamp = Some(ISSUED + 5 * 86_400);
        let (before, puts) = (l.state.clone(), l.puts);
        let e = registry
            .reappraise_enclave(&mut l, "mycc", &eid, &pki.collateral().unwrap().to_json())
            .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "re-appraisal refused: collateral is not newer than the TCB info already applied: "
            ),
            "{e}"
        );
        assert_eq!((l.state.clone(), l.puts), (before, puts));

        let newer = pki
            .reevaluated_collateral(ISSUED + 4 * 86_400, 18, TestTcb::UpToDate, "OutOfDate")
            .unwrap();
        let record: serde_json::Value = serde_json::from_str(
            &registry
                .reappraise_enclave(&mut l, "mycc", &eid, &newer.to_json())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(record["status"], "OutOfDate");
        assert_eq!(record["tcb_info"]["fmspc"], "00906ED50000");
        assert_eq!(record["tcb_info"]["evaluation_data_number"], 18);
        assert_eq!(
            record["revoked"]["reason"],
            "TCB status OutOfDate not accepted"
        );
        assert_eq!(
            registry
                .query_list_enclave_credentials(&mut l, "mycc")
                .unwrap(),
            None
        );
    }

    #[test]
    fn evidence_bound_to_another_statement_is_refused() {
        let spec = ReportSpec::new(MRENCLAVE, b"something else", UnixTime::from_secs(NOW - 60));
        let text = credentials(signed_evidence(&spec), attested());
        let mut l = ledger();
        let e = registry().register_enclave(&mut l, &text).unwrap_err();
        assert!(
            e.to_string().starts_with("evidence verification failed: "),
            "{e}"
        );
        assert_eq!(l.puts, 0);
    }

    #[test]
    fn default_policy_refuses_debug_and_real_intel_vectors() {
        let statement = attested();
        let mut spec = ReportSpec::new(MRENCLAVE, &statement, UnixTime::from_secs(NOW - 60));
        spec.debug = true;
        let text = credentials(signed_evidence(&spec), statement.clone());
        let mut l = ledger();
        let e = registry().register_enclave(&mut l, &text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "evidence verification failed: debug enclave not allowed"
        );

        // A real IAS report (Intel root, default policy, status OK, production enclave),
        // judged at its own time: authentic, but its MRENCLAVE is not the definition's.
        let path = test_vectors::path("ias/powersoftau-sgx-old/fpc_evidence.json");
        let evidence = test_vectors::read(path);
        let registry = Registry::new(PolicyVerifier::new(Policy::default()));
        l.tx_timestamp = Some(1_574_788_567 + 60); // 2019-11-26T17:16:07Z + 1 min
        let text = credentials(evidence, statement);
        let e = registry.register_enclave(&mut l, &text).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("evidence verification failed: MRENCLAVE mismatch"),
            "{e}"
        );
        // Today the same report is far too old.
        l.tx_timestamp = Some(NOW);
        let e = registry.register_enclave(&mut l, &text).unwrap_err();
        assert!(e.to_string().contains("old"), "{e}");
        assert_eq!(l.puts, 0);
    }
}
