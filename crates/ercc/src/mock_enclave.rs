//! `ercc mock-enclave`: an FPC enclave without SGX, for trying the registry and for tests.
//! It keeps one enclave's keys in a JSON state file and produces what a real enclave and
//! its peer CLI would submit: credentials, the key registration after generating chaincode
//! keys, an export to another enclave, and the key registration after importing an export.
//!
//! Its evidence is `simulated` (or evidence produced elsewhere, e.g. by a test PKI, over the
//! statement `mock-enclave statement` prints): nothing it makes is hardware evidence, so the
//! default attestation policy refuses its credentials. Message formats and the `cckeys_enc`
//! scheme are those of `docs/key-distribution.md`; the messages go through [`keydist`].
//!
//! Crypto, as FPC's enclave: ECDSA P-256 identity (SEC1 PEM secret, SPKI PEM `enclave_vk`,
//! DER signatures over SHA-256), RSA-3072 OAEP-SHA1 encryption keys (PKCS#1 PEM), a 16-byte
//! state encryption key. The state file holds secrets in clear: it is a mock.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes128Gcm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use p256::ecdsa::SigningKey;
use p256::pkcs8::LineEnding;
use prost::Message;
use prost_types::Any;
use rand_core::{OsRng, RngCore};
use rsa::pkcs1::{
    DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey, EncodeRsaPublicKey,
};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::credentials;
use crate::keydist::{self, EnclaveKey};
use crate::proto::{
    AttestedData, CcKeyRegistrationMessage, CcParameters, Credentials, ExportMessage,
    HostParameters, ATTESTED_DATA_TYPE_URL,
};

/// RSA modulus size of FPC's encryption keys.
pub const RSA_BITS: usize = 3072;
/// Length of the state encryption key (AES-128).
pub const SEK_LEN: usize = 16;
const GCM_NONCE_LEN: usize = 12;
/// Largest state file read (one enclave's PEM keys are a few KiB): a wrong `--state` path fails
/// fast instead of filling memory.
pub const MAX_STATE_BYTES: u64 = 1024 * 1024;
/// Largest `--evidence-file` read: the base64 credentials limit, since evidence any larger
/// would make credentials the registry refuses.
pub const MAX_EVIDENCE_BYTES: u64 = credentials::MAX_CREDENTIALS_BASE64_LEN as u64;

/// `ercc mock-enclave` arguments.
#[derive(Debug, clap::Args)]
pub struct MockEnclaveArgs {
    /// The enclave's state file (JSON with its keys; created by `init`).
    #[arg(
        long,
        value_name = "PATH",
        global = true,
        default_value = "mock-enclave.json"
    )]
    pub state: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: MockCommand,
}

/// What the mock enclave does. Arguments that take a message accept base64 text or `@PATH`.
#[derive(Debug, clap::Subcommand)]
pub enum MockCommand {
    /// Create an enclave (fresh keys) for a chaincode definition on a host; prints its id.
    Init(InitArgs),
    /// Print the enclave id (upper-case hex SHA-256 of its enclave_vk PEM).
    Id,
    /// Print base64 of the attested data: the statement evidence must bind.
    Statement,
    /// Print base64 `Credentials` for `registerEnclave`.
    Credentials {
        /// Evidence JSON file to embed (default: simulated evidence).
        #[arg(long, value_name = "PATH")]
        evidence_file: Option<PathBuf>,
    },
    /// Generate the chaincode keys; print the `registerCCKeys` message.
    GenerateKeys,
    /// Export the chaincode keys to another enclave; print the `putKeyExport` message.
    Export {
        /// The receiver's base64 credentials (from `queryEnclaveCredentials`).
        #[arg(long, value_name = "CREDENTIALS")]
        to: String,
    },
    /// Import an export (from `getKeyExport`); print the `registerCCKeys` message.
    Import {
        /// The base64 `SignedExportMessage`.
        #[arg(long, value_name = "EXPORT")]
        export: String,
    },
}

