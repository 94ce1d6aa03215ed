//! The key-distribution functions of the registry: `registerCCKeys`, `putKeyExport`,
//! `getKeyExport` (FPC designed them; the Go registry answers "not implemented yet").
//!
//! Every check runs before the first write, so a refused message changes nothing, and every
//! check reads only the message, the ledger and `_lifecycle`, so all endorsers agree. The
//! rules and the per-chaincode state machine are in `docs/key-distribution.md`.

use crate::keydist::{self, KeyExport, KeyRegistration};
use crate::keys;
use crate::ledger::RegistryLedger;
use crate::lifecycle::LifecycleError;
use crate::proto::AttestedData;
use crate::registry::{
    check_creator_org, stored_credentials, stored_credentials_of, Registry, RegistryError,
};

/// A registered enclave taking part in key distribution, read back from its stored
/// credentials (what `lifecycle::Registration` reads, plus its `cc_params_hash`).
#[derive(Debug, Clone)]
struct KeyParty {
    cc_id: String,
    enclave_id: String,
    attested_data: AttestedData,
    /// `keydist::cc_params_hash` of the stored attested data.
    cc_params_hash: [u8; 32],
}

impl KeyParty {
    fn msp_id(&self) -> &str {
        self.attested_data
            .host_params
            .as_ref()
            .map(|h| h.peer_msp_id.as_str())
            .unwrap_or_default()
    }

    fn version(&self) -> &str {
        self.attested_data
            .cc_params
            .as_ref()
            .map(|p| p.version.as_str())
            .unwrap_or_default()
    }
}

/// What the `provisioned` marker of an enclave holds.
enum Provisioned {
    Absent,
    /// FPC's MVP placeholder: provisioned at registration, no registered key.
    Placeholder,
    Keys(KeyRegistration),
}

