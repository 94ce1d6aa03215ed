//! The registry functions of FPC's enclave registry, with the Go registry's argument
//! and return encodings, ledger layout, check order and error texts.
//!
//! Each function takes the transaction's [`RegistryLedger`]; `registerEnclave` also goes
//! through an [`CredentialsVerifier`], so the attestation policy stays outside this crate's
//! logic and tests can use a fake. Nothing is written unless every check passed.

use base64::Engine;
use fabric_protos::lifecycle::QueryChaincodeDefinitionResult;

use crate::credentials::{self, AttestedDataError, CredentialsError};
use crate::keydist::{KeyMessageError, SignatureError};
use crate::keys;
use crate::ledger::{DefinitionError, LedgerError, RegistryLedger};
use crate::lifecycle::{Judgement, LifecycleError, ReappraisalInput, Rejudgement};
use crate::proto::{AttestedData, CcParameters, Credentials, HostParameters};
use crate::registry_policy::RegistryPolicy;

/// Checks attestation evidence. The registry calls it once per `registerEnclave`, after
/// the chaincode-definition checks and before anything is written, and once per
/// `reappraiseEnclave`.
pub trait CredentialsVerifier: Send + Sync {
    /// Accepts `evidence` (the `Credentials.evidence` JSON) only if it proves an enclave
    /// with MRENCLAVE `expected_mrenclave` (hex, the chaincode definition's version)
    /// bound `statement` (the attested data's `Any.value` bytes), judged at `now_unix`
    /// (the transaction timestamp, never the wall clock), and says what it judged (the
    /// registry records it). The error is the reason shown after `evidence verification failed: `.
    fn verify(
        &self,
        evidence: &[u8],
        expected_mrenclave: &str,
        statement: &[u8],
        now_unix: i64,
    ) -> Result<Judgement, VerifierError>;

    /// Re-judges a registered enclave's stored evidence with newer `collateral` for its
    /// platform (see [`crate::lifecycle`]). `Err` refuses the collateral (nothing is
    /// recorded); `Ok` carries the new verdict, favourable or not.
    fn reappraise(&self, request: &ReappraisalInput<'_>) -> Result<Rejudgement, VerifierError> {
        let _ = request;
        Err(VerifierError::CannotReappraise)
    }
}

/// Why evidence (or collateral for a re-appraisal) was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// The attestation verifier's verdict, with its reason.
    #[error(transparent)]
    Attestation(#[from] enclave_attestation::VerifyError),
    /// The transaction carries no timestamp, so there is no time to verify at.
    #[error("the transaction has no timestamp")]
    NoTimestamp,
    /// The verifier does not re-appraise enclaves.
    #[error("this registry's verifier cannot re-appraise enclaves")]
    CannotReappraise,
    /// The registration's appraisal record names an FMSPC that is not 6 bytes of hex.
    #[error("recorded FMSPC {0:?} is not 6 bytes of hex")]
    RecordedFmspc(String),
    /// A verifier other than the attestation crate's (tests, fuzzing) refused, for this reason.
    #[error("{0}")]
    Refused(String),
}

/// Why the proposal's creator may not act for the enclave's organisation, in the Go
/// registry's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CreatorError {
    /// The creator belongs to another organisation than the enclave's host.
    #[error("creator msp does not match owner msp")]
    MspMismatch,
    /// The proposal carries no creator identity.
    #[error("the proposal has no creator identity")]
    NoCreator,
}

impl<T: CredentialsVerifier + ?Sized> CredentialsVerifier for Box<T> {
    fn verify(
        &self,
        evidence: &[u8],
        expected_mrenclave: &str,
        statement: &[u8],
        now_unix: i64,
    ) -> Result<Judgement, VerifierError> {
        (**self).verify(evidence, expected_mrenclave, statement, now_unix)
    }

    fn reappraise(&self, request: &ReappraisalInput<'_>) -> Result<Rejudgement, VerifierError> {
        (**self).reappraise(request)
    }
}