/// `init` arguments: the chaincode definition and the host.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    // The chaincode's name. (Plain comments on these three options: clap would turn doc
    // comments into `--help` text, and that help stays as it was.)
    #[allow(missing_docs)]
    #[arg(long)]
    pub chaincode_id: String,
    /// The chaincode definition's version (the MRENCLAVE, 64 hex digits).
    #[arg(long)]
    pub mrenclave: String,
    // The chaincode definition's sequence.
    #[allow(missing_docs)]
    #[arg(long, default_value_t = 1)]
    pub sequence: i64,
    // The channel.
    #[allow(missing_docs)]
    #[arg(long)]
    pub channel: String,
    /// MSP id of the organisation whose peer hosts the enclave.
    #[arg(long)]
    pub msp: String,
    /// The hosting peer's endpoint (what `queryChaincodeEndPoints` lists).
    #[arg(long)]
    pub endpoint: String,
    /// Also generate chaincode keys now and attest their EK in `chaincode_ek`, as FPC's MVP
    /// enclave does (single-enclave deployments).
    #[arg(long)]
    pub mvp_chaincode_keys: bool,
}

/// Why the mock enclave refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The state file cannot be read, parsed or written.
    #[error("state file {path}: {reason}")]
    State {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A key operation failed.
    #[error("crypto: {0}")]
    Crypto(String),
    /// `generate-keys` or `import` on an enclave that has keys.
    #[error("the enclave already has chaincode keys")]
    HasKeys,
    /// `export` from an enclave without keys.
    #[error("the enclave has no chaincode keys (generate or import them first)")]
    NoKeys,
    /// The receiver's credentials cannot be used.
    #[error("receiver credentials: {0}")]
    Receiver(String),
    /// The export cannot be built or imported.
    #[error("export: {0}")]
    Export(String),
    /// An input cannot be read.
    #[error(transparent)]
    Input(#[from] crate::cli_input::InputError),
    /// Standard output cannot be written.
    #[error(transparent)]
    Output(#[from] crate::cli_output::OutputError),
}

fn crypto(e: impl std::fmt::Display) -> MockError {
    MockError::Crypto(e.to_string())
}

/// Everything the enclave keeps (PEM texts as FPC serialises them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnclaveState {
    /// SEC1 PEM `EC PRIVATE KEY`.
    pub signing_key: String,
    /// SPKI PEM `PUBLIC KEY` (the enclave id is the SHA-256 of these exact bytes).
    pub enclave_vk: String,
    /// PKCS#1 PEM `RSA PRIVATE KEY` / `RSA PUBLIC KEY`.
    pub enclave_dk: String,
    /// PKCS#1 PEM `RSA PUBLIC KEY` of `enclave_dk`.
    pub enclave_ek: String,
    /// The chaincode it runs.
    pub chaincode_id: String,
    /// The chaincode definition's version (MRENCLAVE).
    pub version: String,
    /// The chaincode definition's sequence.
    pub sequence: i64,
    /// The channel.
    pub channel_id: String,
    /// The host organisation.
    pub peer_msp_id: String,
    /// The host peer's endpoint.
    pub peer_endpoint: String,
    /// Chaincode keys attested in `chaincode_ek` at init (FPC's MVP short-cut).
    #[serde(default)]
    pub mvp_chaincode_keys: bool,
    /// The chaincode keys, once generated or imported.
    pub chaincode_keys: Option<ChaincodeKeys>,
}

/// The chaincode keys every enclave of a chaincode shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaincodeKeys {
    /// PKCS#1 PEM `RSA PRIVATE KEY`.
    pub chaincode_dk: String,
    /// PKCS#1 PEM `RSA PUBLIC KEY`.
    pub chaincode_ek: String,
    /// Hex of the state encryption key.
    pub sek: String,
}

/// Runs a `mock-enclave` command, printing its result.
pub fn run(args: MockEnclaveArgs) -> Result<(), MockError> {
    let out = match args.command {
        MockCommand::Init(init) => {
            let state = EnclaveState::generate(init)?;
            state.create(&args.state)?;
            state.id()
        }
        command => {
            let mut state = EnclaveState::load(&args.state)?;
            let out = state.command(command)?;
            state.save(&args.state)?;
            out
        }
    };
    Ok(crate::cli_output::print_line(&out)?)
}

