//! Bodies of the `cargo fuzz` targets in the repository's `fuzz/` directory, kept here
//! so they build with the crate and run in ordinary unit tests on garbage inputs (the
//! fuzz targets need nightly; these tests do not).
//!
//! Each body panics only when an invariant breaks: a parser panicking, or a registry
//! function (`registerEnclave`, `registerCCKeys`, `putKeyExport`) writing state although it
//! failed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::credentials;
use crate::ledger::MemLedger;
use crate::lifecycle::Judgement;
use crate::registry::{CredentialsVerifier, Registry, VerifierError};

/// Channel, chaincode, MRENCLAVE and MSP of the ledger the contract target runs on;
/// seeds built from them reach every check.
pub const FUZZ_CHANNEL: &str = "ch";
/// Chaincode of the fuzz world.
pub const FUZZ_CHAINCODE: &str = "cc";
/// MRENCLAVE (the chaincode definition's version) of the fuzz world.
pub const FUZZ_MRENCLAVE: &str = "abababababababababababababababababababababababababababababababab";
/// Organisation of the fuzz world's creator and first enclave.
pub const FUZZ_MSP: &str = "Org1MSP";
/// Evidence the fake verifier of the contract target accepts.
pub const FUZZ_GOOD_EVIDENCE: &[u8] = b"ok";

/// Target `credentials`: the bytes as base64 text, and as protobuf (base64-encoded first).
pub fn credentials(data: &[u8]) {
    credentials_and(data, |_| {});
}

/// [`credentials`], also handing each text to `also` (the fuzz target passes `ercc
/// inspect`'s `inspect_credentials`, which lives with the operator tools).
pub fn credentials_and(data: &[u8], also: impl Fn(&str)) {
    let text = String::from_utf8_lossy(data);
    parse_all_the_way(&text, &also);
    if data.len() <= credentials::MAX_CREDENTIALS_BASE64_LEN / 4 * 3 {
        parse_all_the_way(&STANDARD.encode(data), &also);
    }
}

fn parse_all_the_way(text: &str, also: &impl Fn(&str)) {
    if let Ok(creds) = credentials::decode_credentials(text) {
        if let Ok(ad) = credentials::decode_attested_data(&creds) {
            let id = credentials::enclave_id(&ad.enclave_vk);
            assert_eq!(id.len(), 64);
        }
    }
    also(text);
}

struct PrefixVerifier;

impl CredentialsVerifier for PrefixVerifier {
    fn verify(
        &self,
        evidence: &[u8],
        expected: &str,
        _: &[u8],
        _: i64,
    ) -> Result<Judgement, VerifierError> {
        if evidence.starts_with(FUZZ_GOOD_EVIDENCE) && expected == FUZZ_MRENCLAVE {
            Ok(Judgement::default())
        } else {
            Err(VerifierError::Refused("fake verifier refuses".into()))
        }
    }
}

