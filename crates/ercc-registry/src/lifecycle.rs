//! The enclave lifecycle beyond FPC's one-shot registration (`docs/enclave-lifecycle.md`):
//! the appraisal record the registry keeps per enclave (what it judged and when), the rule
//! that decides whether a registered enclave is *current* (not revoked, not expired, of the
//! current chaincode definition), renewal, retirement and TCB re-appraisal.
//!
//! Every decision uses only the transaction's time and state, so every endorser agrees.
//! State written by the Go registry has no record: such an enclave is never revoked, and its
//! attestation time is unknown (it counts as expired only when the operator set an age).
//!
//! A revocation moves the enclave's credentials from `namespaces/credentials` to
//! `namespaces/revoked`, so `queryEnclaveCredentials`, FPC's hot path, answers from the one
//! key it reads. `migrateRevocations` moves those of enclaves that ercc-rs builds before this
//! layout revoked in place.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::credentials;
use crate::keys;
use crate::ledger::RegistryLedger;
use crate::proto::{AttestedData, CcParameters};
use crate::registry::{CheckedCredentials, Registry, RegistryError, VerifierError};

/// Version of the [`AppraisalRecord`] JSON.
pub const RECORD_VERSION: u32 = 1;

/// What the verifier judged about accepted evidence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Judgement {
    /// The evidence type (`attestation_type`).
    pub evidence_type: String,
    /// IAS quote status or DCAP TCB status; `None` for simulated evidence.
    pub status: Option<String>,
    /// Intel advisories that apply to the platform.
    pub advisory_ids: Vec<String>,
    /// The evidence's own issue time (the IAS report's), Unix seconds, when it has one.
    pub issued_at: Option<i64>,
    /// The TCB info that judged a `dcap` platform.
    pub tcb_info: Option<TcbInfoRecord>,
}

/// Which TCB info judged a `dcap` platform; a re-appraisal must bring newer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcbInfoRecord {
    /// FMSPC, upper-case hex.
    pub fmspc: String,
    /// `issueDate`, Unix seconds.
    pub issue_date: i64,
    /// `tcbEvaluationDataNumber`.
    pub evaluation_data_number: Option<u32>,
}

/// A registered enclave and the collateral offered to re-judge it.
#[derive(Debug, Clone, Copy)]
pub struct ReappraisalInput<'a> {
    /// Its stored `Credentials.evidence`.
    pub evidence: &'a [u8],
    /// The MRENCLAVE it attested (its `cc_params.version`).
    pub expected_mrenclave: &'a str,
    /// Its attested data's `Any.value` bytes.
    pub statement: &'a [u8],
    /// The TCB info applied to it so far.
    pub applied: &'a TcbInfoRecord,
    /// The offered collateral JSON.
    pub collateral: &'a [u8],
    /// The transaction time.
    pub now_unix: i64,
}

/// The verdict of a re-appraisal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejudgement {
    /// The TCB info now applied.
    pub tcb_info: TcbInfoRecord,
    /// The new status, when the quote still verified.
    pub status: Option<String>,
    /// The new advisories.
    pub advisory_ids: Vec<String>,
    /// Why the enclave is no longer accepted; `None` when it still is.
    pub rejected: Option<String>,
}

/// Why and when an enclave was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Transaction time of the re-appraisal that revoked it.
    pub at: i64,
    /// The verdict.
    pub reason: String,
}

/// What the registry judged about one enclave, stored as JSON under
/// [`keys::APPRAISAL_OBJECT_TYPE`] `[ccId, enclaveId]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppraisalRecord {
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// The evidence type.
    pub evidence_type: String,
    /// Quote or TCB status at the last judgement.
    pub status: Option<String>,
    /// Advisories at the last judgement.
    pub advisory_ids: Vec<String>,
    /// When the evidence was attested: the IAS report time, otherwise the registration's
    /// transaction time (DCAP collateral is checked current at it). Expiry counts from here.
    pub attested_at: i64,
    /// Transaction time of the (last) registration.
    pub registered_at: i64,
    /// The MRENCLAVE (chaincode version) it registered under.
    pub mrenclave: String,
    /// The definition sequence it registered under.
    pub sequence: i64,
    /// The TCB info applied (`dcap` only).
    pub tcb_info: Option<TcbInfoRecord>,
    /// Transaction time of the last re-appraisal.
    pub reappraised_at: Option<i64>,
    /// Set when a re-appraisal found the enclave no longer acceptable.
    pub revoked: Option<Revocation>,
}