impl EnclaveState {
    /// A new enclave with fresh keys.
    pub fn generate(init: InitArgs) -> Result<Self, MockError> {
        let key = EnclaveKey::new(SigningKey::random(&mut OsRng)).map_err(crypto)?;
        let signing_key = p256::SecretKey::from(key.signing_key())
            .to_sec1_pem(LineEnding::LF)
            .map_err(crypto)?
            .to_string();
        let enclave_vk = String::from_utf8_lossy(key.vk_pem()).into_owned();
        let (enclave_dk, enclave_ek) = rsa_pair()?;
        let mut state = EnclaveState {
            signing_key,
            enclave_vk,
            enclave_dk,
            enclave_ek,
            chaincode_id: init.chaincode_id,
            version: init.mrenclave,
            sequence: init.sequence,
            channel_id: init.channel,
            peer_msp_id: init.msp,
            peer_endpoint: init.endpoint,
            mvp_chaincode_keys: init.mvp_chaincode_keys,
            chaincode_keys: None,
        };
        if init.mvp_chaincode_keys {
            state.chaincode_keys = Some(new_chaincode_keys()?);
        }
        Ok(state)
    }

    fn command(&mut self, command: MockCommand) -> Result<String, MockError> {
        match command {
            MockCommand::Init(_) => Err(MockError::State {
                path: String::new(),
                reason: "already initialised".into(),
            }),
            MockCommand::Id => Ok(self.id()),
            MockCommand::Statement => Ok(STANDARD.encode(self.attested_data().encode_to_vec())),
            MockCommand::Credentials { evidence_file } => {
                let evidence = match evidence_file {
                    Some(path) => read_bounded(&path, MAX_EVIDENCE_BYTES)?,
                    None => SIMULATED_EVIDENCE.to_vec(),
                };
                Ok(self.credentials(evidence))
            }
            MockCommand::GenerateKeys => self.generate_keys(),
            MockCommand::Export { to } => self.export_to(&message_arg(&to)?),
            MockCommand::Import { export } => self.import(&message_arg(&export)?),
        }
    }

    /// The enclave id.
    pub fn id(&self) -> String {
        credentials::enclave_id(self.enclave_vk.as_bytes())
    }

    fn cc_params(&self) -> CcParameters {
        CcParameters {
            chaincode_id: self.chaincode_id.clone(),
            version: self.version.clone(),
            sequence: self.sequence,
            channel_id: self.channel_id.clone(),
        }
    }

    /// The attested data (deterministic: the same state gives the same bytes).
    pub fn attested_data(&self) -> AttestedData {
        let chaincode_ek = match (&self.chaincode_keys, self.mvp_chaincode_keys) {
            (Some(keys), true) => keys.chaincode_ek.clone().into_bytes(),
            _ => Vec::new(),
        };
        AttestedData {
            cc_params: Some(self.cc_params()),
            host_params: Some(HostParameters {
                peer_msp_id: self.peer_msp_id.clone(),
                peer_endpoint: self.peer_endpoint.clone(),
                certificate: Vec::new(),
            }),
            enclave_vk: self.enclave_vk.clone().into_bytes(),
            channel_hash: Sha256::digest(self.channel_id.as_bytes()).to_vec(),
            tlcc_mrenclave: String::new(),
            chaincode_ek,
            enclave_ek: self.enclave_ek.clone().into_bytes(),
        }
    }

    /// Base64 `Credentials` with `evidence`.
    pub fn credentials(&self, evidence: Vec<u8>) -> String {
        let creds = Credentials {
            serialized_attested_data: Some(Any {
                type_url: ATTESTED_DATA_TYPE_URL.into(),
                value: self.attested_data().encode_to_vec(),
            }),
            attestation: br#"{"attestation_type":"simulated","attestation":"MA=="}"#.to_vec(),
            evidence,
        };
        STANDARD.encode(creds.encode_to_vec())
    }

