//! Unit tests of `registerCCKeys`, `putKeyExport`, `getKeyExport` and the several-enclave
//! policy over [`MemLedger`], with real P-256 signatures and the fake evidence verifier of
//! the registry tests.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::keydist::{EnclaveKey, EXPORT_TYPE_URL};
use crate::keys;
use crate::ledger::MemLedger;
use crate::lifecycle::{Judgement, ReappraisalInput, Rejudgement, TcbInfoRecord};
use crate::proto::{
    AttestedData, CcKeyRegistrationMessage, ExportMessage, SignedCcKeyRegistrationMessage,
};
use crate::registry::tests::{
    attested, b64, credentials_for, mrenclave, FakeVerifier, CC, CHANNEL, NOW,
};
use crate::registry::{CredentialsVerifier, Registry, RegistryError, VerifierError};
use crate::registry_policy::{RegistryPolicy, ENV_MAX_ENCLAVES_PER_CHAINCODE};

const CC_EK: &[u8] = b"-----BEGIN RSA PUBLIC KEY-----\nchaincode\n-----END RSA PUBLIC KEY-----\n";

/// A test enclave: a fixed P-256 key, hosted by one organisation.
struct TestEnclave {
    key: EnclaveKey,
    msp: &'static str,
    endpoint: &'static str,
}

impl TestEnclave {
    fn new(seed: u8, msp: &'static str, endpoint: &'static str) -> Self {
        Self {
            key: EnclaveKey::fixed(seed).unwrap(),
            msp,
            endpoint,
        }
    }

    fn attested(&self) -> AttestedData {
        let mut ad = attested(self.key.vk_pem(), self.endpoint);
        if let Some(h) = ad.host_params.as_mut() {
            h.peer_msp_id = self.msp.into();
        }
        ad.enclave_ek = format!("enclave-ek-of-{}", self.endpoint).into_bytes();
        ad
    }

    fn credentials(&self) -> String {
        b64(&credentials_for(&self.attested()))
    }

    fn id(&self) -> String {
        self.key.id()
    }

    /// What the enclave computes: SHA-256 of the CCParameters bytes it was given.
    fn cc_params_hash(&self) -> Vec<u8> {
        let cc = self.attested().cc_params.unwrap();
        Sha256::digest(cc.encode_to_vec()).to_vec()
    }

    fn key_registration(&self, ek: &[u8]) -> CcKeyRegistrationMessage {
        CcKeyRegistrationMessage {
            cc_params_hash: self.cc_params_hash(),
            chaincode_ek: ek.to_vec(),
            enclave_id: self.id().into_bytes(),
        }
    }

    fn export(&self, to: &TestEnclave, ek: &[u8]) -> ExportMessage {
        ExportMessage {
            cc_params_hash: self.cc_params_hash(),
            chaincode_ek: ek.to_vec(),
            cckeys_enc: b"sealed for the receiver".to_vec(),
            receiver_enclave_vk: to.key.vk_pem().to_vec(),
            sender_enclave_vk: self.key.vk_pem().to_vec(),
        }
    }
}

/// Signs `msg` with `signer` and wraps it as base64 `SignedCCKeyRegistrationMessage`.
fn signed_registration(signer: &TestEnclave, msg: &CcKeyRegistrationMessage) -> String {
    STANDARD.encode(signer.key.sign_key_registration(msg))
}

fn signed_export(signer: &TestEnclave, msg: &ExportMessage) -> String {
    STANDARD.encode(signer.key.sign_export(msg))
}

struct World {
    registry: Registry,
    ledger: MemLedger,
    e1: TestEnclave,
    e2: TestEnclave,
}

impl World {
    /// Several-enclave mode (max 2), both enclaves registered by their organisations.
    fn registered() -> Self {
        Self::registered_with(FakeVerifier::default())
    }