impl AppraisalRecord {
    fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings and numbers always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn parse(key: &str, value: &[u8]) -> Result<Self, LifecycleError> {
        serde_json::from_slice(value).map_err(|e| LifecycleError::CorruptRecord {
            key: key.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// Why a lifecycle function refused. `Display` is the text the client receives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// No credentials are stored for the enclave.
    #[error("enclave {enclave_id} is not registered for chaincode {cc_id}")]
    NotRegistered {
        /// The chaincode.
        cc_id: String,
        /// The enclave's id.
        enclave_id: String,
    },
    /// The creator belongs to another organisation than the enclave's host.
    #[error("creator identity evaluation failed: creator msp {creator} is not the enclave's organisation {owner}")]
    NotOwner {
        /// The creator's MSP id.
        creator: String,
        /// The enclave's organisation.
        owner: String,
    },
    /// The proposal carries no creator identity.
    #[error("creator identity evaluation failed: the proposal has no creator identity")]
    NoCreator,
    /// The transaction carries no timestamp.
    #[error("the transaction has no timestamp")]
    NoTimestamp,
    /// The registration has no appraisal record (the enclave id).
    #[error("enclave {0} has no appraisal record (registered by the Go registry): only dcap enclaves registered by this registry can be re-appraised")]
    NoRecord(String),
    /// Only `dcap` enclaves can be re-appraised.
    #[error("enclave {enclave_id} has {evidence_type} evidence: only dcap enclaves can be re-appraised (others renew by registering again)")]
    NotReappraisable {
        /// The enclave's id.
        enclave_id: String,
        /// Its evidence type.
        evidence_type: String,
    },
    /// The enclave was revoked before.
    #[error("enclave {enclave_id} is already revoked: {reason}")]
    AlreadyRevoked {
        /// The enclave's id.
        enclave_id: String,
        /// Why.
        reason: String,
    },
    /// The verifier refused the collateral.
    #[error("re-appraisal refused: {0}")]
    ReappraisalRefused(VerifierError),
    /// A registration of an enclave already registered is not a renewal the rules allow.
    #[error("renewal refused: {0}")]
    RenewalRefused(String),
    /// The registry policy does not let an enclave of an earlier definition export keys.
    #[error("sender enclave {enclave_id} runs an earlier definition of chaincode {cc_id}: the registry policy does not allow upgrade transfers")]
    UpgradeTransferNotAllowed {
        /// The chaincode.
        cc_id: String,
        /// The enclave's id.
        enclave_id: String,
    },
    /// An appraisal record this registry could not have written.
    #[error("corrupt appraisal record at {key:?}: {reason}")]
    CorruptRecord {
        /// The record's key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// Why a registered enclave is not handed out to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCurrent {
    /// A re-appraisal revoked it.
    Revoked(String),
    /// It attested another definition than the current one.
    Superseded(String),
    /// Its attestation is older than the policy's age.
    Expired(String),
}

impl NotCurrent {
    /// The state name used in `queryEnclaveStatus`.
    pub fn state(&self) -> &'static str {
        match self {
            NotCurrent::Revoked(_) => "revoked",
            NotCurrent::Superseded(_) => "superseded",
            NotCurrent::Expired(_) => "expired",
        }
    }

    fn reason(&self) -> &str {
        match self {
            NotCurrent::Revoked(r) | NotCurrent::Superseded(r) | NotCurrent::Expired(r) => r,
        }
    }
}

/// One stored registration, as the lifecycle rules need it.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    /// The key's enclave id, or why the key has none (corrupt state, reported only by the
    /// queries that need the id: listing credentials returns the values as Go does).
    enclave_id: Result<String, RegistryError>,
    /// The stored base64 `Credentials` text.
    pub(crate) value: Vec<u8>,
    pub(crate) record: Option<AppraisalRecord>,
    key: String,
    /// The decoded attested data, once a rule or query needed it (the filter of
    /// `current_registrations` and the query after it read the same registration).
    attested: OnceCell<AttestedData>,
}

impl Registration {
    pub(crate) fn enclave_id(&self) -> Result<&str, RegistryError> {
        self.enclave_id.as_deref().map_err(Clone::clone)
    }

    fn new(key: String, value: Vec<u8>, record: Option<AppraisalRecord>) -> Self {
        Self {
            enclave_id: enclave_id_of(&key),
            value,
            record,
            key,
            attested: OnceCell::new(),
        }
    }

    /// Whether a re-appraisal revoked it.
    fn is_revoked(&self) -> bool {
        self.record.as_ref().is_some_and(|r| r.revoked.is_some())
    }

    /// The attested data of the stored credentials, decoded on first use only.
    pub(crate) fn attested(&self) -> Result<&AttestedData, RegistryError> {
        if let Some(attested) = self.attested.get() {
            return Ok(attested);
        }
        let attested = crate::registry::stored_attested_data(&self.key, &self.value)?;
        Ok(self.attested.get_or_init(|| attested))
    }

    /// The organisation hosting the enclave (`host_params.peer_msp_id`, empty when absent).
    fn owner_msp(&self) -> Result<String, RegistryError> {
        Ok(self
            .attested()?
            .host_params
            .as_ref()
            .map(|h| h.peer_msp_id.clone())
            .unwrap_or_default())
    }
}

/// The current definition (version, sequence), or why there is none.
type Definition = Result<(String, i64), crate::ledger::DefinitionError>;

impl Registry {
    /// Every registration of `cc_id` in key order, with its appraisal record when
    /// `with_records` (one scan of each key space; without records, one scan).
    pub(crate) fn registrations<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        with_records: bool,
    ) -> Result<Vec<Registration>, RegistryError> {
        let mut all = scan_credentials(ledger, cc_id)?;
        if !all.is_empty() && with_records {
            attach_records(&mut all, &mut scan_records(ledger, cc_id)?);
        }
        Ok(all)
    }

    /// The registrations of `cc_id` that client queries hand out, in key order.
    pub(crate) fn current_registrations<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
    ) -> Result<Vec<Registration>, RegistryError> {
        // Revoked credentials are not in the scan, so only expiry needs the records.
        let with_records = self.policy().max_registration_age.is_some();
        let all = self.registrations(ledger, cc_id, with_records)?;
        if all.is_empty() {
            return Ok(all);
        }
        let definition = self.definition_if_needed(ledger, cc_id);
        let now = ledger.tx_timestamp_unix();
        let mut current = Vec::with_capacity(all.len());
        for r in all {
            if self.not_current(&r, definition.as_ref(), now)?.is_none() {
                current.push(r);
            }
        }
        Ok(current)
    }