    /// The enclave's `cc_params_hash`: SHA-256 of the CCParameters bytes it was given
    /// (the bytes it attests in field 1).
    fn cc_params_hash(&self) -> Vec<u8> {
        Sha256::digest(self.cc_params().encode_to_vec()).to_vec()
    }

    fn key(&self) -> Result<EnclaveKey, MockError> {
        let secret = p256::SecretKey::from_sec1_pem(&self.signing_key).map_err(crypto)?;
        EnclaveKey::new(SigningKey::from(secret)).map_err(crypto)
    }

    /// Generates chaincode keys (refused when it has some) and returns the registration.
    pub fn generate_keys(&mut self) -> Result<String, MockError> {
        if self.chaincode_keys.is_some() && !self.mvp_chaincode_keys {
            return Err(MockError::HasKeys);
        }
        if self.chaincode_keys.is_none() {
            self.chaincode_keys = Some(new_chaincode_keys()?);
        }
        self.key_registration()
    }

    /// Base64 `SignedCCKeyRegistrationMessage` for the keys it holds.
    pub fn key_registration(&self) -> Result<String, MockError> {
        let keys = self.chaincode_keys.as_ref().ok_or(MockError::NoKeys)?;
        let message = CcKeyRegistrationMessage {
            cc_params_hash: self.cc_params_hash(),
            chaincode_ek: keys.chaincode_ek.clone().into_bytes(),
            enclave_id: self.id().into_bytes(),
        };
        Ok(STANDARD.encode(self.key()?.sign_key_registration(&message)))
    }

    /// Base64 `SignedExportMessage` of its chaincode keys to the enclave of `receiver`
    /// (base64 credentials), which must run the same chaincode.
    pub fn export_to(&self, receiver: &str) -> Result<String, MockError> {
        let keys = self.chaincode_keys.as_ref().ok_or(MockError::NoKeys)?;
        let bad = |s: String| MockError::Receiver(s);
        let creds = credentials::decode_credentials(receiver).map_err(|e| bad(e.to_string()))?;
        let ad = credentials::decode_attested_data(&creds).map_err(|e| bad(e.to_string()))?;
        let cc = ad.cc_params.clone().unwrap_or_default();
        if cc.chaincode_id != self.chaincode_id
            || cc.channel_id != self.channel_id
            || cc.version != self.version
        {
            return Err(bad("not an enclave of this chaincode".into()));
        }
        let ek = std::str::from_utf8(&ad.enclave_ek)
            .ok()
            .and_then(|pem| RsaPublicKey::from_pkcs1_pem(pem).ok())
            .ok_or_else(|| bad("no usable enclave_ek".into()))?;
        let receiver_id = credentials::enclave_id(&ad.enclave_vk);
        let cckeys_enc = seal_cc_keys(&ek, &receiver_id, keys)?;
        let message = ExportMessage {
            cc_params_hash: self.cc_params_hash(),
            chaincode_ek: keys.chaincode_ek.clone().into_bytes(),
            cckeys_enc,
            receiver_enclave_vk: ad.enclave_vk,
            sender_enclave_vk: self.enclave_vk.clone().into_bytes(),
        };
        Ok(STANDARD.encode(self.key()?.sign_export(&message)))
    }

    /// Imports an export to this enclave and returns its key registration. The export must be
    /// signed by its sender's key, name this enclave as receiver and carry this chaincode's
    /// parameters hash; the decrypted DK must match the exported EK.
    pub fn import(&mut self, export: &str) -> Result<String, MockError> {
        if self.chaincode_keys.is_some() {
            return Err(MockError::HasKeys);
        }
        let bad = |s: String| MockError::Export(s);
        let msg = keydist::decode_export(export).map_err(|e| bad(e.to_string()))?;
        keydist::verify_enclave_signature(
            &msg.message.sender_enclave_vk,
            &msg.signed_bytes,
            &msg.signature,
        )
        .map_err(|e| bad(e.to_string()))?;
        if msg.receiver_id != self.id() {
            return Err(bad(format!("addressed to enclave {}", msg.receiver_id)));
        }
        if msg.message.cc_params_hash != self.cc_params_hash() {
            return Err(bad("for other chaincode parameters".into()));
        }
        let keys = self.open_cc_keys(&msg.message.cckeys_enc)?;
        if keys.chaincode_ek.as_bytes() != msg.message.chaincode_ek.as_slice() {
            return Err(bad(
                "the decrypted key is not the exported chaincode_ek".into()
            ));
        }
        self.chaincode_keys = Some(keys);
        self.key_registration()
    }