/// Why a registry function failed. `Display` is the text the client receives (the Go
/// registry's text wherever it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// `registerEnclave` step 1: the argument is not base64 `fpc.Credentials`.
    #[error("invalid credential bytes: {0}")]
    InvalidCredentials(CredentialsError),
    /// Step 2: the credentials carry no evidence.
    #[error("evidence is empty")]
    EvidenceEmpty,
    /// Step 3: the attested data is absent or not an `fpc.AttestedData`.
    #[error("invalid attested data message: {0}")]
    AttestedData(AttestedDataError),
    /// The attested data has no `cc_params` (Go dereferences nil here and crashes).
    #[error("cc params are empty")]
    CcParamsEmpty,
    /// Step 4: the attested channel is not the transaction's.
    #[error("wrong channel! expected={expected}, actual={actual}")]
    WrongChannel {
        /// The transaction's channel.
        expected: String,
        /// The attested channel.
        actual: String,
    },
    /// Step 5: `_lifecycle` gave no chaincode definition.
    #[error("cannot get chaincode definition: {0}")]
    ChaincodeDefinition(DefinitionError),
    /// Step 6: the attested MRENCLAVE is not the definition's version.
    #[error("mrenclave does not match chaincode definition")]
    MrenclaveMismatch,
    /// Step 7: the attested sequence is not the definition's.
    #[error("sequence does not match chaincode definition")]
    SequenceMismatch,
    /// Step 8: the verifier refused the evidence.
    #[error("evidence verification failed: {0}")]
    EvidenceVerification(VerifierError),
    /// Step 9: the attested data has no `host_params`.
    #[error("host params are empty")]
    HostParamsEmpty,
    /// Step 10: the creator may not register for the enclave's organisation.
    #[error("creator identity evaluation failed: {0}")]
    CreatorIdentity(CreatorError),
    /// Step 12: writing the credentials failed.
    #[error("cannot store credentials: {0}")]
    StoreCredentials(LedgerError),
    /// Step 12: writing the provisioned marker failed.
    #[error("cannot store provisionedKey: {0}")]
    StoreProvisioned(LedgerError),
    /// Step 11 (single-enclave mode): the chaincode has its enclave (the chaincode id).
    #[error("an enclave is already registered for chaincode {0}")]
    AlreadyRegistered(String),
    /// Go fails here with its iterator's cryptic "no such key".
    #[error("no enclave registered for chaincode {0}")]
    NoEnclave(String),
    /// Several-enclave mode: the registry policy's limit is reached.
    #[error("chaincode {cc_id} already has {max} enclaves registered, the registry policy allows at most {max}")]
    TooManyEnclaves {
        /// The chaincode.
        cc_id: String,
        /// The registry policy's limit.
        max: u32,
    },
    /// Several-enclave mode: one enclave per organisation and chaincode.
    #[error("organisation {msp_id} already has an enclave registered for chaincode {cc_id}")]
    OrganisationHasEnclave {
        /// The chaincode.
        cc_id: String,
        /// The organisation.
        msp_id: String,
    },
    /// The `registerCCKeys` argument is not a valid `SignedCCKeyRegistrationMessage`.
    #[error("invalid key registration message: {0}")]
    InvalidKeyRegistration(KeyMessageError),
    /// The `putKeyExport` argument is not a valid `SignedExportMessage`.
    #[error("invalid export message: {0}")]
    InvalidExport(KeyMessageError),
    /// No registered credentials carry this enclave id (`role` is `enclave`, `sender enclave`, ...).
    #[error("{role} {enclave_id} is not registered")]
    EnclaveNotRegistered {
        /// Which enclave of the message (`enclave`, `sender enclave`, ...).
        role: &'static str,
        /// The enclave's id.
        enclave_id: String,
    },
    /// The export's receiver has no credentials for the chaincode.
    #[error("receiver enclave {enclave_id} is not registered for chaincode {cc_id}")]
    ReceiverNotRegistered {
        /// The chaincode.
        cc_id: String,
        /// The enclave's id.
        enclave_id: String,
    },
    /// The message's `cc_params_hash` is not that of the enclave's attested parameters.
    #[error("cc_params_hash does not match the registration of enclave {0}")]
    CcParamsHashMismatch(String),
    /// The message is not signed by the registered enclave.
    #[error("invalid signature of enclave {enclave_id}: {reason}")]
    BadSignature {
        /// The enclave's id.
        enclave_id: String,
        /// The signature's or the ledger's error.
        reason: SignatureError,
    },
    /// The enclave's attested MRENCLAVE is not the chaincode definition's version any more.
    #[error("enclave {enclave_id} cannot endorse chaincode {cc_id}: its mrenclave does not match the chaincode definition")]
    CannotEndorse {
        /// The chaincode.
        cc_id: String,
        /// The enclave's id.
        enclave_id: String,
    },
    /// `registerCCKeys` from an enclave that holds the chaincode keys already.
    #[error("enclave {enclave_id} is already provisioned for chaincode {cc_id}")]
    AlreadyProvisioned {
        /// The chaincode.
        cc_id: String,
        /// The enclave's id.
        enclave_id: String,
    },
    /// `registerCCKeys` with another key than the chaincode's registered one (the chaincode id).
    #[error("chaincode_ek differs from the chaincode encryption key registered for chaincode {0}")]
    ChaincodeEkMismatch(String),
    /// `registerCCKeys` for a chaincode with keys, without an export to import.
    #[error("chaincode {cc_id} already has keys and no export to enclave {enclave_id} is stored")]
    NoExportToImport {
        /// The chaincode.
        cc_id: String,
        /// The enclave's id.
        enclave_id: String,
    },
    /// An export from an enclave to itself (the enclave id).
    #[error("sender and receiver are the same enclave {0}")]
    ExportToSelf(String),
    /// The sender of an export holds no chaincode keys.
    #[error(
        "sender enclave {enclave_id} is not provisioned with chaincode keys for chaincode {cc_id}"
    )]
    SenderNotProvisioned {
        /// The chaincode.
        cc_id: String,
        /// The enclave's id.
        enclave_id: String,
    },
    /// The export's `chaincode_ek` is not the sender's registered key (the sender's id).
    #[error("the export's chaincode_ek is not the key sender enclave {0} registered")]
    SenderKeyMismatch(String),
    /// The receiver attested no `enclave_ek` (the receiver's id).
    #[error("receiver enclave {0} has no attested enclave_ek to encrypt an export to")]
    ReceiverHasNoEk(String),
    /// An export to the receiver is stored already.
    #[error("an export to enclave {enclave_id} of chaincode {cc_id} is already stored")]
    ExportExists {
        /// The chaincode.
        cc_id: String,
        /// The enclave's id.
        enclave_id: String,
    },
    /// `getKeyExport` found no export for the enclave.
    #[error("no key export stored for enclave {enclave_id} of chaincode {cc_id}")]
    NoKeyExport {
        /// The chaincode.
        cc_id: String,
        /// The enclave's id.
        enclave_id: String,
    },
    /// A write failed.
    #[error("cannot store {what}: {reason}")]
    Store {
        /// What was being written.
        what: &'static str,
        /// The signature's or the ledger's error.
        reason: LedgerError,
    },
    /// Registry state that this or the Go registry could not have written.
    #[error("corrupt registry state: {0}")]
    CorruptState(String),
    /// A ledger call failed (its text unchanged, as the Go registry returns shim errors).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A lifecycle rule refused the call.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
}