    /// `_lifecycle`'s current definition, asked only when the policy filters by it.
    fn definition_if_needed<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
    ) -> Option<Definition> {
        self.policy().current_definition_only.then(|| {
            ledger
                .query_chaincode_definition(cc_id)
                .map(|d| (d.version, d.sequence))
        })
    }

    /// Why `r` is not current at `now` (first of revoked, superseded, expired), if it is not.
    fn not_current(
        &self,
        r: &Registration,
        definition: Option<&Definition>,
        now: Option<i64>,
    ) -> Result<Option<NotCurrent>, RegistryError> {
        if let Some(revoked) = r.record.as_ref().and_then(|rec| rec.revoked.as_ref()) {
            return Ok(Some(NotCurrent::Revoked(revoked.reason.clone())));
        }
        if let Some(definition) = definition {
            let cc = r.attested()?.cc_params.clone().unwrap_or_default();
            if let Some(reason) = superseded(&cc, definition) {
                return Ok(Some(NotCurrent::Superseded(reason)));
            }
        }
        Ok(self
            .expired(r.record.as_ref(), now)
            .map(NotCurrent::Expired))
    }

    fn expired(&self, record: Option<&AppraisalRecord>, now: Option<i64>) -> Option<String> {
        let max = self.policy().max_registration_age?;
        let Some(record) = record else {
            return Some(
                "registered without an appraisal record: its attestation time is unknown".into(),
            );
        };
        let Some(now) = now else {
            return Some("the transaction has no timestamp".into());
        };
        let age = now.saturating_sub(record.attested_at);
        u64::try_from(age)
            .is_ok_and(|age| age > max)
            .then(|| format!("attested {age} s ago, more than the allowed {max} s"))
    }

    /// `registerEnclave` step 11 with the lifecycle rules: whether `checked` (which passed
    /// checks 1–10) may register next to the existing registrations of `cc_id`, under the
    /// policy's enclave count (FPC's one enclave by default) counting only enclaves that may
    /// still serve; or renew its own registration. Returns the record to write.
    pub(crate) fn admit<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        checked: &CheckedCredentials,
        now: i64,
    ) -> Result<Admission, RegistryError> {
        let policy = self.policy();
        let mut renewal = false;
        let mut counted = Vec::new();
        let mut all = scan_credentials(ledger, cc_id)?;
        // Left here: the records of enclaves whose credentials a revocation moved.
        let mut records = scan_records(ledger, cc_id)?;
        attach_records(&mut all, &mut records);
        // A revoked enclave may always come back, but only as a renewal: its evidence must
        // not be judged by older TCB info than the re-appraisal applied.
        for r in all {
            if (policy.allows_renewal() || r.is_revoked()) && r.enclave_id()? == checked.enclave_id
            {
                check_renewal(&r, checked)?;
                renewal = true;
            } else if self.still_counts(&r, checked, now)? {
                counted.push(r);
            }
        }
        let mut revoked_key = None;
        if let Some(record) = records.remove(&checked.enclave_id) {
            let key = keys::revoked_key(cc_id, &checked.enclave_id)?;
            if let Some(value) = ledger.get_state(&key)? {
                check_renewal(
                    &Registration::new(key.clone(), value, Some(record)),
                    checked,
                )?;
                renewal = true;
                revoked_key = Some(key);
            }
        }
        if policy.single_enclave() {
            if !counted.is_empty() {
                return Err(RegistryError::AlreadyRegistered(cc_id.to_owned()));
            }
        } else {
            let max = policy.max_enclaves_per_chaincode;
            if counted.len() >= usize::try_from(max).unwrap_or(usize::MAX) {
                return Err(RegistryError::TooManyEnclaves {
                    cc_id: cc_id.to_owned(),
                    max,
                });
            }
            let msp_id = &checked.host_params.peer_msp_id;
            for r in &counted {
                if r.attested()?
                    .host_params
                    .as_ref()
                    .is_some_and(|h| &h.peer_msp_id == msp_id)
                {
                    return Err(RegistryError::OrganisationHasEnclave {
                        cc_id: cc_id.to_owned(),
                        msp_id: msp_id.clone(),
                    });
                }
            }
        }
        Ok(Admission {
            record: new_record(checked, now),
            renewal,
            revoked_key,
        })
    }

    /// Whether registration `r` counts against the enclave limit when `checked` registers:
    /// a revoked or (under `current_definition_only`) superseded enclave will never serve
    /// again and does not block its replacement; an expired one may renew, so it counts.
    fn still_counts(
        &self,
        r: &Registration,
        checked: &CheckedCredentials,
        now: i64,
    ) -> Result<bool, RegistryError> {
        let cc = checked.attested_data.cc_params.clone().unwrap_or_default();
        // `checked` passed checks 6–7, so its definition is the current one.
        let definition: Definition = Ok((cc.version, cc.sequence));
        let current_only = self.policy().current_definition_only;
        Ok(!matches!(
            self.not_current(r, current_only.then_some(&definition), Some(now))?,
            Some(NotCurrent::Revoked(_) | NotCurrent::Superseded(_))
        ))
    }

    /// `retireEnclave(ccId, enclaveId)`: removes an enclave's credentials, provisioned marker,
    /// pending key export and appraisal record. Only a member of the enclave's organisation may.
    pub fn retire_enclave<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        enclave_id: &str,
    ) -> Result<(), RegistryError> {
        let r = self.registration(ledger, cc_id, enclave_id)?;
        let owner = r.owner_msp()?;
        match ledger.creator_msp_id() {
            Some(msp) if msp == owner => {}
            Some(msp) => {
                return Err(LifecycleError::NotOwner {
                    creator: msp.to_owned(),
                    owner,
                }
                .into())
            }
            None => return Err(LifecycleError::NoCreator.into()),
        }
        // Keys are built before the first write so a bad key writes nothing.
        let keys = [
            keys::credentials_key(cc_id, enclave_id)?,
            keys::revoked_key(cc_id, enclave_id)?,
            keys::provisioned_key(cc_id, enclave_id)?,
            keys::exported_key(cc_id, enclave_id)?,
            keys::appraisal_key(cc_id, enclave_id)?,
        ];
        // Read all, then delete what exists: one round trip on a peer that reads keys
        // together. Reads never see the transaction's own writes, so the order changes nothing.
        let found = ledger.get_states(&keys.each_ref().map(String::as_str))?;
        for (key, value) in keys.iter().zip(found) {
            if value.is_some() {
                ledger.put_state(key, b"")?;
            }
        }
        Ok(())
    }

    /// `reappraiseEnclave(ccId, enclaveId, collateralJson)`: re-judges a registered `dcap`
    /// enclave with newer collateral for its platform; anyone may ask. Refused (nothing
    /// written) unless the collateral is authentic, current, for the enclave's FMSPC and newer
    /// than what was applied. Otherwise the record takes the new TCB info and status, and the
    /// enclave is revoked when the policy no longer accepts it. Returns the record as JSON.
    pub fn reappraise_enclave<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        enclave_id: &str,
        collateral: &str,
    ) -> Result<String, RegistryError> {
        let now = ledger
            .tx_timestamp_unix()
            .ok_or(LifecycleError::NoTimestamp)?;
        let r = self.registration(ledger, cc_id, enclave_id)?;
        let mut record = r
            .record
            .clone()
            .ok_or_else(|| LifecycleError::NoRecord(enclave_id.to_owned()))?;
        if let Some(revoked) = &record.revoked {
            return Err(LifecycleError::AlreadyRevoked {
                enclave_id: enclave_id.to_owned(),
                reason: revoked.reason.clone(),
            }
            .into());
        }
        let applied = record
            .tcb_info
            .clone()
            .ok_or_else(|| LifecycleError::NotReappraisable {
                enclave_id: enclave_id.to_owned(),
                evidence_type: record.evidence_type.clone(),
            })?;
        let text = std::str::from_utf8(&r.value).unwrap_or_default();
        let creds = credentials::decode_credentials(text)
            .map_err(|e| RegistryError::CorruptState(format!("credentials at {:?}: {e}", r.key)))?;
        let statement = credentials::attested_data_any(&creds)
            .map_err(|e| RegistryError::CorruptState(format!("credentials at {:?}: {e}", r.key)))?
            .value
            .as_slice();
        let verdict = self
            .verifier()
            .reappraise(&ReappraisalInput {
                evidence: &creds.evidence,
                expected_mrenclave: &record.mrenclave,
                statement,
                applied: &applied,
                collateral: collateral.as_bytes(),
                now_unix: now,
            })
            .map_err(LifecycleError::ReappraisalRefused)?;
        record.tcb_info = Some(verdict.tcb_info);
        if verdict.status.is_some() {
            record.status = verdict.status;
            record.advisory_ids = verdict.advisory_ids;
        }
        record.reappraised_at = Some(now);
        record.revoked = verdict
            .rejected
            .map(|reason| Revocation { at: now, reason });
        let bytes = record.to_bytes();
        let (record_key, revoked_key) = (
            keys::appraisal_key(cc_id, enclave_id)?,
            keys::revoked_key(cc_id, enclave_id)?,
        );
        ledger.put_state(&record_key, &bytes)?;
        if record.revoked.is_some() {
            move_credentials(ledger, &r.key, &revoked_key, &r.value)?;
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `migrateRevocations()`: moves the credentials of every enclave revoked in place (by an
    /// ercc-rs build before the revoked key space) to `namespaces/revoked`, as a revocation
    /// does now; until then `queryEnclaveCredentials` would find them. Anyone may ask: it only
    /// applies revocations already on the ledger. Reads everything before the first write;
    /// returns the moved enclaves as JSON, in key order (none when run again).
    pub fn migrate_revocations<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
    ) -> Result<String, RegistryError> {
        let mut revoked = Vec::new();
        for (key, value) in
            ledger.get_state_by_partial_composite_key(keys::APPRAISAL_OBJECT_TYPE, &[])?
        {
            if AppraisalRecord::parse(&key, &value)?.revoked.is_some() {
                let (cc_id, enclave_id) = ids_of(&key)?;
                let credentials_key = keys::credentials_key(&cc_id, &enclave_id)?;
                let revoked_key = keys::revoked_key(&cc_id, &enclave_id)?;
                revoked.push((cc_id, enclave_id, credentials_key, revoked_key));
            }
        }
        let keys: Vec<&str> = revoked.iter().map(|r| r.2.as_str()).collect();
        let found = ledger.get_states(&keys)?;
        let mut moved = Vec::new();
        for ((cc_id, enclave_id, credentials_key, revoked_key), value) in
            revoked.into_iter().zip(found)
        {
            if let Some(value) = value {
                move_credentials(ledger, &credentials_key, &revoked_key, &value)?;
                moved.push(serde_json::json!({"chaincode_id": cc_id, "enclave_id": enclave_id}));
            }
        }
        Ok(serde_json::json!({ "moved": moved }).to_string())
    }

    /// `queryEnclaveStatus(ccId, enclaveId)`: the enclave's state at the transaction time
    /// (`registered`, `provisioned`, `expired`, `revoked`, `superseded`), why, and its
    /// appraisal record (`null` for a registration of the Go registry), as JSON.
    pub fn query_enclave_status<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        enclave_id: &str,
    ) -> Result<String, RegistryError> {
        let r = self.registration(ledger, cc_id, enclave_id)?;
        let provisioned = ledger
            .get_state(&keys::provisioned_key(cc_id, enclave_id)?)?
            .is_some();
        let definition = self.definition_if_needed(ledger, cc_id);
        let now = ledger.tx_timestamp_unix();
        let not_current = self.not_current(&r, definition.as_ref(), now)?;
        let state = match (&not_current, provisioned) {
            (Some(n), _) => n.state(),
            (None, true) => "provisioned",
            (None, false) => "registered",
        };
        Ok(serde_json::json!({
            "chaincode_id": cc_id,
            "enclave_id": enclave_id,
            "state": state,
            "reason": not_current.as_ref().map(NotCurrent::reason),
            "provisioned": provisioned,
            "record": r.record,
        })
        .to_string())
    }

    /// Writes the record of a registration that `admit` accepted.
    pub(crate) fn store_record<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        enclave_id: &str,
        record: &AppraisalRecord,
    ) -> Result<(), RegistryError> {
        ledger.put_state(&keys::appraisal_key(cc_id, enclave_id)?, &record.to_bytes())?;
        Ok(())
    }

    fn registration<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        enclave_id: &str,
    ) -> Result<Registration, RegistryError> {
        self.find_registration(ledger, cc_id, enclave_id)?
            .ok_or_else(|| {
                LifecycleError::NotRegistered {
                    cc_id: cc_id.to_owned(),
                    enclave_id: enclave_id.to_owned(),
                }
                .into()
            })
    }

    /// The registration of `enclave_id`, current or revoked (its credentials moved), with its
    /// record: one round trip on a peer that reads keys together.
    fn find_registration<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        enclave_id: &str,
    ) -> Result<Option<Registration>, RegistryError> {
        let [credentials_key, revoked_key, record_key] = [
            keys::credentials_key(cc_id, enclave_id)?,
            keys::revoked_key(cc_id, enclave_id)?,
            keys::appraisal_key(cc_id, enclave_id)?,
        ];
        let mut found = ledger
            .get_states(&[&credentials_key, &revoked_key, &record_key])?
            .into_iter();
        let (credentials, moved, record) = (
            found.next().flatten(),
            found.next().flatten(),
            found.next().flatten(),
        );
        let (key, value) = match (credentials, moved) {
            (Some(value), _) => (credentials_key, value),
            (None, Some(value)) => (revoked_key, value),
            (None, None) => return Ok(None),
        };
        let record = match record {
            Some(v) => Some(AppraisalRecord::parse(&record_key, &v)?),
            None => None,
        };
        Ok(Some(Registration::new(key, value, record)))
    }
}

