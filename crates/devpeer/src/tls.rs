//! TLS material the peer makes like a Fabric peer does: an ephemeral CA generated at every
//! start, the chaincode listener's server certificate (SAN = the chaincode address host), and a
//! fresh client certificate per chaincode launch (ECDSA P-256, EKU ClientAuth, valid now±24h;
//! key PEM labelled "EC PRIVATE KEY" around a PKCS#8 body, as Fabric's tlsgen writes it).

use fabric_formats::pem::{encode, Label};
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
    /// Encoding or decoding a PEM block failed.
    #[error("encoding PEM: {0}")]
    Pem(#[from] fabric_formats::pem::PemError),
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
    key_pem_fabric: String,
    key_pem_pkcs8: String,
}

impl CertKey {
    /// The key as Fabric hands it to chaincode: label "EC PRIVATE KEY", body PKCS#8.
    pub fn key_pem_fabric(&self) -> String {
        self.key_pem_fabric.clone()
    }
    /// The key as a standard PKCS#8 PEM.
    pub fn key_pem_pkcs8(&self) -> String {
        self.key_pem_pkcs8.clone()
    }
    /// SHA-256 of the certificate DER (what a REGISTER is bound to).
    pub fn cert_hash(&self) -> [u8; 32] {
        Sha256::digest(&self.cert_der).into()
    }
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
        let key_pkcs8 = key.serialize_der();
        Ok(CertKey {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem_fabric: encode(Label::EcPrivateKey, &key_pkcs8)?,
            key_pem_pkcs8: encode(Label::PrivateKey, &key_pkcs8)?,
            key_pkcs8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_formats::pem::{decode_all, normalize_private_key};

    #[test]
    fn fabric_style_key_pem_is_relabelled_as_pkcs8() {
        let ca = TlsCa::generate().unwrap();
        let c = ca.client_cert("x").unwrap();
        let fabric = c.key_pem_fabric();
        assert!(fabric.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        let n = normalize_private_key(fabric.as_bytes()).unwrap();
        assert_eq!(n, c.key_pem_pkcs8());
        let blocks = decode_all(c.cert_pem.as_bytes()).unwrap();
        assert_eq!(blocks[0].der, c.cert_der);
        assert!(decode_all(b"junk").is_err());
    }
}