impl From<keys::KeyError> for RegistryError {
    fn from(e: keys::KeyError) -> Self {
        Self::Ledger(e.into())
    }
}

/// Credentials that passed every check that does not depend on the ledger's contents.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedCredentials {
    /// The decoded credentials.
    pub credentials: Credentials,
    /// Their decoded attested data.
    pub attested_data: AttestedData,
    /// The attested host parameters (present: check 9).
    pub host_params: HostParameters,
    /// Upper-case hex SHA-256 of `attested_data.enclave_vk`.
    pub enclave_id: String,
    /// What the verifier judged about the evidence.
    pub judgement: Judgement,
}

/// The enclave registry contract logic.
pub struct Registry {
    verifier: Box<dyn CredentialsVerifier>,
    policy: RegistryPolicy,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry that checks evidence with `verifier`, under the default (FPC) registry policy.
    pub fn new(verifier: impl CredentialsVerifier + 'static) -> Self {
        Self {
            verifier: Box::new(verifier),
            policy: RegistryPolicy::default(),
        }
    }

    /// The same registry under `policy`.
    pub fn with_policy(mut self, policy: RegistryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The registry policy it applies.
    pub fn policy(&self) -> &RegistryPolicy {
        &self.policy
    }

    pub(crate) fn verifier(&self) -> &dyn CredentialsVerifier {
        self.verifier.as_ref()
    }

    /// `queryListEnclaveCredentials(ccId)`: the stored base64 `Credentials` of every
    /// current enclave (see [`crate::lifecycle`]) in key order; `None` (an empty payload, Go's nil
    /// slice) when there are none.
    pub fn query_list_enclave_credentials<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
    ) -> Result<Option<Vec<String>>, RegistryError> {
        Ok(non_empty(
            self.current_registrations(ledger, cc_id)?
                .into_iter()
                .map(|r| stored_text(r.value))
                .collect(),
        ))
    }