/// What `registerEnclave` writes after step 11.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    pub(crate) record: AppraisalRecord,
    /// The enclave renews its own registration.
    pub(crate) renewal: bool,
    /// The key of the credentials a revocation moved, which the renewal clears.
    pub(crate) revoked_key: Option<String>,
}

/// The appraisal record of a registration accepted at `now` (also what `ercc verify` shows).
pub fn new_record(checked: &CheckedCredentials, now: i64) -> AppraisalRecord {
    let cc = checked.attested_data.cc_params.clone().unwrap_or_default();
    let j = &checked.judgement;
    AppraisalRecord {
        version: RECORD_VERSION,
        evidence_type: j.evidence_type.clone(),
        status: j.status.clone(),
        advisory_ids: j.advisory_ids.clone(),
        attested_at: j.issued_at.unwrap_or(now),
        registered_at: now,
        mrenclave: cc.version,
        sequence: cc.sequence,
        tcb_info: j.tcb_info.clone(),
        reappraised_at: None,
        revoked: None,
    }
}

/// A renewal must come from the enclave's organisation and must not be judged by older TCB
/// info than the one applied (that would undo a re-appraisal with replayed collateral).
fn check_renewal(r: &Registration, checked: &CheckedCredentials) -> Result<(), RegistryError> {
    let owner = r.owner_msp()?;
    if owner != checked.host_params.peer_msp_id {
        return Err(LifecycleError::RenewalRefused(format!(
            "enclave {} is registered by {owner}, not {}",
            checked.enclave_id, checked.host_params.peer_msp_id
        ))
        .into());
    }
    let applied = r.record.as_ref().and_then(|rec| rec.tcb_info.as_ref());
    if let (Some(applied), Some(offered)) = (applied, checked.judgement.tcb_info.as_ref()) {
        if offered.issue_date < applied.issue_date
            || offered.evaluation_data_number < applied.evaluation_data_number
        {
            return Err(LifecycleError::RenewalRefused(format!(
                "its evidence is judged by TCB info issued at {} (evaluation {:?}), older than the applied {} (evaluation {:?})",
                offered.issue_date,
                offered.evaluation_data_number,
                applied.issue_date,
                applied.evaluation_data_number
            ))
            .into());
        }
    }
    Ok(())
}

