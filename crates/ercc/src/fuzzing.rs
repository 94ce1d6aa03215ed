//! Bodies of the `cargo fuzz` targets in the repository's `fuzz/` directory, kept here
//! so they build with the crate and run in ordinary unit tests on garbage inputs (the
//! fuzz targets need nightly; these tests do not).
//!
//! Each body panics only when an invariant breaks: a parser panicking, or
//! `registerEnclave` writing state although it failed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::credentials;
use crate::ledger::MemLedger;
use crate::lifecycle::Judgement;
use crate::registry::{EvidenceVerifier, Registry};

/// Channel, chaincode, MRENCLAVE and MSP of the ledger the contract target runs on;
/// seeds built from them reach every check.
pub const FUZZ_CHANNEL: &str = "ch";
pub const FUZZ_CHAINCODE: &str = "cc";
pub const FUZZ_MRENCLAVE: &str = "abababababababababababababababababababababababababababababababab";
pub const FUZZ_MSP: &str = "Org1MSP";
/// Evidence the fake verifier of the contract target accepts.
pub const FUZZ_GOOD_EVIDENCE: &[u8] = b"ok";

/// Target `credentials`: the bytes as base64 text, and as protobuf (base64-encoded first).
pub fn credentials(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    parse_all_the_way(&text);
    if data.len() <= credentials::MAX_CREDENTIALS_BASE64_LEN / 4 * 3 {
        parse_all_the_way(&STANDARD.encode(data));
    }
}

fn parse_all_the_way(text: &str) {
    if let Ok(creds) = credentials::decode_credentials(text) {
        if let Ok(ad) = credentials::decode_attested_data(&creds) {
            let id = credentials::enclave_id(&ad.enclave_vk);
            assert_eq!(id.len(), 64);
        }
    }
    let _ = crate::inspect::inspect_credentials(text);
}

struct PrefixVerifier;

impl EvidenceVerifier for PrefixVerifier {
    fn verify(
        &self,
        evidence: &[u8],
        expected: &str,
        _: &[u8],
        _: i64,
    ) -> Result<Judgement, String> {
        if evidence.starts_with(FUZZ_GOOD_EVIDENCE) && expected == FUZZ_MRENCLAVE {
            Ok(Judgement::default())
        } else {
            Err("fake verifier refuses".into())
        }
    }
}

/// Target `register_enclave`: the contract entry point over a [`MemLedger`] with a fake
/// verifier. First byte even: the rest is protobuf credentials; odd: base64 text. Then
/// every query runs on the attested chaincode and on the input as a chaincode id.
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
    }
}

/// Seed inputs for the `register_enclave` target: a registration that succeeds, in
/// both input modes, so mutations start next to every check.
pub fn register_enclave_seeds() -> Vec<Vec<u8>> {
    use crate::proto::{AttestedData, CcParameters, Credentials, HostParameters};
    use prost::Message;
    let ad = AttestedData {
        cc_params: Some(CcParameters {
            chaincode_id: FUZZ_CHAINCODE.into(),
            version: FUZZ_MRENCLAVE.into(),
            sequence: 1,
            channel_id: FUZZ_CHANNEL.into(),
        }),
        host_params: Some(HostParameters {
            peer_msp_id: FUZZ_MSP.into(),
            peer_endpoint: "peer0:7051".into(),
            certificate: vec![],
        }),
        enclave_vk: b"vk".to_vec(),
        chaincode_ek: b"ek".to_vec(),
        ..Default::default()
    };
    let creds = Credentials {
        serialized_attested_data: Some(prost_types::Any {
            type_url: crate::proto::ATTESTED_DATA_TYPE_URL.into(),
            value: ad.encode_to_vec(),
        }),
        attestation: vec![],
        evidence: FUZZ_GOOD_EVIDENCE.to_vec(),
    }
    .encode_to_vec();
    let mut raw = vec![0u8];
    raw.extend_from_slice(&creds);
    let mut text = vec![1u8];
    text.extend_from_slice(STANDARD.encode(&creds).as_bytes());
    vec![raw, text]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
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

    /// Regenerates `fuzz/corpus/*/seed-*`: `cargo test -p ercc -- --ignored write_seed_corpus`.
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