    /// `queryEnclaveCredentials(ccId, enclaveId)`: the stored base64 text, empty when absent
    /// or revoked. Expired and superseded enclaves are still found, so endorsements they made
    /// can be judged.
    ///
    /// FPC's hot path (every endorsement asks it) reads one key, as the Go registry does: a
    /// revocation moves the credentials out of it (see [`crate::lifecycle`]), so the key alone
    /// is the answer, in one round trip on every peer, with Go's read set.
    pub fn query_enclave_credentials<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        enclave_id: &str,
    ) -> Result<String, RegistryError> {
        let key = keys::credentials_key(cc_id, enclave_id)?;
        Ok(ledger.get_state(&key)?.map(stored_text).unwrap_or_default())
    }

    /// `queryListProvisionedEnclaves(ccId)`: the ids of the current enclaves (in credentials
    /// key order) that also have a provisioned marker; `None` (empty payload) when there are
    /// none.
    pub fn query_list_provisioned_enclaves<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
    ) -> Result<Option<Vec<String>>, RegistryError> {
        let current = self.current_registrations(ledger, cc_id)?;
        let mut ids = Vec::with_capacity(current.len());
        let mut markers = Vec::with_capacity(current.len());
        for r in &current {
            let enclave_id = r.enclave_id()?;
            markers.push(keys::provisioned_key(cc_id, enclave_id)?);
            ids.push(enclave_id.to_owned());
        }
        // The same reads, in the same order, as one GET_STATE each; one round trip on a peer
        // that reads keys together.
        let keys: Vec<&str> = markers.iter().map(String::as_str).collect();
        let found = ledger.get_states(&keys)?;
        let provisioned = ids
            .into_iter()
            .zip(found)
            .filter_map(|(id, marker)| marker.map(|_| id))
            .collect();
        Ok(non_empty(provisioned))
    }

    /// `queryChaincodeEndPoints(ccId)`: `host_params.peer_endpoint` of every current
    /// enclave, joined with `,` (empty when there are none).
    pub fn query_chaincode_end_points<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
    ) -> Result<String, RegistryError> {
        let current = self.current_registrations(ledger, cc_id)?;
        let mut endpoints = Vec::with_capacity(current.len());
        for r in &current {
            let host = r.attested()?.host_params.as_ref();
            endpoints.push(host.map_or("", |h| h.peer_endpoint.as_str()));
        }
        Ok(endpoints.join(","))
    }

    /// `queryChaincodeEncryptionKey(ccId)`: base64 of the key `registerCCKeys` registered
    /// for the chaincode; before that (and for state written by the Go registry) base64 of
    /// the attested `chaincode_ek` of the first current enclave (in key order), as Go.
    pub fn query_chaincode_encryption_key<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
    ) -> Result<String, RegistryError> {
        if let Some(ek) = ledger.get_state(&keys::chaincode_ek_key(cc_id)?)? {
            return Ok(base64::engine::general_purpose::STANDARD.encode(ek));
        }
        let current = self.current_registrations(ledger, cc_id)?;
        let first = current
            .first()
            .ok_or_else(|| RegistryError::NoEnclave(cc_id.to_owned()))?;
        let attested = first.attested()?;
        Ok(base64::engine::general_purpose::STANDARD.encode(&attested.chaincode_ek))
    }

    /// `registerEnclave(credentialsBase64)`: the Go registry's checks in its order, then
    /// the credentials (exactly as submitted) and the provisioned marker are written.
    /// On any failure nothing is written.
    pub fn register_enclave<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        credentials_base64: &str,
    ) -> Result<(), RegistryError> {
        let channel = ledger.channel_id().to_owned();
        let now = ledger.tx_timestamp_unix();
        let checked = self.check_credentials(credentials_base64, &channel, now, |cc| {
            ledger.query_chaincode_definition(&cc.chaincode_id)
        })?;

        // 10. The creator must belong to the organisation hosting the enclave.
        check_creator_org(ledger, &checked.host_params.peer_msp_id)?;

        // 11. The registry policy's enclave count (1: FPC's MVP rule), counting only the
        // enclaves the lifecycle still counts; or a renewal of the same enclave.
        let cc_id = checked
            .attested_data
            .cc_params
            .as_ref()
            .map(|p| p.chaincode_id.as_str())
            .unwrap_or_default();
        // Check 8 needed the timestamp, so it is there.
        let admission = self.admit(ledger, cc_id, &checked, now.unwrap_or_default())?;

        // 12. Both keys are built before the first write so a bad key writes nothing. Only
        // single-enclave mode writes FPC's placeholder marker; with several enclaves the
        // marker means "holds the chaincode keys" and only registerCCKeys writes it.
        let credentials_key = keys::credentials_key(cc_id, &checked.enclave_id)?;
        let provisioned_key = keys::provisioned_key(cc_id, &checked.enclave_id)?;
        ledger
            .put_state(&credentials_key, credentials_base64.as_bytes())
            .map_err(RegistryError::StoreCredentials)?;
        // A renewal keeps a marker registerCCKeys may have written since.
        if self.policy.single_enclave()
            && !(admission.renewal && ledger.get_state(&provisioned_key)?.is_some())
        {
            ledger
                .put_state(&provisioned_key, keys::PROVISIONED_PLACEHOLDER)
                .map_err(RegistryError::StoreProvisioned)?;
        }
        self.store_record(ledger, cc_id, &checked.enclave_id, &admission.record)?;
        // A revoked enclave that renews leaves the revoked key space.
        if let Some(moved) = &admission.revoked_key {
            ledger.put_state(moved, b"")?;
        }
        Ok(())
    }

    /// Checks 1–9 of `registerEnclave` (everything but the creator and the existing
    /// registrations): parsing, channel, chaincode definition, evidence, host params.
    /// `definition` answers `_lifecycle` for the attested chaincode parameters (it looks up
    /// `chaincode_id`; `ercc verify` may also take the attested sequence); `now_unix` is
    /// the transaction time. Used by `registerEnclave` and by `ercc verify` offline.
    pub fn check_credentials(
        &self,
        credentials_base64: &str,
        channel_id: &str,
        now_unix: Option<i64>,
        definition: impl FnOnce(
            &CcParameters,
        ) -> Result<QueryChaincodeDefinitionResult, DefinitionError>,
    ) -> Result<CheckedCredentials, RegistryError> {
        // 1. base64 + protobuf.
        let credentials = credentials::decode_credentials(credentials_base64)
            .map_err(RegistryError::InvalidCredentials)?;
        // 2. evidence present.
        if credentials.evidence.is_empty() {
            return Err(RegistryError::EvidenceEmpty);
        }
        // 3. attested data present and of the right type.
        let attested_data =
            credentials::decode_attested_data(&credentials).map_err(RegistryError::AttestedData)?;
        let cc_params = attested_data
            .cc_params
            .clone()
            .ok_or(RegistryError::CcParamsEmpty)?;
        // 4. channel.
        if cc_params.channel_id != channel_id {
            return Err(RegistryError::WrongChannel {
                expected: channel_id.to_owned(),
                actual: cc_params.channel_id,
            });
        }
        // 5. chaincode definition.
        let def = definition(&cc_params).map_err(RegistryError::ChaincodeDefinition)?;
        // 6. MRENCLAVE = definition version.
        if cc_params.version != def.version {
            return Err(RegistryError::MrenclaveMismatch);
        }
        // 7. sequence.
        if cc_params.sequence != def.sequence {
            return Err(RegistryError::SequenceMismatch);
        }
        // 8. evidence, bound to the exact attested-data bytes.
        let now = now_unix.ok_or(RegistryError::EvidenceVerification(
            VerifierError::NoTimestamp,
        ))?;
        let statement = credentials::attested_data_any(&credentials)
            .map_err(RegistryError::AttestedData)?
            .value
            .as_slice();
        let judgement = self
            .verifier
            .verify(&credentials.evidence, &def.version, statement, now)
            .map_err(RegistryError::EvidenceVerification)?;
        // 9. host params.
        let host_params = attested_data
            .host_params
            .clone()
            .ok_or(RegistryError::HostParamsEmpty)?;
        let enclave_id = credentials::enclave_id(&attested_data.enclave_vk);
        Ok(CheckedCredentials {
            credentials,
            attested_data,
            host_params,
            enclave_id,
            judgement,
        })
    }
}

