//! The registry as a fabric-contract-api contract on the `fabric-chaincode` runtime:
//! the Go registry's contract name, function names, parameter counts and return
//! encodings, and the [`RegistryLedger`] implementation over the runtime's stub.
//!
//! Dispatch rules (first-letter upper-casing, `Contract:` prefixes, argument-count
//! errors, `org.hyperledger.fabric:GetMetadata`) are the runtime's `ContractChaincode`.

use std::process::ExitCode;
use std::sync::Arc;

use fabric_chaincode::contract::{
    Contract, ContractChaincode, ReturnKind, ReturnValue, TransactionInfo,
};
use fabric_chaincode::{ChaincodeStub, Execution};
use fabric_protos::lifecycle::{QueryChaincodeDefinitionResult, LIFECYCLE_NAMESPACE};

use crate::active_policy::{ActivePolicy, PolicyContract};
use crate::ledger::{self, DefinitionError, LedgerError, RegistryLedger};
use crate::registry::{Registry, RegistryError};

/// The logger name of the registry's lines (`[ercc.contract]` in Fabric's format), which
/// operators select with `FABRIC_LOGGING_SPEC` (e.g. `ercc=debug`): the `ercc` crate's module
/// path, where this code lived before the registry became its own crate.
const LOG_TARGET: &str = "ercc::contract";

/// Name of the Go registry's contract (its struct type name, `registry.Contract`).
pub const CONTRACT_NAME: &str = "Contract";

/// The registry contract: every function of FPC's `ercc/registry`.
pub struct RegistryContract {
    registry: Registry,
    transactions: Vec<TransactionInfo>,
}

impl RegistryContract {
    /// The contract around `registry`. Functions are listed in Go's (alphabetical)
    /// method order and all tagged submit, as the Go registry declares no evaluate list.
    pub fn new(registry: Registry) -> Self {
        use ReturnKind::{Nothing, String, StringList};
        let transactions = [
            ("GetKeyExport", 2, String),
            ("MigrateRevocations", 0, String),
            ("PutKeyExport", 1, Nothing),
            ("QueryChaincodeEncryptionKey", 1, String),
            ("QueryChaincodeEndPoints", 1, String),
            ("QueryEnclaveCredentials", 2, String),
            ("QueryEnclaveStatus", 2, String),
            ("QueryListEnclaveCredentials", 1, StringList),
            ("QueryListProvisionedEnclaves", 1, StringList),
            ("ReappraiseEnclave", 3, String),
            ("RegisterCCKeys", 1, Nothing),
            ("RegisterEnclave", 1, Nothing),
            ("RetireEnclave", 2, Nothing),
        ]
        .into_iter()
        .map(|(name, params, returns)| TransactionInfo::submit(name, params, returns))
        .collect();
        Self {
            registry,
            transactions,
        }
    }

    fn dispatch(
        &self,
        ledger: &mut StubLedger<'_, '_>,
        function: &str,
        params: &[String],
    ) -> Result<Option<ReturnValue>, RegistryError> {
        let r = &self.registry;
        let p = |i: usize| params.get(i).map(String::as_str).unwrap_or_default();
        Ok(Some(match function {
            "GetKeyExport" => ReturnValue::String(r.get_key_export(ledger, p(0), p(1))?),
            "MigrateRevocations" => {
                let moved = r.migrate_revocations(ledger)?;
                tracing::info!(target: LOG_TARGET, %moved, "revocations migrated");
                ReturnValue::String(moved)
            }
            "PutKeyExport" => {
                r.put_key_export(ledger, p(0))?;
                tracing::info!(target: LOG_TARGET, channel = ledger.channel_id(), "key export stored");
                ReturnValue::Nothing
            }
            "QueryChaincodeEncryptionKey" => {
                ReturnValue::String(r.query_chaincode_encryption_key(ledger, p(0))?)
            }
            "QueryChaincodeEndPoints" => {
                ReturnValue::String(r.query_chaincode_end_points(ledger, p(0))?)
            }
            "QueryEnclaveCredentials" => {
                ReturnValue::String(r.query_enclave_credentials(ledger, p(0), p(1))?)
            }
            "QueryEnclaveStatus" => {
                ReturnValue::String(r.query_enclave_status(ledger, p(0), p(1))?)
            }
            "QueryListEnclaveCredentials" => {
                ReturnValue::StringList(r.query_list_enclave_credentials(ledger, p(0))?)
            }
            "QueryListProvisionedEnclaves" => {
                ReturnValue::StringList(r.query_list_provisioned_enclaves(ledger, p(0))?)
            }
            "ReappraiseEnclave" => {
                let record = r.reappraise_enclave(ledger, p(0), p(1), p(2))?;
                tracing::info!(target: LOG_TARGET, cc = p(0), enclave = p(1), %record, "enclave re-appraised");
                ReturnValue::String(record)
            }
            "RetireEnclave" => {
                r.retire_enclave(ledger, p(0), p(1))?;
                tracing::info!(target: LOG_TARGET, cc = p(0), enclave = p(1), "enclave retired");
                ReturnValue::Nothing
            }
            "RegisterCCKeys" => {
                r.register_cc_keys(ledger, p(0))?;
                tracing::info!(target: LOG_TARGET, channel = ledger.channel_id(), "chaincode keys registered");
                ReturnValue::Nothing
            }
            "RegisterEnclave" => {
                let result = r.register_enclave(ledger, p(0));
                crate::metrics::registration(p(0), &result);
                result?;
                tracing::info!(target: LOG_TARGET, channel = ledger.channel_id(), "enclave registered");
                ReturnValue::Nothing
            }
            // The runtime only calls names from `transactions()`.
            _ => return Ok(None),
        }))
    }
}