    fn registered_with(verifier: impl CredentialsVerifier + 'static) -> Self {
        let policy = RegistryPolicy::from_vars([(ENV_MAX_ENCLAVES_PER_CHAINCODE, "2")]).unwrap();
        let registry = Registry::new(verifier).with_policy(policy);
        let mut ledger = MemLedger::new(CHANNEL, NOW, "Org1MSP");
        ledger.define_chaincode(CC, &mrenclave(), 1);
        let mut w = World {
            registry,
            ledger,
            e1: TestEnclave::new(1, "Org1MSP", "peer0.org1:7051"),
            e2: TestEnclave::new(2, "Org2MSP", "peer0.org2:7051"),
        };
        for e in [&w.e1, &w.e2] {
            w.ledger.creator_msp_id = Some(e.msp.into());
            w.registry
                .register_enclave(&mut w.ledger, &e.credentials())
                .unwrap();
        }
        w
    }

    fn as_org(&mut self, msp: &str) -> &mut Self {
        self.ledger.creator_msp_id = Some(msp.into());
        self
    }

    fn register_keys(&mut self, text: &str) -> Result<(), RegistryError> {
        self.registry.register_cc_keys(&mut self.ledger, text)
    }

    fn put_export(&mut self, text: &str) -> Result<(), RegistryError> {
        self.registry.put_key_export(&mut self.ledger, text)
    }

    /// E1 generated the keys and registered them.
    fn e1_provisioned() -> Self {
        let mut w = Self::registered();
        let text = signed_registration(&w.e1, &w.e1.key_registration(CC_EK));
        w.as_org("Org1MSP").register_keys(&text).unwrap();
        w
    }

    /// E1 exported to E2.
    fn exported() -> Self {
        let mut w = Self::e1_provisioned();
        let text = signed_export(&w.e1, &w.e1.export(&w.e2, CC_EK));
        w.put_export(&text).unwrap();
        w
    }

    fn provisioned(&mut self) -> Option<Vec<String>> {
        self.registry
            .query_list_provisioned_enclaves(&mut self.ledger, CC)
            .unwrap()
    }

    /// Runs `f` expecting the error text `message`, and checks nothing was written.
    fn refused(&mut self, message: &str, f: impl FnOnce(&mut Self) -> Result<(), RegistryError>) {
        let before = self.ledger.state.clone();
        let puts = self.ledger.puts;
        let err = f(self).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(self.ledger.state, before, "state changed on failure");
        assert_eq!(self.ledger.puts, puts, "a write was attempted on failure");
    }
}

#[test]
fn two_organisations_generate_export_import_and_share_one_key() {
    let mut w = World::registered();
    // Several-enclave mode writes no placeholder marker: nobody is provisioned yet (two
    // credentials and their two appraisal records).
    assert_eq!(w.ledger.state.len(), 4);
    assert_eq!(w.provisioned(), None);
    let endpoints = w
        .registry
        .query_chaincode_end_points(&mut w.ledger, CC)
        .unwrap();
    let mut sorted: Vec<&str> = endpoints.split(',').collect();
    sorted.sort_unstable();
    assert_eq!(sorted, ["peer0.org1:7051", "peer0.org2:7051"]);

    // E1 generates and registers.
    let e1_reg = signed_registration(&w.e1, &w.e1.key_registration(CC_EK));
    w.as_org("Org1MSP").register_keys(&e1_reg).unwrap();
    let (e1_id, e2_id) = (w.e1.id(), w.e2.id());
    assert_eq!(w.ledger.state[&keys::chaincode_ek_key(CC).unwrap()], CC_EK);
    assert_eq!(
        w.ledger.state[&keys::provisioned_key(CC, &e1_id).unwrap()],
        e1_reg.as_bytes()
    );
    assert_eq!(w.provisioned(), Some(vec![e1_id.clone()]));
    let ek = w
        .registry
        .query_chaincode_encryption_key(&mut w.ledger, CC)
        .unwrap();
    assert_eq!(ek, STANDARD.encode(CC_EK));

    // E2 cannot claim the key before an export to it exists.
    let e2_reg = signed_registration(&w.e2, &w.e2.key_registration(CC_EK));
    w.as_org("Org2MSP").refused(
        &format!("chaincode {CC} already has keys and no export to enclave {e2_id} is stored"),
        |w| w.register_keys(&e2_reg),
    );
    let e = w
        .registry
        .get_key_export(&mut w.ledger, CC, &e2_id)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("no key export stored for enclave {e2_id} of chaincode {CC}")
    );

    // E1 exports to E2; the export reads back unchanged.
    let export = signed_export(&w.e1, &w.e1.export(&w.e2, CC_EK));
    w.as_org("Org1MSP").put_export(&export).unwrap();
    assert_eq!(
        w.registry
            .get_key_export(&mut w.ledger, CC, &e2_id)
            .unwrap(),
        export
    );

    // E2 imports and registers the same key.
    w.as_org("Org2MSP").register_keys(&e2_reg).unwrap();
    let mut both = vec![e1_id, e2_id];
    both.sort();
    assert_eq!(w.provisioned(), Some(both));
    let ek = w
        .registry
        .query_chaincode_encryption_key(&mut w.ledger, CC)
        .unwrap();
    assert_eq!(ek, STANDARD.encode(CC_EK));
    // chaincode_ek, two credentials, two markers, one export, two appraisal records.
    assert_eq!(w.ledger.state.len(), 8);
}