impl Registry {
    /// `registerCCKeys(SignedCCKeyRegistrationMessage base64)`: records that an enclave holds
    /// the chaincode keys. The first one for a chaincode sets `chaincode_ek/<cc>`; every later
    /// one must carry that key and needs a stored export to the enclave (the import).
    pub fn register_cc_keys<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        message_base64: &str,
    ) -> Result<(), RegistryError> {
        let msg = keydist::decode_key_registration(message_base64)
            .map_err(RegistryError::InvalidKeyRegistration)?;
        let reg = find_registration(
            ledger,
            "enclave",
            &msg.enclave_id,
            &msg.message.cc_params_hash,
        )?;
        verify_signature(&reg, &msg.signed_bytes, &msg.signature)?;
        check_creator_org(ledger, reg.msp_id())?;
        check_can_endorse(&reg, &definition_version(ledger, &reg.cc_id)?)?;
        let cc = reg.cc_id.as_str();
        let eid = reg.enclave_id.as_str();
        if let Provisioned::Keys(_) = provisioned(ledger, cc, eid)? {
            return Err(RegistryError::AlreadyProvisioned {
                cc_id: cc.to_owned(),
                enclave_id: eid.to_owned(),
            });
        }
        let ek_key = keys::chaincode_ek_key(cc)?;
        let first = match ledger.get_state(&ek_key)? {
            None => true,
            Some(ek) if ek != msg.message.chaincode_ek => {
                return Err(RegistryError::ChaincodeEkMismatch(cc.to_owned()))
            }
            Some(_) => {
                if ledger.get_state(&keys::exported_key(cc, eid)?)?.is_none() {
                    return Err(RegistryError::NoExportToImport {
                        cc_id: cc.to_owned(),
                        enclave_id: eid.to_owned(),
                    });
                }
                false
            }
        };
        let provisioned_key = keys::provisioned_key(cc, eid)?;
        if first {
            ledger
                .put_state(&ek_key, &msg.message.chaincode_ek)
                .map_err(|reason| RegistryError::Store {
                    what: "chaincode_ek",
                    reason,
                })?;
        }
        ledger
            .put_state(&provisioned_key, message_base64.as_bytes())
            .map_err(RegistryError::StoreProvisioned)
    }

    /// `putKeyExport(SignedExportMessage base64)`: stores a provisioned enclave's export of
    /// the chaincode keys to another enclave registered for the same chaincode.
    pub fn put_key_export<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        message_base64: &str,
    ) -> Result<(), RegistryError> {
        let msg = keydist::decode_export(message_base64).map_err(RegistryError::InvalidExport)?;
        let sender = find_registration(
            ledger,
            "sender enclave",
            &msg.sender_id,
            &msg.message.cc_params_hash,
        )?;
        verify_signature(&sender, &msg.signed_bytes, &msg.signature)?;
        check_creator_org(ledger, sender.msp_id())?;
        let cc = sender.cc_id.clone();
        if msg.receiver_id == sender.enclave_id {
            return Err(RegistryError::ExportToSelf(msg.receiver_id));
        }
        let receiver = registered_in(ledger, &cc, &msg.receiver_id)?;
        check_sender_keys(ledger, &sender, &msg)?;
        // Sender and receiver are of one chaincode: one `_lifecycle` call serves both checks.
        let version = definition_version(ledger, &cc)?;
        check_can_endorse(&receiver, &version)?;
        // An enclave of an earlier definition (an upgrade's old version) exports only when
        // the operator allows upgrade transfers.
        if !self.policy().allow_upgrade_transfer {
            check_can_endorse(&sender, &version).map_err(|_| {
                LifecycleError::UpgradeTransferNotAllowed {
                    cc_id: cc.clone(),
                    enclave_id: sender.enclave_id.clone(),
                }
            })?;
        }
        if receiver.attested_data.enclave_ek.is_empty() {
            return Err(RegistryError::ReceiverHasNoEk(receiver.enclave_id));
        }
        if !matches!(
            provisioned(ledger, &cc, &receiver.enclave_id)?,
            Provisioned::Absent
        ) {
            return Err(RegistryError::AlreadyProvisioned {
                cc_id: cc,
                enclave_id: receiver.enclave_id,
            });
        }
        let export_key = keys::exported_key(&cc, &receiver.enclave_id)?;
        if ledger.get_state(&export_key)?.is_some() {
            return Err(RegistryError::ExportExists {
                cc_id: cc,
                enclave_id: receiver.enclave_id,
            });
        }
        ledger
            .put_state(&export_key, message_base64.as_bytes())
            .map_err(|reason| RegistryError::Store {
                what: "key export",
                reason,
            })
    }

    /// `getKeyExport(ccId, enclaveId)`: the stored base64 `SignedExportMessage` to that
    /// receiving enclave; an error naming both when there is none.
    pub fn get_key_export<L: RegistryLedger + ?Sized>(
        &self,
        ledger: &mut L,
        cc_id: &str,
        enclave_id: &str,
    ) -> Result<String, RegistryError> {
        match ledger.get_state(&keys::exported_key(cc_id, enclave_id)?)? {
            Some(v) => Ok(String::from_utf8_lossy(&v).into_owned()),
            None => Err(RegistryError::NoKeyExport {
                cc_id: cc_id.to_owned(),
                enclave_id: enclave_id.to_owned(),
            }),
        }
    }
}

/// The registration of `enclave_id` that `cc_params_hash` names. The message carries no
/// chaincode id, so the credentials of every chaincode are scanned for the id (registries
/// hold few); the hash then pins the one registration (it covers the chaincode id).
fn find_registration<L: RegistryLedger + ?Sized>(
    ledger: &mut L,
    role: &'static str,
    enclave_id: &str,
    cc_params_hash: &[u8],
) -> Result<KeyParty, RegistryError> {
    let all = ledger.get_state_by_partial_composite_key(keys::CREDENTIALS_OBJECT_TYPE, &[])?;
    let mut seen = false;
    for (key, value) in &all {
        let (_, attrs) = keys::split_composite_key(key)
            .map_err(|e| RegistryError::CorruptState(format!("key {key:?}: {e}")))?;
        let [cc_id, id] = attrs.as_slice() else {
            continue;
        };
        if id != enclave_id {
            continue;
        }
        seen = true;
        let reg = key_party(key, cc_id, id, value)?;
        if reg.cc_params_hash.as_slice() == cc_params_hash {
            return Ok(reg);
        }
    }
    Err(match seen {
        true => RegistryError::CcParamsHashMismatch(enclave_id.to_owned()),
        false => RegistryError::EnclaveNotRegistered {
            role,
            enclave_id: enclave_id.to_owned(),
        },
    })
}

