//! The active policy: every setting that decides how the registry answers, as one value with a
//! canonical JSON form and its SHA-256. Endorsement requires every organisation's registry to
//! answer alike, so they must run the same policy; operators compare the digest (start log,
//! `QueryActivePolicy`) instead of discovering a mismatch through failing endorsements.
//!
//! It holds the attestation policy and the registry policy (enclaves per chaincode, expiry,
//! upgrade rules); every further policy setting joins this value, so the digest covers all.
//!
//! The query is its own contract, [`PolicyContract`] (`Policy:QueryActivePolicy`), so the
//! registry's `Contract` keeps exactly the Go registry's functions and metadata.

use enclave_attestation::Policy;

use crate::registry_policy::RegistryPolicy;
use fabric_chaincode::contract::{Contract, ReturnKind, ReturnValue, TransactionInfo};
use fabric_chaincode::{ChaincodeStub, Execution};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePolicy {
    /// How evidence is verified and appraised.
    pub attestation: Policy,
    /// How registrations are counted, expire and survive upgrades.
    pub registry: RegistryPolicy,
}

impl ActivePolicy {
    /// The settings as JSON with sorted keys.
    pub fn settings(&self) -> Value {
        // serde_json's map is ordered by key (no preserve_order feature), so the output is canonical.
        let registry = serde_json::to_value(&self.registry).unwrap_or(Value::Null);
        json!({ "attestation": self.attestation.settings_json(), "registry": registry })
    }

    /// The compact serialisation of [`ActivePolicy::settings`]: equal settings give equal bytes.
    pub fn canonical_json(&self) -> String {
        self.settings().to_string()
    }

    /// SHA-256 of [`ActivePolicy::canonical_json`], lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// What `QueryActivePolicy` returns: `{"policy": <settings>, "sha256": <digest>}`.
    pub fn describe(&self) -> String {
        json!({ "policy": self.settings(), "sha256": self.sha256_hex() }).to_string()
    }
}

/// Name of the contract serving [`ActivePolicy`].
pub const POLICY_CONTRACT_NAME: &str = "Policy";

/// `Policy:QueryActivePolicy` → [`ActivePolicy::describe`]. Reads nothing from the ledger.
pub struct PolicyContract {
    /// [`ActivePolicy::describe`] of the policy, built once: the policy never changes while
    /// the chaincode runs, so each query need not serialise and hash it again.
    answer: String,
    transactions: Vec<TransactionInfo>,
}

impl PolicyContract {
    /// The contract answering with `policy` (the one the registry applies).
    pub fn new(policy: ActivePolicy) -> Self {
        Self {
            answer: policy.describe(),
            transactions: vec![TransactionInfo::evaluate(
                "QueryActivePolicy",
                0,
                ReturnKind::String,
            )],
        }
    }
}

impl Contract for PolicyContract {
    fn name(&self) -> &str {
        POLICY_CONTRACT_NAME
    }

    fn transactions(&self) -> &[TransactionInfo] {
        &self.transactions
    }

    fn call(
        &self,
        _stub: &mut ChaincodeStub<'_>,
        _function: &str,
        _params: &[String],
    ) -> Result<ReturnValue, String> {
        // The runtime only calls declared functions, and there is one.
        Ok(ReturnValue::String(self.answer.clone()))
    }

    /// The answer is computed once, at start.
    fn execution(&self, _function: &str) -> Execution {
        Execution::Inline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_of_the_canonical_settings_and_changes_with_them() {
        let default = ActivePolicy {
            attestation: Policy::default(),
            registry: RegistryPolicy::default(),
        };
        let described: Value = serde_json::from_str(&default.describe()).unwrap();
        assert_eq!(described["policy"], default.settings());
        assert_eq!(described["sha256"], default.sha256_hex());
        assert_eq!(
            default.sha256_hex(),
            hex::encode(Sha256::digest(default.canonical_json()))
        );
        assert!(default
            .canonical_json()
            .starts_with("{\"attestation\":{\"accepted_evidence\""));
        let debug = ActivePolicy {
            attestation: Policy::from_vars(
                [("ERCC_ALLOW_DEBUG_ENCLAVES", "true")],
                &crate::policy_verifier::read_policy_file,
            )
            .unwrap(),
            registry: RegistryPolicy::default(),
        };
        assert_ne!(debug.sha256_hex(), default.sha256_hex());
        // Registry settings are covered too: two enclaves per chaincode is another policy.
        let two = ActivePolicy {
            attestation: Policy::default(),
            registry: RegistryPolicy::from_vars([("ERCC_MAX_ENCLAVES_PER_CHAINCODE", "2")])
                .unwrap(),
        };
        assert!(two
            .canonical_json()
            .contains("\"max_enclaves_per_chaincode\":2"));
        assert_ne!(two.sha256_hex(), default.sha256_hex());
        assert_eq!(default.clone().sha256_hex(), default.sha256_hex());
    }
}
