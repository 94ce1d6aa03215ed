//! Client identities the peer signs proposals with: one per MSP id, each an X.509 certificate
//! issued by a CA generated for that MSP, kept under `<home>/msp/<MSPID>/` so that a creator
//! stays the same across restarts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::files::write_private;
use crate::tls::{pem_decode_all, pem_encode};

/// Identity errors.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid MSP id '{0}': use 1-64 characters from [A-Za-z0-9._-]")]
    BadMspId(String),
    #[error("generating identity: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("identity files under {path}: {msg}")]
    Files { path: String, msg: String },
}

/// A signing identity of one MSP.
pub struct Identity {
    pub msp_id: String,
    pub cert_pem: String,
    key: SigningKey,
}

impl Identity {
    /// ECDSA-SHA256 signature, DER, with low S as Fabric's MSP requires.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(msg);
        let sig = sig.normalize_s().unwrap_or(sig);
        sig.to_der().as_bytes().to_vec()
    }
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
        let cert_pem = std::fs::read_to_string(&cert_path).map_err(|e| files(e.to_string()))?;
        let key_pem = std::fs::read_to_string(&key_path).map_err(|e| files(e.to_string()))?;
        let blocks = pem_decode_all(&key_pem).map_err(|e| files(e.to_string()))?;
        let der = &blocks
            .first()
            .ok_or_else(|| files("empty key file".into()))?
            .1;
        let key = SigningKey::from_pkcs8_der(der).map_err(|e| files(format!("key.pem: {e}")))?;
        let id = Arc::new(Identity {
            msp_id: msp_id.to_string(),
            cert_pem,
            key,
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
    write_private(
        &dir.join("key.pem"),
        &pem_encode("PRIVATE KEY", &key.serialize_der()),
    )
    .map_err(files)?;
    std::fs::write(dir.join("signcert.pem"), cert.pem()).map_err(files)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
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
}