impl Contract for RegistryContract {
    fn name(&self) -> &str {
        CONTRACT_NAME
    }

    fn transactions(&self) -> &[TransactionInfo] {
        &self.transactions
    }

    fn before_transaction(
        &self,
        stub: &mut ChaincodeStub<'_>,
        function: &str,
    ) -> Result<(), String> {
        tracing::debug!(target: LOG_TARGET, function, tx_id = stub.tx_id(), "Invoke");
        Ok(())
    }

    fn call(
        &self,
        stub: &mut ChaincodeStub<'_>,
        function: &str,
        params: &[String],
    ) -> Result<ReturnValue, String> {
        let mut ledger = StubLedger { stub };
        match self.dispatch(&mut ledger, function, params) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(format!(
                "Function {function} not found in contract {CONTRACT_NAME}"
            )),
            Err(e) => {
                tracing::info!(target: LOG_TARGET, function, error = %e, "rejected");
                Err(e.to_string())
            }
        }
    }
    /// The queries run inline: they read a few keys and encode what they read, verifying no
    /// evidence or signature, and FPC's hot path (`queryEnclaveCredentials` from every
    /// `__endorse`) is one. What verifies attestations or signatures runs on a thread, so a
    /// registration never holds up the queries of any stream.
    fn execution(&self, function: &str) -> Execution {
        match function {
            "GetKeyExport"
            | "QueryChaincodeEncryptionKey"
            | "QueryChaincodeEndPoints"
            | "QueryEnclaveCredentials"
            | "QueryEnclaveStatus"
            | "QueryListEnclaveCredentials"
            | "QueryListProvisionedEnclaves" => Execution::Inline,
            _ => Execution::Thread,
        }
    }
}

/// [`RegistryLedger`] over the runtime's stub for one transaction.
pub struct StubLedger<'a, 'y> {
    /// The transaction's stub.
    pub stub: &'a mut ChaincodeStub<'y>,
}

impl RegistryLedger for StubLedger<'_, '_> {
    fn channel_id(&self) -> &str {
        self.stub.channel_id()
    }

    fn tx_timestamp_unix(&self) -> Option<i64> {
        self.stub.tx_timestamp().map(|t| t.seconds)
    }

    fn creator_msp_id(&self) -> Option<&str> {
        self.stub.creator().map(|c| c.mspid.as_str())
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        self.stub.get_state(key).map_err(LedgerError::from)
    }

    fn get_states(&mut self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, LedgerError> {
        self.stub
            .get_multiple_states(keys)
            .map_err(LedgerError::from)
    }

    fn reads_keys_together(&self) -> bool {
        self.stub.reads_keys_together()
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LedgerError> {
        self.stub.put_state(key, value).map_err(LedgerError::from)
    }

    fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attrs: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, LedgerError> {
        self.stub
            .get_state_by_partial_composite_key(object_type, attrs)
            .map_err(LedgerError::from)?
            .map(|kv| kv.map(|kv| (kv.key, kv.value)).map_err(LedgerError::from))
            .collect()
    }

    fn query_chaincode_definition(
        &mut self,
        chaincode_id: &str,
    ) -> Result<QueryChaincodeDefinitionResult, DefinitionError> {
        // FPC passes its own channel explicitly ("_lifecycle/<channel>").
        let channel = self.stub.channel_id().to_owned();
        let response = self.stub.invoke_chaincode(
            LIFECYCLE_NAMESPACE,
            &ledger::query_chaincode_definition_args(chaincode_id),
            &channel,
        );
        ledger::chaincode_definition_from_response(chaincode_id, &response)
    }
}

/// Runs the registry chaincode (mode from the environment): logging from
/// `FABRIC_LOGGING_SPEC`, the verifier, its policy and the registry policy from the
/// `ERCC_*` variables.
pub fn run_chaincode() -> ExitCode {
    fabric_chaincode::logging::init();
    if let Err(e) = fabric_chaincode::operations::enable_from_env() {
        tracing::error!(target: LOG_TARGET, "cannot configure the operations endpoint: {e}");
        return ExitCode::FAILURE;
    }
    crate::metrics::register();
    let (verifier, policy) = match crate::policy_verifier::verifier_from_env() {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(target: LOG_TARGET, error = %e, "cannot configure evidence verification");
            return ExitCode::FAILURE;
        }
    };
    let registry_policy = match crate::registry_policy::RegistryPolicy::from_env() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(target: LOG_TARGET, error = %e, "cannot configure the registry policy");
            return ExitCode::FAILURE;
        }
    };
    let active = ActivePolicy {
        attestation: policy,
        registry: registry_policy.clone(),
    };
    // Organisations compare this digest: different policies mean endorsement mismatches.
    tracing::info!(
        target: LOG_TARGET,
        policy = %active.attestation,
        %registry_policy,
        policy_sha256 = %active.sha256_hex(),
        "ercc starting; attestation and registry policy"
    );
    let contract = RegistryContract::new(Registry::new(verifier).with_policy(registry_policy));
    // The registry's contract stays exactly the Go one; the policy query is its own contract.
    let policy = PolicyContract::new(active);
    let chaincode = ContractChaincode::new(vec![Arc::new(contract), Arc::new(policy)]);
    fabric_chaincode::start(Arc::new(chaincode))
}