/// Target `register_enclave`: the contract entry point over a [`MemLedger`] with a fake
/// verifier. First byte even: the rest is protobuf credentials; odd: base64 text. Then
/// every query and the lifecycle functions run on the attested chaincode and on the input as
/// a chaincode id.
pub fn register_enclave(data: &[u8]) {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let text = if mode % 2 == 0 {
        STANDARD.encode(rest)
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    let registry = Registry::new(PrefixVerifier);
    let mut ledger = MemLedger::new(FUZZ_CHANNEL, 1_700_000_000, FUZZ_MSP);
    ledger.define_chaincode(FUZZ_CHAINCODE, FUZZ_MRENCLAVE, 1);

    let result = registry.register_enclave(&mut ledger, &text);
    match &result {
        Ok(()) => assert_eq!(ledger.state.len(), 3, "a registration writes three keys"),
        Err(_) => {
            assert!(ledger.state.is_empty(), "failed registration wrote state");
            assert_eq!(ledger.puts, 0, "failed registration attempted a write");
        }
    }
    // A second registration for the same chaincode must always fail and write nothing.
    if result.is_ok() {
        let before = ledger.state.clone();
        assert!(registry.register_enclave(&mut ledger, &text).is_err());
        assert_eq!(ledger.state, before);
    }
    for cc in [FUZZ_CHAINCODE, text.as_str()] {
        let _ = registry.query_list_enclave_credentials(&mut ledger, cc);
        let _ = registry.query_enclave_credentials(&mut ledger, cc, &text);
        let _ = registry.query_list_provisioned_enclaves(&mut ledger, cc);
        let _ = registry.query_chaincode_end_points(&mut ledger, cc);
        let _ = registry.query_chaincode_encryption_key(&mut ledger, cc);
        let _ = registry.query_enclave_status(&mut ledger, cc, &text);
        // The lifecycle writes, with the input as ids and collateral: a refusal writes nothing.
        let before = ledger.state.clone();
        if registry
            .reappraise_enclave(&mut ledger, cc, &text, &text)
            .is_err()
        {
            assert_eq!(ledger.state, before, "refused re-appraisal wrote state");
        }
        if registry.retire_enclave(&mut ledger, cc, &text).is_err() {
            assert_eq!(ledger.state, before, "refused retirement wrote state");
        }
    }
    let before = ledger.state.clone();
    if registry.migrate_revocations(&mut ledger).is_err() {
        assert_eq!(ledger.state, before, "refused migration wrote state");
    }
}

/// Seed inputs for the `register_enclave` target: a registration that succeeds, in
/// both input modes, so mutations start next to every check.
pub fn register_enclave_seeds() -> Vec<Vec<u8>> {
    let text = WorldEnclave::new(1, FUZZ_MSP).credentials;
    let creds = STANDARD
        .decode(&text)
        .unwrap_or_else(|e| panic!("world credentials: {e}"));
    let mut raw = vec![0u8];
    raw.extend_from_slice(&creds);
    let mut text = vec![1u8];
    text.extend_from_slice(STANDARD.encode(&creds).as_bytes());
    vec![raw, text]
}

/// An enclave of the key-distribution fuzz world: a fixed key, its org and its credentials.
struct WorldEnclave {
    key: crate::keydist::EnclaveKey,
    credentials: String,
}

impl WorldEnclave {
    fn new(seed: u8, msp: &str) -> Self {
        use crate::proto::{AttestedData, CcParameters, Credentials, HostParameters};
        use prost::Message;
        let key =
            crate::keydist::EnclaveKey::fixed(seed).unwrap_or_else(|e| panic!("world key: {e}"));
        let ad = AttestedData {
            cc_params: Some(CcParameters {
                chaincode_id: FUZZ_CHAINCODE.into(),
                version: FUZZ_MRENCLAVE.into(),
                sequence: 1,
                channel_id: FUZZ_CHANNEL.into(),
            }),
            host_params: Some(HostParameters {
                peer_msp_id: msp.into(),
                peer_endpoint: format!("peer0.{msp}:7051"),
                certificate: vec![],
            }),
            enclave_vk: key.vk_pem().to_vec(),
            enclave_ek: b"enclave-ek".to_vec(),
            ..Default::default()
        };
        let credentials = STANDARD.encode(
            Credentials {
                serialized_attested_data: Some(prost_types::Any {
                    type_url: crate::proto::ATTESTED_DATA_TYPE_URL.into(),
                    value: ad.encode_to_vec(),
                }),
                attestation: vec![],
                evidence: FUZZ_GOOD_EVIDENCE.to_vec(),
            }
            .encode_to_vec(),
        );
        Self { key, credentials }
    }

    /// SHA-256 of the CCParameters bytes in its attested data (field 1).
    fn cc_params_hash(&self) -> Vec<u8> {
        let creds = credentials::decode_credentials(&self.credentials)
            .unwrap_or_else(|e| panic!("world credentials: {e}"));
        let any = creds.serialized_attested_data.unwrap_or_default();
        crate::keydist::cc_params_hash(&any.value)
            .unwrap_or_else(|e| panic!("world cc_params: {e}"))
            .to_vec()
    }

    /// Protobuf `SignedCCKeyRegistrationMessage` of [`FUZZ_CC_EK`].
    fn key_registration(&self) -> Vec<u8> {
        self.key
            .sign_key_registration(&crate::proto::CcKeyRegistrationMessage {
                cc_params_hash: self.cc_params_hash(),
                chaincode_ek: FUZZ_CC_EK.to_vec(),
                enclave_id: self.key.id().into_bytes(),
            })
    }

    /// Protobuf `SignedExportMessage` of [`FUZZ_CC_EK`] to `to`.
    fn export(&self, to: &WorldEnclave) -> Vec<u8> {
        self.key.sign_export(&crate::proto::ExportMessage {
            cc_params_hash: self.cc_params_hash(),
            chaincode_ek: FUZZ_CC_EK.to_vec(),
            cckeys_enc: b"sealed".to_vec(),
            receiver_enclave_vk: to.key.vk_pem().to_vec(),
            sender_enclave_vk: self.key.vk_pem().to_vec(),
        })
    }
}

/// Chaincode encryption key of the key-distribution fuzz world.
pub const FUZZ_CC_EK: &[u8] =
    b"-----BEGIN RSA PUBLIC KEY-----\nfuzz\n-----END RSA PUBLIC KEY-----\n";

/// The key-distribution world: three organisations' enclaves registered (policy max 3), E1
/// provisioned with [`FUZZ_CC_EK`], an export E1 → E2 stored; E3 neither. Built once.
fn key_world() -> &'static (MemLedger, [WorldEnclave; 3]) {
    static WORLD: std::sync::OnceLock<(MemLedger, [WorldEnclave; 3])> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| {
        let enclaves = [
            WorldEnclave::new(1, "Org1MSP"),
            WorldEnclave::new(2, "Org2MSP"),
            WorldEnclave::new(3, "Org3MSP"),
        ];
        let registry = key_registry();
        let mut ledger = MemLedger::new(FUZZ_CHANNEL, 1_700_000_000, FUZZ_MSP);
        ledger.define_chaincode(FUZZ_CHAINCODE, FUZZ_MRENCLAVE, 1);
        let must = |r: Result<(), crate::RegistryError>| r.unwrap_or_else(|e| panic!("world: {e}"));
        for (e, msp) in enclaves.iter().zip(["Org1MSP", "Org2MSP", "Org3MSP"]) {
            ledger.creator_msp_id = Some(msp.into());
            must(registry.register_enclave(&mut ledger, &e.credentials));
        }
        ledger.creator_msp_id = Some("Org1MSP".into());
        must(registry.register_cc_keys(
            &mut ledger,
            &STANDARD.encode(enclaves[0].key_registration()),
        ));
        must(registry.put_key_export(
            &mut ledger,
            &STANDARD.encode(enclaves[0].export(&enclaves[1])),
        ));
        ledger.puts = 0;
        (ledger, enclaves)
    })
}

