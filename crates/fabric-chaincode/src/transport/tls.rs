//! Loading PEM certificates and keys. Fabric writes PKCS#8 keys under an "EC PRIVATE KEY"
//! label, which rustls would read as SEC1 and reject; we decide the encoding by trying to load
//! the key as PKCS#8, then SEC1, then PKCS#1, and relabel it accordingly.

use std::io::BufReader;

use base64::Engine as _;
use rustls::crypto::ring::sign::any_supported_type;
use rustls_pki_types::pem::{self, SectionKind};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

use crate::error::{PemError, TlsError};

/// The private key of `role` (e.g. `server key`) in `pem_bytes`, relabelled to its encoding.
pub(crate) fn private_key(role: &'static str, pem_bytes: &[u8]) -> Result<Vec<u8>, TlsError> {
    normalize_private_key_pem(pem_bytes).map_err(|source| TlsError::Pem { role, source })
}

/// Checks that the `role` PEM (e.g. `root certificate`) holds at least one certificate.
pub(crate) fn certificates(role: &'static str, pem_bytes: &[u8]) -> Result<(), TlsError> {
    check_certificates_pem(pem_bytes).map_err(|source| TlsError::Pem { role, source })
}

/// Returns the first private key in `pem_bytes`, re-encoded as PEM whose label matches its
/// real encoding, so any PEM reader accepts it.
pub(crate) fn normalize_private_key_pem(pem_bytes: &[u8]) -> Result<Vec<u8>, PemError> {
    let mut reader = BufReader::new(pem_bytes);
    loop {
        let section = pem::from_buf(&mut reader).map_err(PemError::Invalid)?;
        let Some((kind, der)) = section else {
            return Err(PemError::NoPrivateKey);
        };
        if !matches!(
            kind,
            SectionKind::PrivateKey | SectionKind::EcPrivateKey | SectionKind::RsaPrivateKey
        ) {
            continue;
        }
        let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.as_slice()));
        if any_supported_type(&pkcs8).is_ok() {
            return Ok(encode_pem("PRIVATE KEY", &der));
        }
        let sec1 = PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der.as_slice()));
        if any_supported_type(&sec1).is_ok() {
            return Ok(encode_pem("EC PRIVATE KEY", &der));
        }
        let pkcs1 = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.as_slice()));
        if any_supported_type(&pkcs1).is_ok() {
            return Ok(encode_pem("RSA PRIVATE KEY", &der));
        }
        return Err(PemError::UnsupportedKey);
    }
}

/// Checks that `pem_bytes` holds at least one certificate.
pub(crate) fn check_certificates_pem(pem_bytes: &[u8]) -> Result<(), PemError> {
    let mut reader = BufReader::new(pem_bytes);
    let mut found = false;
    while let Some((kind, _)) = pem::from_buf(&mut reader).map_err(PemError::Invalid)? {
        found |= kind == SectionKind::Certificate;
    }
    if found {
        Ok(())
    } else {
        Err(PemError::NoCertificate)
    }
}

fn encode_pem(label: &str, der: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_pkcs8_der() -> Vec<u8> {
        rcgen::KeyPair::generate().unwrap().serialize_der()
    }

    #[test]
    fn fabric_labelled_pkcs8_is_relabelled() {
        let der = key_pkcs8_der();
        let fabric = encode_pem("EC PRIVATE KEY", &der);
        let out = normalize_private_key_pem(&fabric).unwrap();
        assert_eq!(out, encode_pem("PRIVATE KEY", &der));
        // Already correct labels pass through unchanged.
        assert_eq!(normalize_private_key_pem(&out).unwrap(), out);
    }

    #[test]
    fn real_sec1_keeps_its_label() {
        // A P-256 PKCS#8 from ring wraps the SEC1 ECPrivateKey in its final OCTET STRING.
        let der = key_pkcs8_der();
        let inner_len = usize::from(der[der.len() - 110]);
        assert_eq!(inner_len, 109);
        assert_eq!(der[der.len() - 111], 0x04, "OCTET STRING header");
        let sec1 = &der[der.len() - inner_len..];
        assert_eq!(sec1[0], 0x30);
        let out = normalize_private_key_pem(&encode_pem("PRIVATE KEY", sec1)).unwrap();
        assert_eq!(out, encode_pem("EC PRIVATE KEY", sec1));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(normalize_private_key_pem(b"").is_err());
        assert!(normalize_private_key_pem(b"not pem").is_err());
        assert!(
            normalize_private_key_pem(&encode_pem("EC PRIVATE KEY", b"\x30\x03\x02\x01\x00"))
                .is_err()
        );
        assert!(normalize_private_key_pem(&encode_pem("CERTIFICATE", b"\x30\x00")).is_err());
        assert!(check_certificates_pem(b"").is_err());
        assert!(check_certificates_pem(&encode_pem("CERTIFICATE", b"\x30\x00")).is_ok());
    }
}
