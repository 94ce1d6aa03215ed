//! Client identities the peer signs proposals with: one per MSP id, each an X.509 certificate
//! issued by a CA generated for that MSP, kept under `<home>/msp/<MSPID>/` so that a creator
//! stays the same across restarts.
//!
//! Proposals are signed with `ring` (assembly-backed P-256, several times faster than the
//! pure-Rust `p256` signer, which was half of the peer's CPU per transaction); `p256` loads the
//! key files, normalises S, encodes DER, and signs only if `ring` ever fails. The nonce is
//! random, which is fine: the client's proposal signature is not part of what endorsers must
//! reproduce.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fabric_formats::pem::{encode, private_key, KeyEncoding, Label};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::DecodePrivateKey;
use p256::SecretKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

use crate::files::write_private;

/// Largest `signcert.pem` or `key.pem` read (real ones are under 1 KiB).
const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Identity errors.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The MSP id is not a safe directory name.
    #[error("invalid MSP id '{0}': use 1-64 characters from [A-Za-z0-9._-]")]
    BadMspId(String),
    /// Making the key or certificate failed.
    #[error("generating identity: {0}")]
    Generate(#[from] rcgen::Error),
    /// Reading or writing the identity's files failed.
    #[error("identity files under {path}: {msg}")]
    Files {
        /// The directory involved.
        path: String,
        /// The I/O or parse error.
        msg: String,
    },
}

/// A signing identity of one MSP, its key parsed once when loaded.
pub struct Identity {
    /// The MSP id the identity signs for.
    pub msp_id: String,
    /// Its certificate (the proposal creator's `id_bytes`).
    pub cert_pem: String,
    key: SigningKey,
    fast_key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Identity {
    /// ECDSA P-256 over SHA-256, DER, with low S as Fabric's MSP requires.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        // ring fails only if the OS random source does; p256's deterministic signer then
        // still gives a valid signature rather than an error the caller cannot act on.
        let sig = self
            .fast_key
            .sign(&self.rng, msg)
            .ok()
            .and_then(|s| Signature::from_slice(s.as_ref()).ok())
            .unwrap_or_else(|| self.key.sign(msg));
        let sig = sig.normalize_s().unwrap_or(sig);
        sig.to_der().as_bytes().to_vec()
    }
}

/// The key of `key.pem`: PKCS#8 (what `generate` writes) or SEC1, whatever the label says.
fn parse_key(key_pem: &[u8]) -> Result<SecretKey, String> {
    match private_key(key_pem).map_err(|e| e.to_string())? {
        (KeyEncoding::Sec1, der) => SecretKey::from_sec1_der(&der).map_err(|e| e.to_string()),
        (KeyEncoding::Pkcs8, der) => SecretKey::from_pkcs8_der(&der).map_err(|e| e.to_string()),
        (KeyEncoding::Pkcs1, _) => Err("an RSA key; an MSP signing key is ECDSA P-256".into()),
    }
}

/// The same key in ring's form, for the fast signer.
fn ring_key(secret: &SecretKey, rng: &SystemRandom) -> Result<EcdsaKeyPair, String> {
    let public = secret.public_key().to_encoded_point(false);
    EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &secret.to_bytes(),
        public.as_bytes(),
        rng,
    )
    .map_err(|e| e.to_string())
}

/// Valid MSP ids double as directory names.
pub fn valid_msp_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The identities of all MSPs used so far.
pub struct Identities {
    dir: PathBuf,
    cache: Mutex<BTreeMap<String, Arc<Identity>>>,
}

