//! Checking PEM certificates. Private keys go through `fabric_formats::pem::normalize_private_key`
//! (Fabric writes PKCS#8 keys under an "EC PRIVATE KEY" label, which rustls would read as SEC1
//! and reject).

use fabric_formats::pem::{decode_all, Label, PemError as FormatError};

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

/// Checks that `pem_bytes` holds at least one certificate (PEM decoded by `fabric-formats`).
pub(crate) fn check_certificates_pem(pem_bytes: &[u8]) -> Result<(), PemError> {
    match decode_all(pem_bytes) {
        Ok(blocks) if blocks.iter().any(|b| b.label == Label::Certificate) => Ok(()),
        Ok(_) | Err(FormatError::NoBlock) => Err(PemError::NoCertificate),
        Err(FormatError::Invalid(e)) => Err(PemError::Invalid(e)),
        Err(other) => Err(PemError::Key(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_formats::pem::encode;

    #[test]
    fn certificates_are_required() {
        assert!(matches!(
            check_certificates_pem(b""),
            Err(PemError::NoCertificate)
        ));
        assert!(matches!(
            check_certificates_pem(b"-----BEGIN CERTIFICATE-----\nMAA=\n"),
            Err(PemError::Invalid(_))
        ));
        let cert = encode(Label::Certificate, b"\x30\x00").unwrap();
        assert!(check_certificates_pem(cert.as_bytes()).is_ok());
        let key = encode(Label::PrivateKey, b"\x30\x00").unwrap();
        assert!(matches!(
            check_certificates_pem(key.as_bytes()),
            Err(PemError::NoCertificate)
        ));
    }
}
