//! TLS material the peer makes like a Fabric peer does: an ephemeral CA generated at every
//! start, the chaincode listener's server certificate (SAN = the chaincode address host), and a
//! fresh client certificate per chaincode launch (ECDSA P-256, EKU ClientAuth, valid now±24h;
//! key PEM labelled "EC PRIVATE KEY" around a PKCS#8 body, as Fabric's tlsgen writes it).

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use sha2::{Digest, Sha256};

/// TLS material errors.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Making a key or certificate failed.
    #[error("generating TLS material: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM block does not parse.
    #[error("invalid PEM: {0}")]
    Pem(String),
}

/// A certificate and its key.
#[derive(Clone)]
pub struct CertKey {
    /// PEM of the certificate.
    pub cert_pem: String,
    /// DER of the certificate.
    pub cert_der: Vec<u8>,
    /// PKCS#8 DER of the private key.
    pub key_pkcs8: Vec<u8>,
}

impl CertKey {
    /// The key as Fabric hands it to chaincode: label "EC PRIVATE KEY", body PKCS#8.
    pub fn key_pem_fabric(&self) -> String {
        pem_encode("EC PRIVATE KEY", &self.key_pkcs8)
    }
    /// The key as a standard PKCS#8 PEM.
    pub fn key_pem_pkcs8(&self) -> String {
        pem_encode("PRIVATE KEY", &self.key_pkcs8)
    }
    /// SHA-256 of the certificate DER (what a REGISTER is bound to).
    pub fn cert_hash(&self) -> [u8; 32] {
        Sha256::digest(&self.cert_der).into()
    }
}

/// PEM-encodes `der` with `label`.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decodes every PEM block of `text` as (label, DER).
pub fn pem_decode_all(text: &str) -> Result<Vec<(String, Vec<u8>)>, TlsError> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut b64 = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            let l = l.trim();
            if l == end {
                closed = true;
                break;
            }
            b64.push_str(l);
        }
        if !closed {
            return Err(TlsError::Pem(format!("unterminated {label} block")));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| TlsError::Pem(format!("{label}: {e}")))?;
        out.push((label.to_string(), der));
    }
    if out.is_empty() {
        return Err(TlsError::Pem("no PEM block found".into()));
    }
    Ok(out)
}

/// Rewrites a private-key PEM so rustls reads it whatever its label says: Fabric labels
/// PKCS#8 keys "EC PRIVATE KEY", so the body's real format is detected and relabelled.
pub fn normalize_key_pem(text: &str) -> Result<String, TlsError> {
    use rustls_pki_types::PrivateKeyDer;
    for (label, der) in pem_decode_all(text)? {
        if !label.contains("PRIVATE KEY") {
            continue;
        }
        let key = PrivateKeyDer::try_from(der.clone())
            .map_err(|e| TlsError::Pem(format!("private key: {e}")))?;
        let label = match key {
            PrivateKeyDer::Pkcs8(_) => "PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        return Ok(pem_encode(label, &der));
    }
    Err(TlsError::Pem("no private key found".into()))
}

/// The ephemeral chaincode CA.
pub struct TlsCa {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(24);
    params.not_after = now + time::Duration::hours(24);
}

impl TlsCa {
    /// Generates a new CA.
    pub fn generate() -> Result<TlsCa, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "devpeer chaincode CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let cert = params.self_signed(&key)?;
        Ok(TlsCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate (handed to chaincode as `root_cert`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A server certificate for `host` (an IP address or a DNS name).
    pub fn server_cert(&self, host: &str) -> Result<CertKey, TlsError> {
        self.issue(
            vec![host.to_string()],
            ExtendedKeyUsagePurpose::ServerAuth,
            host,
        )
    }

    /// A fresh client certificate for one chaincode launch.
    pub fn client_cert(&self, name: &str) -> Result<CertKey, TlsError> {
        self.issue(Vec::new(), ExtendedKeyUsagePurpose::ClientAuth, name)
    }

    fn issue(
        &self,
        sans: Vec<String>,
        eku: ExtendedKeyUsagePurpose,
        cn: &str,
    ) -> Result<CertKey, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(sans)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.extended_key_usages = vec![eku];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        validity(&mut params);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(CertKey {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pkcs8: key.serialize_der(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric_style_key_pem_is_relabelled_as_pkcs8() {
        let ca = TlsCa::generate().unwrap();
        let c = ca.client_cert("x").unwrap();
        let fabric = c.key_pem_fabric();
        assert!(fabric.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        let n = normalize_key_pem(&fabric).unwrap();
        assert_eq!(n, c.key_pem_pkcs8());
        let blocks = pem_decode_all(&c.cert_pem).unwrap();
        assert_eq!(blocks[0].1, c.cert_der);
        assert!(pem_decode_all("junk").is_err());
    }
}
