//! Checking PEM certificates. Private keys go through `fabric_formats::pem::normalize_private_key`
//! (Fabric writes PKCS#8 keys under an "EC PRIVATE KEY" label, which rustls would read as SEC1
//! and reject).

use std::io::BufReader;

use rustls_pki_types::pem::{self, SectionKind};

use crate::error::{PemError, TlsError};

/// The private key of `role` (e.g. `server key`) in `pem_bytes`, relabelled to its real
/// encoding (Fabric writes PKCS#8 keys under an `EC PRIVATE KEY` label).
pub(crate) fn private_key(role: &'static str, pem_bytes: &[u8]) -> Result<String, TlsError> {
    fabric_formats::pem::normalize_private_key(pem_bytes).map_err(|e| TlsError::Pem {
        role,
        source: PemError::Key(e),
    })
}

/// Checks that the `role` PEM (e.g. `root certificate`) holds at least one certificate.
pub(crate) fn certificates(role: &'static str, pem_bytes: &[u8]) -> Result<(), TlsError> {
    check_certificates_pem(pem_bytes).map_err(|source| TlsError::Pem { role, source })
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

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_formats::pem::{encode, Label};

    #[test]
    fn certificates_are_required() {
        assert!(check_certificates_pem(b"").is_err());
        let cert = encode(Label::Certificate, b"\x30\x00").unwrap();
        assert!(check_certificates_pem(cert.as_bytes()).is_ok());
        let key = encode(Label::PrivateKey, b"\x30\x00").unwrap();
        assert!(check_certificates_pem(key.as_bytes()).is_err());
    }
}