#[test]
fn key_registrations_refused_with_reasons() {
    let mut w = World::registered();
    let (e1, e2) = (&w.e1, &w.e2);
    let e1_id = e1.id();
    let good = e1.key_registration(CC_EK);

    // Signed by another enclave's key.
    let wrong_signer = signed_registration(e2, &good);
    // A valid signature over other bytes.
    let mut other = good.clone();
    other.chaincode_ek = b"other".to_vec();
    let mut over_other = SignedCcKeyRegistrationMessage::decode(
        STANDARD
            .decode(signed_registration(e1, &good))
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    over_other.serialized_cckey_reg_msg.as_mut().unwrap().value = other.encode_to_vec();
    let over_other = STANDARD.encode(over_other.encode_to_vec());
    // An enclave nobody registered.
    let stranger = TestEnclave::new(9, "Org1MSP", "x:1");
    let unregistered = signed_registration(&stranger, &stranger.key_registration(CC_EK));
    // A cc_params_hash of another chaincode.
    let mut other_cc = good.clone();
    other_cc.cc_params_hash = Sha256::digest(b"other chaincode").to_vec();
    let other_cc = signed_registration(e1, &other_cc);
    // Wrong Any type.
    let mut wrong_type = SignedCcKeyRegistrationMessage::decode(
        STANDARD
            .decode(signed_registration(e1, &good))
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    wrong_type
        .serialized_cckey_reg_msg
        .as_mut()
        .unwrap()
        .type_url = EXPORT_TYPE_URL.into();
    let wrong_type = STANDARD.encode(wrong_type.encode_to_vec());
    let good_text = signed_registration(e1, &good);

    w.as_org("Org1MSP");
    let sig = format!("invalid signature of enclave {e1_id}: signature does not verify");
    w.refused(&sig, |w| w.register_keys(&wrong_signer));
    w.refused(&sig, |w| w.register_keys(&over_other));
    w.refused(
        &format!("enclave {} is not registered", stranger.id()),
        |w| w.register_keys(&unregistered),
    );
    w.refused(
        &format!("cc_params_hash does not match the registration of enclave {e1_id}"),
        |w| w.register_keys(&other_cc),
    );
    w.refused(
        "invalid key registration message: wrong message type: want \"key_distribution.CCKeyRegistrationMessage\", got type URL \"github.com/fpc/key_distribution.ExportMessage\"",
        |w| w.register_keys(&wrong_type),
    );
    w.refused(
        "invalid key registration message: input too large: 65537 bytes of base64, the limit is 65536",
        |w| w.register_keys(&"A".repeat(65537)),
    );
    w.refused(
        "invalid key registration message: illegal base64 data at input byte 3",
        |w| w.register_keys("not base64"),
    );
    // Another organisation submits E1's message.
    w.as_org("Org2MSP").refused(
        "creator identity evaluation failed: creator msp does not match owner msp",
        |w| w.register_keys(&good_text),
    );
    // The definition moved to another MRENCLAVE: E1 can no longer endorse.
    let saved = w.ledger.definitions.clone();
    w.ledger.define_chaincode(CC, &"cd".repeat(32), 2);
    w.as_org("Org1MSP").refused(
        &format!("enclave {e1_id} cannot endorse chaincode {CC}: its mrenclave does not match the chaincode definition"),
        |w| w.register_keys(&good_text),
    );
    w.ledger.definitions = saved;

    // Accepted once; the replay and a second, different key are refused.
    w.register_keys(&good_text).unwrap();
    w.refused(
        &format!("enclave {e1_id} is already provisioned for chaincode {CC}"),
        |w| w.register_keys(&good_text),
    );
    let e2_other_key = signed_registration(&w.e2, &w.e2.key_registration(b"another key"));
    w.as_org("Org2MSP").refused(
        &format!(
            "chaincode_ek differs from the chaincode encryption key registered for chaincode {CC}"
        ),
        |w| w.register_keys(&e2_other_key),
    );
}

#[test]
fn exports_refused_with_reasons() {
    let mut w = World::registered();
    let (e1_id, e2_id) = (w.e1.id(), w.e2.id());
    let export = signed_export(&w.e1, &w.e1.export(&w.e2, CC_EK));
    w.as_org("Org1MSP").refused(
        &format!(
            "sender enclave {e1_id} is not provisioned with chaincode keys for chaincode {CC}"
        ),
        |w| w.put_export(&export),
    );

    let mut w = World::e1_provisioned();
    let stranger = TestEnclave::new(9, "Org3MSP", "x:1");
    let cases = [
        (
            signed_export(&w.e1, &w.e1.export(&stranger, CC_EK)),
            format!(
                "receiver enclave {} is not registered for chaincode {CC}",
                stranger.id()
            ),
        ),
        (
            signed_export(&w.e1, &w.e1.export(&w.e1, CC_EK)),
            format!("sender and receiver are the same enclave {e1_id}"),
        ),
        (
            signed_export(&w.e2, &w.e1.export(&w.e2, CC_EK)),
            format!("invalid signature of enclave {e1_id}: signature does not verify"),
        ),
        (
            signed_export(&w.e1, &w.e1.export(&w.e2, b"another key")),
            format!("the export's chaincode_ek is not the key sender enclave {e1_id} registered"),
        ),
        (
            signed_export(&stranger, &stranger.export(&w.e2, CC_EK)),
            format!("sender enclave {} is not registered", stranger.id()),
        ),
        (
            signed_export(
                &w.e1,
                &ExportMessage {
                    cckeys_enc: vec![],
                    ..w.e1.export(&w.e2, CC_EK)
                },
            ),
            "invalid export message: cckeys_enc is empty".to_owned(),
        ),
    ];
    w.as_org("Org1MSP");
    for (text, message) in &cases {
        w.refused(message, |w| w.put_export(text));
    }
    // Only the sender's organisation submits its export.
    let good = signed_export(&w.e1, &w.e1.export(&w.e2, CC_EK));
    w.as_org("Org2MSP").refused(
        "creator identity evaluation failed: creator msp does not match owner msp",
        |w| w.put_export(&good),
    );
    // Accepted once; the replay is refused.
    w.as_org("Org1MSP").put_export(&good).unwrap();
    w.refused(
        &format!("an export to enclave {e2_id} of chaincode {CC} is already stored"),
        |w| w.put_export(&good),
    );

    // After the import the receiver is provisioned: no export to it any more.
    let mut w = World::exported();
    let e2_reg = signed_registration(&w.e2, &w.e2.key_registration(CC_EK));
    w.as_org("Org2MSP").register_keys(&e2_reg).unwrap();
    let back = signed_export(&w.e2, &w.e2.export(&w.e1, CC_EK));
    w.refused(
        &format!("enclave {e1_id} is already provisioned for chaincode {CC}"),
        |w| w.put_export(&back),
    );
}

#[test]
fn receiver_needs_an_attested_encryption_key() {
    let mut w = World::e1_provisioned();
    // A third organisation's enclave without enclave_ek (an FPC MVP enclave).
    w.registry = Registry::new(FakeVerifier::default())
        .with_policy(RegistryPolicy::from_vars([(ENV_MAX_ENCLAVES_PER_CHAINCODE, "3")]).unwrap());
    let e3 = TestEnclave::new(3, "Org3MSP", "peer0.org3:7051");
    let mut ad = e3.attested();
    ad.enclave_ek.clear();
    w.as_org("Org3MSP");
    w.registry
        .register_enclave(&mut w.ledger, &b64(&credentials_for(&ad)))
        .unwrap();
    let text = signed_export(&w.e1, &w.e1.export(&e3, CC_EK));
    w.as_org("Org1MSP").refused(
        &format!(
            "receiver enclave {} has no attested enclave_ek to encrypt an export to",
            e3.id()
        ),
        |w| w.put_export(&text),
    );
}

#[test]
fn policy_limits_enclaves_and_organisations() {
    let mut w = World::registered();
    let e3 = TestEnclave::new(3, "Org3MSP", "peer0.org3:7051");
    w.as_org("Org3MSP");
    let creds = e3.credentials();
    w.refused(
        &format!("chaincode {CC} already has 2 enclaves registered, the registry policy allows at most 2"),
        |w| w.registry.register_enclave(&mut w.ledger, &creds),
    );
    w.registry = Registry::new(FakeVerifier::default())
        .with_policy(RegistryPolicy::from_vars([(ENV_MAX_ENCLAVES_PER_CHAINCODE, "3")]).unwrap());
    let second_org1 = TestEnclave::new(4, "Org1MSP", "peer1.org1:7051");
    let creds = second_org1.credentials();
    w.as_org("Org1MSP").refused(
        &format!("organisation Org1MSP already has an enclave registered for chaincode {CC}"),
        |w| w.registry.register_enclave(&mut w.ledger, &creds),
    );
}

#[test]
fn single_enclave_mode_keeps_fpc_answers_and_upgrades_the_placeholder() {
    // Default policy: exactly FPC's registration (credentials + placeholder).
    let registry = Registry::new(FakeVerifier::default());
    let mut ledger = MemLedger::new(CHANNEL, NOW, "Org1MSP");
    ledger.define_chaincode(CC, &mrenclave(), 1);
    let e1 = TestEnclave::new(1, "Org1MSP", "peer0.org1:7051");
    registry
        .register_enclave(&mut ledger, &e1.credentials())
        .unwrap();
    let marker = keys::provisioned_key(CC, &e1.id()).unwrap();
    assert_eq!(ledger.state[&marker], keys::PROVISIONED_PLACEHOLDER);
    assert_eq!(
        registry
            .query_chaincode_encryption_key(&mut ledger, CC)
            .unwrap(),
        STANDARD.encode(b"ek-of-peer0.org1:7051")
    );
    let e2 = TestEnclave::new(2, "Org2MSP", "peer0.org2:7051");
    ledger.creator_msp_id = Some("Org2MSP".into());
    let err = registry
        .register_enclave(&mut ledger, &e2.credentials())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("an enclave is already registered for chaincode {CC}")
    );

    // registerCCKeys replaces the placeholder; the registered key is the answer from then on.
    ledger.creator_msp_id = Some("Org1MSP".into());
    let text = signed_registration(&e1, &e1.key_registration(CC_EK));
    registry.register_cc_keys(&mut ledger, &text).unwrap();
    assert_eq!(ledger.state[&marker], text.as_bytes());
    assert_eq!(
        registry
            .query_chaincode_encryption_key(&mut ledger, CC)
            .unwrap(),
        STANDARD.encode(CC_EK)
    );
    assert_eq!(
        registry
            .query_list_provisioned_enclaves(&mut ledger, CC)
            .unwrap(),
        Some(vec![e1.id()])
    );
}

#[test]
fn raw_32_byte_enclave_ids_are_accepted() {
    let mut w = World::registered();
    let mut msg = w.e1.key_registration(CC_EK);
    msg.enclave_id = hex::decode(w.e1.id()).unwrap();
    let text = signed_registration(&w.e1, &msg);
    w.as_org("Org1MSP").register_keys(&text).unwrap();
}

/// FPC #313's upgrade path: after the definition moves to v2, the v1 enclave (provisioned)
/// exports the chaincode keys to the v2 enclave only when the policy allows upgrade
/// transfers; then clients see the v2 enclave, holding the same key.
#[test]
fn upgrade_transfer_from_the_old_version_needs_the_policy() {
    const V2: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
    for allowed in [false, true] {
        let policy = RegistryPolicy::from_vars([
            (ENV_MAX_ENCLAVES_PER_CHAINCODE, "2"),
            ("ERCC_CURRENT_DEFINITION_ONLY", "true"),
            (
                "ERCC_ALLOW_UPGRADE_TRANSFER",
                if allowed { "true" } else { "false" },
            ),
        ])
        .unwrap();
        let mut w = World::registered();
        w.registry = Registry::new(FakeVerifier::default()).with_policy(policy);
        let text = signed_registration(&w.e1, &w.e1.key_registration(CC_EK));
        w.as_org("Org1MSP").register_keys(&text).unwrap();

        // Upgrade; E3 (Org1, v2) registers although Org1's v1 enclave is still registered.
        w.ledger.define_chaincode(CC, V2, 2);
        let e3 = TestEnclave::new(3, "Org1MSP", "peer1.org1:7051");
        let mut ad = e3.attested();
        let cc = ad.cc_params.as_mut().unwrap();
        cc.version = V2.into();
        cc.sequence = 2;
        let v2_params_hash = Sha256::digest(cc.encode_to_vec()).to_vec();
        w.registry
            .register_enclave(&mut w.ledger, &b64(&credentials_for(&ad)))
            .unwrap();

        let export = signed_export(&w.e1, &w.e1.export(&e3, CC_EK));
        if !allowed {
            let message = format!(
                "sender enclave {} runs an earlier definition of chaincode {CC}: the registry policy does not allow upgrade transfers",
                w.e1.id()
            );
            w.refused(&message, |w| w.put_export(&export));
            continue;
        }
        w.put_export(&export).unwrap();
        let import = CcKeyRegistrationMessage {
            cc_params_hash: v2_params_hash,
            chaincode_ek: CC_EK.to_vec(),
            enclave_id: e3.id().into_bytes(),
        };
        w.register_keys(&signed_registration(&e3, &import)).unwrap();
        assert_eq!(w.provisioned(), Some(vec![e3.id()]));
        assert_eq!(
            w.registry
                .query_chaincode_end_points(&mut w.ledger, CC)
                .unwrap(),
            "peer1.org1:7051"
        );
        assert_eq!(
            w.registry
                .query_chaincode_encryption_key(&mut w.ledger, CC)
                .unwrap(),
            STANDARD.encode(CC_EK)
        );
    }
}

/// [`MemLedger`] counting the `_lifecycle` calls (each is a round trip to the peer).
struct CountingLedger<'a> {
    inner: &'a mut MemLedger,
    definition_queries: usize,
}