/// Why an enclave that attested `cc` is not of the current `definition`, if it is not.
fn superseded(cc: &CcParameters, definition: &Definition) -> Option<String> {
    match definition {
        Err(e) => Some(format!("no current chaincode definition: {e}")),
        Ok((version, sequence)) if (&cc.version, cc.sequence) != (version, *sequence) => {
            Some(format!(
                "attested version {} sequence {}, the definition is version {version} sequence {sequence}",
                cc.version, cc.sequence
            ))
        }
        Ok(_) => None,
    }
}

/// The stored credentials of `cc_id` in key order, without records (one scan).
fn scan_credentials<L: RegistryLedger + ?Sized>(
    ledger: &mut L,
    cc_id: &str,
) -> Result<Vec<Registration>, RegistryError> {
    Ok(ledger
        .get_state_by_partial_composite_key(keys::CREDENTIALS_OBJECT_TYPE, &[cc_id])?
        .into_iter()
        .map(|(key, value)| Registration::new(key, value, None))
        .collect())
}

/// The appraisal records of `cc_id` by enclave id (one scan).
fn scan_records<L: RegistryLedger + ?Sized>(
    ledger: &mut L,
    cc_id: &str,
) -> Result<BTreeMap<String, AppraisalRecord>, RegistryError> {
    let mut records = BTreeMap::new();
    for (key, value) in
        ledger.get_state_by_partial_composite_key(keys::APPRAISAL_OBJECT_TYPE, &[cc_id])?
    {
        let record = AppraisalRecord::parse(&key, &value)?;
        records.insert(enclave_id_of(&key)?, record);
    }
    Ok(records)
}

