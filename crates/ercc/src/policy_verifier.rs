//! [`EvidenceVerifier`] backed by `enclave-attestation`: verification and appraisal under an
//! explicit [`Policy`] (from the `ERCC_*` environment or `ERCC_POLICY_FILE`), at the
//! transaction time. The one place where the registry meets the attestation crate; the
//! chaincode and `ercc verify` both get their verifier from [`verifier_from_env`].

use enclave_attestation::{Policy, UnixTime, VerificationRequest};

use crate::registry::EvidenceVerifier;

/// Why no verifier could be built (bad policy configuration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VerifierSetupError(pub String);

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

impl EvidenceVerifier for PolicyVerifier {
    fn verify(
        &self,
        evidence: &[u8],
        expected_mrenclave: &str,
        statement: &[u8],
        now_unix: i64,
    ) -> Result<(), String> {
        let request = VerificationRequest {
            evidence,
            expected_mrenclave,
            statement,
            now: UnixTime::from_secs(now_unix),
        };
        let started = crate::metrics::enabled().then(std::time::Instant::now);
        let result = enclave_attestation::verify(&self.policy, &request)
            .map(|_| ())
            .map_err(|e| e.to_string());
        if let Some(started) = started {
            crate::metrics::verification(evidence, result.is_ok(), started.elapsed());
        }
        result
    }
}

/// The verifier configured from the environment (`ERCC_POLICY_FILE`, `ERCC_ACCEPTED_EVIDENCE`,
/// ...), with the policy it applies (for the start log and `QueryActivePolicy`).
pub fn verifier_from_env() -> Result<(Box<dyn EvidenceVerifier>, Policy), VerifierSetupError> {
    let policy = Policy::from_env().map_err(|e| VerifierSetupError(e.to_string()))?;
    Ok((Box::new(PolicyVerifier::new(policy.clone())), policy))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::ledger::MemLedger;
    use crate::proto::{AttestedData, CcParameters, Credentials, HostParameters};
    use crate::registry::Registry;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use enclave_attestation::test_pki::{evidence_from_parts, ReportSpec, TestPki};
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
        let pki = TestPki::shared();
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
        Registry::new(PolicyVerifier::new(TestPki::shared().policy().unwrap()))
    }

    #[test]
    fn test_pki_evidence_registers_end_to_end() {
        let statement = attested();
        let spec = ReportSpec::new(MRENCLAVE, &statement, UnixTime::from_secs(NOW - 60));
        let text = credentials(signed_evidence(&spec), statement);
        let mut l = ledger();
        registry().register_enclave(&mut l, &text).unwrap();
        assert_eq!(l.state.len(), 2);
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
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/vectors/ias/powersoftau-sgx-old/fpc_evidence.json");
        let evidence = std::fs::read(path).expect("IAS vector present");
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