fn key_registry() -> Registry {
    let policy = crate::registry_policy::RegistryPolicy::from_vars([(
        crate::registry_policy::ENV_MAX_ENCLAVES_PER_CHAINCODE,
        "3",
    )])
    .unwrap_or_else(|e| panic!("policy: {e}"));
    Registry::new(PrefixVerifier).with_policy(policy)
}

/// First byte: bits 0-1 pick the creator (Org1/2/3MSP), bit 2 picks text (set) or protobuf
/// (base64-encoded here) for the rest.
fn key_input(data: &[u8]) -> Option<(String, String)> {
    let (mode, rest) = data.split_first()?;
    let msp = format!("Org{}MSP", (mode & 3) % 3 + 1);
    let text = if mode & 4 == 0 {
        STANDARD.encode(rest)
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    Some((msp, text))
}

/// Runs one key-distribution function on a copy of the world; a failure must write nothing,
/// a success must write something; then the queries run.
fn key_function(
    data: &[u8],
    f: impl Fn(&Registry, &mut MemLedger, &str) -> Result<(), crate::RegistryError>,
) {
    let Some((msp, text)) = key_input(data) else {
        return;
    };
    let (world, _) = key_world();
    let mut ledger = world.clone();
    ledger.creator_msp_id = Some(msp);
    let registry = key_registry();
    match f(&registry, &mut ledger, &text) {
        Ok(()) => assert!(ledger.puts > 0, "a success wrote nothing"),
        Err(_) => {
            assert_eq!(ledger.state, world.state, "a failure changed state");
            assert_eq!(ledger.puts, 0, "a failure attempted a write");
        }
    }
    let _ = registry.query_chaincode_encryption_key(&mut ledger, FUZZ_CHAINCODE);
    let _ = registry.query_list_provisioned_enclaves(&mut ledger, FUZZ_CHAINCODE);
    let _ = registry.get_key_export(&mut ledger, FUZZ_CHAINCODE, &text);
}

/// Target `register_cc_keys`: `registerCCKeys` on the key world (see [`key_input`]).
pub fn register_cc_keys(data: &[u8]) {
    key_function(data, |r, l, t| r.register_cc_keys(l, t));
}

/// Target `put_key_export`: `putKeyExport` on the key world (see [`key_input`]).
pub fn put_key_export(data: &[u8]) {
    key_function(data, |r, l, t| r.put_key_export(l, t));
}

/// Seeds: E2's import registration (accepted) and E1's export to E3 (accepted), each as
/// protobuf from Org1/Org2 and as base64 text.
pub fn key_distribution_seeds() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (_, e) = key_world();
    let seeds = |creator: u8, msg: Vec<u8>| {
        let mut raw = vec![creator];
        raw.extend_from_slice(&msg);
        let mut text = vec![creator | 4];
        text.extend_from_slice(STANDARD.encode(&msg).as_bytes());
        vec![raw, text]
    };
    (
        seeds(1, e[1].key_registration()),
        seeds(0, e[0].export(&e[2])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..=rng.below(4) {
            match rng.below(4) {
                0 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v[i] = rng.next() as u8;
                }
                1 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v.truncate(i.max(1));
                }
                2 => {
                    let i = rng.below(v.len() + 1);
                    v.insert(i, rng.next() as u8);
                }
                _ if v.len() > 1 => {
                    let i = rng.below(v.len() - 1) + 1;
                    v.remove(i);
                }
                _ => {}
            }
        }
        v
    }

    /// Regenerates `fuzz/corpus/*/seed-*`: `cargo test -p ercc-registry -- --ignored write_seed_corpus`.
    #[test]
    #[ignore = "writes the fuzz seed corpus into the source tree"]
    fn write_seed_corpus() {
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        for (i, seed) in register_enclave_seeds().iter().enumerate() {
            for (target, bytes) in [("register_enclave", &seed[..]), ("credentials", &seed[1..])] {
                let dir = fuzz.join(target);
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(format!("seed-{i}")), bytes).unwrap();
            }
        }
        let (regs, exports) = key_distribution_seeds();
        for (target, seeds) in [("register_cc_keys", regs), ("put_key_export", exports)] {
            let dir = fuzz.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for (i, seed) in seeds.iter().enumerate() {
                std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
            }
        }
    }

    #[test]
    fn seeds_register_successfully() {
        for seed in register_enclave_seeds() {
            let text = if seed[0] % 2 == 0 {
                STANDARD.encode(&seed[1..])
            } else {
                String::from_utf8(seed[1..].to_vec()).unwrap()
            };
            let registry = Registry::new(PrefixVerifier);
            let mut ledger = MemLedger::new(FUZZ_CHANNEL, 0, FUZZ_MSP);
            ledger.define_chaincode(FUZZ_CHAINCODE, FUZZ_MRENCLAVE, 1);
            registry.register_enclave(&mut ledger, &text).unwrap();
            register_enclave(&seed);
        }
    }

    #[test]
    fn key_distribution_seeds_are_accepted() {
        let (regs, exports) = key_distribution_seeds();
        for (seeds, is_reg) in [(regs, true), (exports, false)] {
            for seed in seeds {
                let (msp, text) = key_input(&seed).unwrap();
                let mut ledger = key_world().0.clone();
                ledger.creator_msp_id = Some(msp);
                let r = if is_reg {
                    key_registry().register_cc_keys(&mut ledger, &text)
                } else {
                    key_registry().put_key_export(&mut ledger, &text)
                };
                r.unwrap();
            }
        }
    }

    #[test]
    fn mutated_key_messages_never_panic_or_write_on_failure() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let (regs, exports) = key_distribution_seeds();
        for i in 0..1500 {
            let pick = |seeds: &Vec<Vec<u8>>, rng: &mut Rng| mutate(rng, &seeds[i % seeds.len()]);
            let reg = pick(&regs, &mut rng);
            let export = pick(&exports, &mut rng);
            register_cc_keys(&reg);
            put_key_export(&export);
            // Cross-fed and pure garbage.
            register_cc_keys(&export);
            let garbage: Vec<u8> = (0..rng.below(120)).map(|_| rng.next() as u8).collect();
            put_key_export(&garbage);
        }
    }

    #[test]
    fn garbage_and_mutated_seeds_never_panic_or_write_on_failure() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let seeds = register_enclave_seeds();
        for i in 0..3000 {
            let input = if i % 3 == 0 {
                (0..rng.below(200)).map(|_| rng.next() as u8).collect()
            } else {
                mutate(&mut rng, &seeds[i % 2])
            };
            credentials(&input);
            register_enclave(&input);
        }
    }
}