    fn open_cc_keys(&self, sealed: &[u8]) -> Result<ChaincodeKeys, MockError> {
        let dk = RsaPrivateKey::from_pkcs1_pem(&self.enclave_dk).map_err(crypto)?;
        let plain = open_sealed(&dk, &self.id(), sealed)?;
        let (sek, dk_pem) = plain
            .split_at_checked(SEK_LEN)
            .ok_or_else(|| MockError::Export("cckeys_enc too short".into()))?;
        let dk_pem = std::str::from_utf8(dk_pem).map_err(crypto)?;
        let chaincode_dk = RsaPrivateKey::from_pkcs1_pem(dk_pem).map_err(crypto)?;
        let chaincode_ek = RsaPublicKey::from(&chaincode_dk)
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(crypto)?;
        Ok(ChaincodeKeys {
            chaincode_dk: dk_pem.to_owned(),
            chaincode_ek,
            sek: hex::encode(sek),
        })
    }

    fn load(path: &Path) -> Result<Self, MockError> {
        let bytes = read_bounded(path, MAX_STATE_BYTES)?;
        serde_json::from_slice(&bytes).map_err(|e| state_error(path, e))
    }

    fn create(&self, path: &Path) -> Result<(), MockError> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| state_error(path, e))?;
        file.write_all(self.to_json()?.as_bytes())
            .map_err(|e| state_error(path, e))
    }

    /// Replaces the state file by renaming a complete copy over it: an interrupted write never
    /// leaves a truncated file in place of the enclave's keys.
    fn save(&self, path: &Path) -> Result<(), MockError> {
        crate::package::write_atomically(path, self.to_json()?.as_bytes())
            .map_err(|(failed, e)| state_error(&failed, e))
    }

    fn to_json(&self) -> Result<String, MockError> {
        serde_json::to_string_pretty(self).map_err(crypto)
    }
}

/// What an FPC enclave built for simulation reports as evidence.
const SIMULATED_EVIDENCE: &[u8] = br#"{"attestation_type":"simulated","evidence":"MA=="}"#;