impl crate::ledger::RegistryLedger for CountingLedger<'_> {
    fn channel_id(&self) -> &str {
        self.inner.channel_id()
    }

    fn tx_timestamp_unix(&self) -> Option<i64> {
        self.inner.tx_timestamp_unix()
    }

    fn creator_msp_id(&self) -> Option<&str> {
        self.inner.creator_msp_id()
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, crate::ledger::LedgerError> {
        self.inner.get_state(key)
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), crate::ledger::LedgerError> {
        self.inner.put_state(key, value)
    }

    fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attrs: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, crate::ledger::LedgerError> {
        self.inner
            .get_state_by_partial_composite_key(object_type, attrs)
    }

    fn query_chaincode_definition(
        &mut self,
        chaincode_id: &str,
    ) -> Result<
        fabric_protos::lifecycle::QueryChaincodeDefinitionResult,
        crate::ledger::DefinitionError,
    > {
        self.definition_queries += 1;
        self.inner.query_chaincode_definition(chaincode_id)
    }
}

#[test]
fn an_export_asks_lifecycle_once_for_sender_and_receiver() {
    let mut w = World::e1_provisioned();
    // The default policy refuses upgrade transfers, so the sender is checked too.
    assert!(!w.registry.policy().allow_upgrade_transfer);
    let text = signed_export(&w.e1, &w.e1.export(&w.e2, CC_EK));
    w.as_org("Org1MSP");
    let mut ledger = CountingLedger {
        inner: &mut w.ledger,
        definition_queries: 0,
    };
    w.registry.put_key_export(&mut ledger, &text).unwrap();
    assert_eq!(ledger.definition_queries, 1);
}