impl Identities {
    /// Identities stored under `dir`.
    pub fn new(dir: PathBuf) -> Identities {
        Identities {
            dir,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The identity of `msp_id`, generated on first use.
    pub fn get(&self, msp_id: &str) -> Result<Arc<Identity>, IdentityError> {
        if !valid_msp_id(msp_id) {
            return Err(IdentityError::BadMspId(msp_id.to_string()));
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = cache.get(msp_id) {
            return Ok(id.clone());
        }
        let dir = self.dir.join(msp_id);
        let files = |msg: String| IdentityError::Files {
            path: dir.display().to_string(),
            msg,
        };
        let cert_path = dir.join("signcert.pem");
        let key_path = dir.join("key.pem");
        if !cert_path.exists() || !key_path.exists() {
            generate(msp_id, &dir).map_err(|e| match e {
                IdentityError::Files { msg, .. } => files(msg),
                other => other,
            })?;
        }
        let read = |path: &std::path::Path| {
            fabric_formats::file::read_bounded(path, MAX_PEM_FILE).map_err(|e| files(e.to_string()))
        };
        let cert_pem = String::from_utf8(read(&cert_path)?)
            .map_err(|_| files("signcert.pem is not text".into()))?;
        let key_pem = read(&key_path)?;
        let secret = parse_key(&key_pem).map_err(|e| files(format!("key.pem: {e}")))?;
        let rng = SystemRandom::new();
        let fast_key = ring_key(&secret, &rng).map_err(|e| files(format!("key.pem: {e}")))?;
        let id = Arc::new(Identity {
            msp_id: msp_id.to_string(),
            cert_pem,
            key: SigningKey::from(secret),
            fast_key,
            rng,
        });
        cache.insert(msp_id.to_string(), id.clone());
        Ok(id)
    }
}

fn generate(msp_id: &str, dir: &std::path::Path) -> Result<(), IdentityError> {
    let files = |e: std::io::Error| IdentityError::Files {
        path: dir.display().to_string(),
        msg: e.to_string(),
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, msp_id);
    dn.push(DnType::CommonName, format!("ca.{msp_id}"));
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut user = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, msp_id);
    dn.push(DnType::OrganizationalUnitName, "client");
    dn.push(DnType::CommonName, format!("User1@{msp_id}"));
    user.distinguished_name = dn;
    user.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = user.signed_by(&key, &issuer)?;

    std::fs::create_dir_all(dir).map_err(files)?;
    std::fs::write(dir.join("cacert.pem"), ca_cert.pem()).map_err(files)?;
    let key_pem =
        encode(Label::PrivateKey, &key.serialize_der()).map_err(|e| IdentityError::Files {
            path: dir.display().to_string(),
            msg: e.to_string(),
        })?;
    write_private(&dir.join("key.pem"), &key_pem).map_err(files)?;
    std::fs::write(dir.join("signcert.pem"), cert.pem()).map_err(files)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_formats::pem::decode_all;
    use p256::ecdsa::signature::Verifier;

    #[test]
    fn identities_persist_and_sign_low_s() {
        let dir = tempfile::tempdir().unwrap();
        let ids = Identities::new(dir.path().to_path_buf());
        let a = ids.get("Org1MSP").unwrap();
        let again = Identities::new(dir.path().to_path_buf())
            .get("Org1MSP")
            .unwrap();
        assert_eq!(a.cert_pem, again.cert_pem);
        assert!(ids.get("../x").is_err());
        let sig = a.sign(b"hello");
        let sig = Signature::from_der(&sig).unwrap();
        assert!(sig.normalize_s().is_none(), "signature must be low-S");
        a.key.verifying_key().verify(b"hello", &sig).unwrap();
    }

    #[test]
    fn ring_signatures_are_low_s_der_that_p256_verifies() {
        use ring::signature::KeyPair;
        let dir = tempfile::tempdir().unwrap();
        let id = Identities::new(dir.path().to_path_buf())
            .get("Org1MSP")
            .unwrap();
        let public = id.key.verifying_key();
        // Both signers hold the same key.
        assert_eq!(
            id.fast_key.public_key().as_ref(),
            public.to_encoded_point(false).as_bytes()
        );
        // Random nonces give high S about half the time before normalisation: 64 rounds
        // would all pass without it with probability 2^-64.
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..64u32 {
            let msg = format!("proposal {i}");
            let der = id.sign(msg.as_bytes());
            let sig = Signature::from_der(&der).unwrap();
            assert_eq!(sig.to_der().as_bytes(), der.as_slice(), "canonical DER");
            assert!(sig.normalize_s().is_none(), "signature {i} must be low-S");
            public.verify(msg.as_bytes(), &sig).unwrap();
            assert!(public.verify(b"other", &sig).is_err());
            seen.insert(der);
        }
        // ring signs (random nonce), not the deterministic p256 fallback.
        assert_ne!(id.sign(b"same"), id.sign(b"same"));
        assert_eq!(seen.len(), 64);
    }

    #[test]
    fn sec1_key_files_load() {
        use p256::pkcs8::EncodePrivateKey;
        let dir = tempfile::tempdir().unwrap();
        let ids = Identities::new(dir.path().to_path_buf());
        let generated = ids.get("Org2MSP").unwrap();
        // Rewrite the stored PKCS#8 key as SEC1, as other tools write it.
        let key_path = dir.path().join("Org2MSP").join("key.pem");
        let pem = std::fs::read_to_string(&key_path).unwrap();
        let blocks = decode_all(pem.as_bytes()).unwrap();
        let secret = SecretKey::from_pkcs8_der(&blocks[0].der).unwrap();
        let sec1 = secret.to_sec1_der().unwrap();
        std::fs::write(&key_path, encode(Label::EcPrivateKey, &sec1).unwrap()).unwrap();
        assert_ne!(secret.to_pkcs8_der().unwrap().as_bytes(), sec1.as_slice());

        let loaded = Identities::new(dir.path().to_path_buf())
            .get("Org2MSP")
            .unwrap();
        let sig = Signature::from_der(&loaded.sign(b"hello")).unwrap();
        generated
            .key
            .verifying_key()
            .verify(b"hello", &sig)
            .unwrap();
    }
}