/// The registration of `enclave_id` for chaincode `cc_id`.
fn registered_in<L: RegistryLedger + ?Sized>(
    ledger: &mut L,
    cc_id: &str,
    enclave_id: &str,
) -> Result<KeyParty, RegistryError> {
    let (key, value) = stored_credentials_of(ledger, cc_id, enclave_id, || {
        RegistryError::ReceiverNotRegistered {
            cc_id: cc_id.to_owned(),
            enclave_id: enclave_id.to_owned(),
        }
    })?;
    key_party(&key, cc_id, enclave_id, &value)
}

fn key_party(
    key: &str,
    cc_id: &str,
    enclave_id: &str,
    value: &[u8],
) -> Result<KeyParty, RegistryError> {
    let (creds, attested_data) = stored_credentials(key, value)?;
    let statement = creds
        .serialized_attested_data
        .map(|any| any.value)
        .unwrap_or_default();
    let cc_params_hash = keydist::cc_params_hash(&statement)
        .map_err(|e| RegistryError::CorruptState(format!("credentials at {key:?}: {e}")))?;
    Ok(KeyParty {
        cc_id: cc_id.to_owned(),
        enclave_id: enclave_id.to_owned(),
        attested_data,
        cc_params_hash,
    })
}

/// The signature must be the registered enclave's (its attested `enclave_vk`).
fn verify_signature(reg: &KeyParty, signed: &[u8], signature: &[u8]) -> Result<(), RegistryError> {
    keydist::verify_enclave_signature(&reg.attested_data.enclave_vk, signed, signature).map_err(
        |reason| RegistryError::BadSignature {
            enclave_id: reg.enclave_id.clone(),
            reason,
        },
    )
}

/// The MRENCLAVE (version) of `cc_id`'s current chaincode definition, from `_lifecycle`.
fn definition_version<L: RegistryLedger + ?Sized>(
    ledger: &mut L,
    cc_id: &str,
) -> Result<String, RegistryError> {
    ledger
        .query_chaincode_definition(cc_id)
        .map(|def| def.version)
        .map_err(RegistryError::ChaincodeDefinition)
}

/// FPC Lite's `can_endorse`: the enclave runs the MRENCLAVE of the chaincode's current
/// definition (`version`, from [`definition_version`]; the sequence may have moved on, e.g.
/// for a policy change).
fn check_can_endorse(reg: &KeyParty, version: &str) -> Result<(), RegistryError> {
    if version == reg.version() {
        Ok(())
    } else {
        Err(RegistryError::CannotEndorse {
            cc_id: reg.cc_id.clone(),
            enclave_id: reg.enclave_id.clone(),
        })
    }
}

/// The sender registered (with `registerCCKeys`) exactly the key it exports, and that key is
/// the chaincode's.
fn check_sender_keys<L: RegistryLedger + ?Sized>(
    ledger: &mut L,
    sender: &KeyParty,
    msg: &KeyExport,
) -> Result<(), RegistryError> {
    let cc = &sender.cc_id;
    let Provisioned::Keys(registered) = provisioned(ledger, cc, &sender.enclave_id)? else {
        return Err(RegistryError::SenderNotProvisioned {
            cc_id: cc.clone(),
            enclave_id: sender.enclave_id.clone(),
        });
    };
    if registered.message.chaincode_ek != msg.message.chaincode_ek {
        return Err(RegistryError::SenderKeyMismatch(sender.enclave_id.clone()));
    }
    match ledger.get_state(&keys::chaincode_ek_key(cc)?)? {
        Some(ek) if ek == msg.message.chaincode_ek => Ok(()),
        _ => Err(RegistryError::ChaincodeEkMismatch(cc.clone())),
    }
}

/// The provisioned marker of an enclave, decoded.
fn provisioned<L: RegistryLedger + ?Sized>(
    ledger: &mut L,
    cc_id: &str,
    enclave_id: &str,
) -> Result<Provisioned, RegistryError> {
    let key = keys::provisioned_key(cc_id, enclave_id)?;
    Ok(match ledger.get_state(&key)? {
        None => Provisioned::Absent,
        Some(v) if v == keys::PROVISIONED_PLACEHOLDER => Provisioned::Placeholder,
        Some(v) => {
            let text = std::str::from_utf8(&v).unwrap_or_default();
            Provisioned::Keys(keydist::decode_key_registration(text).map_err(|e| {
                RegistryError::CorruptState(format!("provisioned marker at {key:?}: {e}"))
            })?)
        }
    })
}

#[cfg(test)]
#[path = "key_registry_tests.rs"]
mod tests;