/// The fake verifier's verdicts, as `dcap` (so enclaves can be re-appraised); every
/// re-appraisal revokes.
struct RevokingVerifier;

impl CredentialsVerifier for RevokingVerifier {
    fn verify(
        &self,
        evidence: &[u8],
        mrenclave: &str,
        statement: &[u8],
        now: i64,
    ) -> Result<Judgement, VerifierError> {
        let judgement = FakeVerifier::default().verify(evidence, mrenclave, statement, now)?;
        Ok(Judgement {
            evidence_type: "dcap".into(),
            tcb_info: Some(tcb_info(NOW - 1)),
            ..judgement
        })
    }

    fn reappraise(&self, _: &ReappraisalInput<'_>) -> Result<Rejudgement, VerifierError> {
        Ok(Rejudgement {
            tcb_info: tcb_info(NOW),
            status: Some("OutOfDate".into()),
            advisory_ids: vec![],
            rejected: Some("TCB status OutOfDate not accepted".into()),
        })
    }
}

fn tcb_info(issue_date: i64) -> TcbInfoRecord {
    TcbInfoRecord {
        fmspc: "00906ED50000".into(),
        issue_date,
        evaluation_data_number: Some(1),
    }
}

/// A revoked enclave takes no part in key distribution: it can neither import the keys nor
/// export them, though its organisation's messages are otherwise valid.
#[test]
fn a_revoked_enclave_neither_receives_nor_sends_keys() {
    let mut w = World::registered_with(RevokingVerifier);
    let e1_reg = signed_registration(&w.e1, &w.e1.key_registration(CC_EK));
    w.as_org("Org1MSP").register_keys(&e1_reg).unwrap();
    let export = signed_export(&w.e1, &w.e1.export(&w.e2, CC_EK));
    let (e1_id, e2_id) = (w.e1.id(), w.e2.id());

    // The receiver is revoked: the export is refused, and so is its key registration.
    w.registry
        .reappraise_enclave(&mut w.ledger, CC, &e2_id, "{}")
        .unwrap();
    w.as_org("Org1MSP").refused(
        &format!("receiver enclave {e2_id} is not registered for chaincode {CC}"),
        |w| w.put_export(&export),
    );
    let e2_reg = signed_registration(&w.e2, &w.e2.key_registration(CC_EK));
    w.as_org("Org2MSP")
        .refused(&format!("enclave {e2_id} is not registered"), |w| {
            w.register_keys(&e2_reg)
        });

    // The provisioned sender is revoked: it can no longer export.
    w.registry
        .reappraise_enclave(&mut w.ledger, CC, &e1_id, "{}")
        .unwrap();
    w.as_org("Org1MSP")
        .refused(&format!("sender enclave {e1_id} is not registered"), |w| {
            w.put_export(&export)
        });
    assert_eq!(w.provisioned(), None);
}