/// The proposal's creator must be a member of `owner_msp` (the enclave's host organisation).
pub(crate) fn check_creator_org<L: RegistryLedger + ?Sized>(
    ledger: &L,
    owner_msp: &str,
) -> Result<(), RegistryError> {
    match ledger.creator_msp_id() {
        Some(msp) if msp == owner_msp => Ok(()),
        Some(_) => Err(RegistryError::CreatorIdentity(CreatorError::MspMismatch)),
        None => Err(RegistryError::CreatorIdentity(CreatorError::NoCreator)),
    }
}

/// A stored credentials value as the text the queries return. It is base64, so UTF-8, and
/// moves without a copy (a lossy conversion of every value cost 5% of a query's
/// instructions); bytes that are not UTF-8 (never written by a registry) still become U+FFFD.
fn stored_text(value: Vec<u8>) -> String {
    String::from_utf8(value).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Go returns a nil slice (empty payload) rather than `[]` when nothing was found.
fn non_empty(v: Vec<String>) -> Option<Vec<String>> {
    (!v.is_empty()).then_some(v)
}

/// The stored credentials of `enclave_id` for chaincode `cc_id`, with their key; the error
/// `missing()` when there are none.
pub(crate) fn stored_credentials_of<L: RegistryLedger + ?Sized>(
    ledger: &mut L,
    cc_id: &str,
    enclave_id: &str,
    missing: impl FnOnce() -> RegistryError,
) -> Result<(String, Vec<u8>), RegistryError> {
    let key = keys::credentials_key(cc_id, enclave_id)?;
    let value = ledger.get_state(&key)?.ok_or_else(missing)?;
    Ok((key, value))
}

/// Attested data of credentials read back from the ledger.
pub(crate) fn stored_attested_data(key: &str, value: &[u8]) -> Result<AttestedData, RegistryError> {
    stored_credentials(key, value).map(|(_, attested)| attested)
}

/// Credentials read back from the ledger, with their attested data.
pub(crate) fn stored_credentials(
    key: &str,
    value: &[u8],
) -> Result<(Credentials, AttestedData), RegistryError> {
    let corrupt =
        |reason: String| RegistryError::CorruptState(format!("credentials at {key:?}: {reason}"));
    let text = std::str::from_utf8(value).map_err(|_| corrupt("not UTF-8 text".into()))?;
    let creds = credentials::decode_credentials(text).map_err(|e| corrupt(e.to_string()))?;
    let attested = credentials::decode_attested_data(&creds).map_err(|e| corrupt(e.to_string()))?;
    Ok((creds, attested))
}

#[cfg(test)]
#[path = "registry_tests.rs"]
pub(crate) mod tests;