/// Gives each registration its record, taking it out of `records`.
fn attach_records(all: &mut [Registration], records: &mut BTreeMap<String, AppraisalRecord>) {
    for r in all {
        if let Ok(id) = &r.enclave_id {
            r.record = records.remove(id);
        }
    }
}

/// The enclave id (second attribute) of a `[ccId, enclaveId]` composite key.
pub(crate) fn enclave_id_of(key: &str) -> Result<String, RegistryError> {
    ids_of(key).map(|(_, enclave_id)| enclave_id)
}

/// The chaincode and enclave ids (first two attributes) of a `[ccId, enclaveId]` composite key.
fn ids_of(key: &str) -> Result<(String, String), RegistryError> {
    let (_, attrs) = keys::split_composite_key(key)
        .map_err(|e| RegistryError::CorruptState(format!("key {key:?}: {e}")))?;
    let mut attrs = attrs.into_iter();
    match (attrs.next(), attrs.next()) {
        (Some(cc_id), Some(enclave_id)) => Ok((cc_id, enclave_id)),
        _ => Err(RegistryError::CorruptState(format!(
            "key {key:?} has no enclave id"
        ))),
    }
}

/// Moves revoked credentials out of the key `queryEnclaveCredentials` reads.
fn move_credentials<L: RegistryLedger + ?Sized>(
    ledger: &mut L,
    credentials_key: &str,
    revoked_key: &str,
    value: &[u8],
) -> Result<(), RegistryError> {
    ledger.put_state(revoked_key, value)?;
    ledger.put_state(credentials_key, b"")?;
    Ok(())
}