fn state_error(path: &Path, e: impl std::fmt::Display) -> MockError {
    MockError::State {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Reads a file of at most `limit` bytes; an error reads `state file PATH: why`.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, MockError> {
    fabric_formats::file::read_bounded(path, limit).map_err(|e| state_error(path, e.reason()))
}

/// A message argument: base64 text, or `@PATH` of a file holding it.
fn message_arg(arg: &str) -> Result<String, MockError> {
    match arg.strip_prefix('@') {
        Some(path) => Ok(crate::cli_input::read_file(Path::new(path))?),
        None => Ok(arg.trim().to_owned()),
    }
}

/// A fresh RSA-3072 pair as PKCS#1 PEM (private, public).
fn rsa_pair() -> Result<(String, String), MockError> {
    let dk = RsaPrivateKey::new(&mut OsRng, RSA_BITS).map_err(crypto)?;
    let ek = RsaPublicKey::from(&dk)
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(crypto)?;
    Ok((
        dk.to_pkcs1_pem(LineEnding::LF).map_err(crypto)?.to_string(),
        ek,
    ))
}

fn new_chaincode_keys() -> Result<ChaincodeKeys, MockError> {
    let (chaincode_dk, chaincode_ek) = rsa_pair()?;
    let mut sek = [0u8; SEK_LEN];
    OsRng.fill_bytes(&mut sek);
    Ok(ChaincodeKeys {
        chaincode_dk,
        chaincode_ek,
        sek: hex::encode(sek),
    })
}

/// `cckeys_enc`: RSA-OAEP-SHA1(receiver EK, K) ‖ nonce ‖ AES-128-GCM(K, nonce, SEK ‖
/// Chaincode_DK PEM, aad = receiver enclave id), K a fresh 16-byte key.
fn seal_cc_keys(
    receiver_ek: &RsaPublicKey,
    receiver_id: &str,
    keys: &ChaincodeKeys,
) -> Result<Vec<u8>, MockError> {
    let mut plain = hex::decode(&keys.sek).map_err(crypto)?;
    plain.extend_from_slice(keys.chaincode_dk.as_bytes());
    let mut k = [0u8; 16];
    OsRng.fill_bytes(&mut k);
    let mut nonce = [0u8; GCM_NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let mut out = receiver_ek
        .encrypt(&mut OsRng, Oaep::new::<sha1::Sha1>(), &k)
        .map_err(crypto)?;
    let sealed = Aes128Gcm::new(&k.into())
        .encrypt(
            &nonce.into(),
            Payload {
                msg: &plain,
                aad: receiver_id.as_bytes(),
            },
        )
        .map_err(crypto)?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Inverse of [`seal_cc_keys`] with the receiver's DK.
fn open_sealed(dk: &RsaPrivateKey, receiver_id: &str, sealed: &[u8]) -> Result<Vec<u8>, MockError> {
    let short = || MockError::Export("cckeys_enc too short".into());
    let (wrapped, rest) = sealed.split_at_checked(dk.size()).ok_or_else(short)?;
    let (nonce, ct) = rest.split_at_checked(GCM_NONCE_LEN).ok_or_else(short)?;
    let k = dk
        .decrypt(Oaep::new::<sha1::Sha1>(), wrapped)
        .map_err(|e| MockError::Export(format!("cannot unwrap the key: {e}")))?;
    let k: [u8; 16] = k
        .try_into()
        .map_err(|_| MockError::Export("the wrapped key is not 16 bytes".into()))?;
    let nonce: [u8; GCM_NONCE_LEN] = nonce.try_into().map_err(|_| short())?;
    Aes128Gcm::new(&k.into())
        .decrypt(
            &nonce.into(),
            Payload {
                msg: ct,
                aad: receiver_id.as_bytes(),
            },
        )
        .map_err(|_| MockError::Export("cckeys_enc does not decrypt for this enclave".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::SignedExportMessage;

    fn init(msp: &str) -> InitArgs {
        InitArgs {
            chaincode_id: "mycc".into(),
            mrenclave: "ab".repeat(32),
            sequence: 1,
            channel: "mychannel".into(),
            msp: msp.into(),
            endpoint: format!("peer0.{msp}:7051"),
            mvp_chaincode_keys: false,
        }
    }

    #[test]
    fn generate_export_import_share_the_keys_and_messages_verify() {
        let mut e1 = EnclaveState::generate(init("Org1MSP")).unwrap();
        let mut e2 = EnclaveState::generate(init("Org2MSP")).unwrap();
        let reg1 = keydist::decode_key_registration(&e1.generate_keys().unwrap()).unwrap();
        assert_eq!(reg1.enclave_id, e1.id());
        keydist::verify_enclave_signature(
            e1.enclave_vk.as_bytes(),
            &reg1.signed_bytes,
            &reg1.signature,
        )
        .unwrap();
        // The hash the enclave signs is the registry's hash of its attested field 1.
        let statement = e1.attested_data().encode_to_vec();
        assert_eq!(
            keydist::cc_params_hash(&statement).unwrap().to_vec(),
            reg1.message.cc_params_hash
        );
        assert!(matches!(e1.generate_keys(), Err(MockError::HasKeys)));

        let export = e1.export_to(&e2.credentials(Vec::new())).unwrap();
        // Another enclave cannot open it.
        let mut e3 = EnclaveState::generate(init("Org3MSP")).unwrap();
        assert!(e3
            .import(&export)
            .unwrap_err()
            .to_string()
            .contains("addressed to enclave"));
        let reg2 = keydist::decode_key_registration(&e2.import(&export).unwrap()).unwrap();
        assert_eq!(reg2.message.chaincode_ek, reg1.message.chaincode_ek);
        assert_eq!(e2.chaincode_keys, e1.chaincode_keys);
        assert_eq!(reg2.enclave_id, e2.id());
    }

    #[test]
    fn tampered_exports_are_refused() {
        let mut e1 = EnclaveState::generate(init("Org1MSP")).unwrap();
        let e2 = EnclaveState::generate(init("Org2MSP")).unwrap();
        e1.generate_keys().unwrap();
        let export = e1.export_to(&e2.credentials(Vec::new())).unwrap();
        let mut signed =
            SignedExportMessage::decode(STANDARD.decode(&export).unwrap().as_slice()).unwrap();
        let any = signed.serialized_export_msg_bytes.as_mut().unwrap();
        let mut msg = ExportMessage::decode(any.value.as_slice()).unwrap();
        let last = msg.cckeys_enc.len() - 1;
        msg.cckeys_enc[last] ^= 1;
        any.value = msg.encode_to_vec();
        let tampered = STANDARD.encode(signed.encode_to_vec());
        let e = e2.clone().import(&tampered).unwrap_err();
        assert_eq!(e.to_string(), "export: signature does not verify");
        // Re-signed by the sender: the signature passes, the ciphertext does not.
        signed.signature = e1
            .key()
            .unwrap()
            .sign(&signed.serialized_export_msg_bytes.as_ref().unwrap().value);
        let resigned = STANDARD.encode(signed.encode_to_vec());
        let e = e2.clone().import(&resigned).unwrap_err();
        assert_eq!(
            e.to_string(),
            "export: cckeys_enc does not decrypt for this enclave"
        );
    }

    #[test]
    fn mvp_enclave_attests_its_chaincode_key_and_evidence_is_simulated() {
        let mut init = init("Org1MSP");
        init.mvp_chaincode_keys = true;
        let mut e = EnclaveState::generate(init).unwrap();
        let ad = e.attested_data();
        let ek = e.chaincode_keys.clone().unwrap().chaincode_ek;
        assert_eq!(ad.chaincode_ek, ek.as_bytes());
        // Registering the MVP keys is allowed once.
        let reg = keydist::decode_key_registration(&e.generate_keys().unwrap()).unwrap();
        assert_eq!(reg.message.chaincode_ek, ek.as_bytes());
        let creds =
            credentials::decode_credentials(&e.credentials(SIMULATED_EVIDENCE.to_vec())).unwrap();
        assert_eq!(creds.evidence, SIMULATED_EVIDENCE);
        // Not hardware evidence: the default policy refuses it.
        let verifier =
            crate::policy_verifier::PolicyVerifier::new(enclave_attestation::Policy::default());
        use crate::registry::CredentialsVerifier as _;
        let statement = ad.encode_to_vec();
        let err = verifier
            .verify(&creds.evidence, &"ab".repeat(32), &statement, 1_750_000_000)
            .unwrap_err()
            .to_string();
        assert!(err.contains("simulated"), "{err}");
    }

    /// A state or evidence path naming an endless file fails at the limit, not out of memory.
    #[test]
    fn state_and_evidence_reads_are_bounded() {
        let err = EnclaveState::load(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("state file /dev/zero: larger than {MAX_STATE_BYTES} bytes")
        );
        let mut e = EnclaveState::generate(init("Org1MSP")).unwrap();
        let err = e
            .command(MockCommand::Credentials {
                evidence_file: Some("/dev/zero".into()),
            })
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    /// A save replaces the state whole and leaves no temporary file beside it.
    #[test]
    fn save_replaces_the_state_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut e = EnclaveState::generate(init("Org1MSP")).unwrap();
        e.create(&path).unwrap();
        e.generate_keys().unwrap();
        e.save(&path).unwrap();
        let loaded = EnclaveState::load(&path).unwrap();
        assert_eq!(loaded.chaincode_keys, e.chaincode_keys);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|d| d.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }
}
