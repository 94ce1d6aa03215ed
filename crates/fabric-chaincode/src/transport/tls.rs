//! Checking PEM certificates. Private keys go through `fabric_formats::pem::normalize_private_key`
//! (Fabric writes PKCS#8 keys under an "EC PRIVATE KEY" label, which rustls would read as SEC1
//! and reject).

use std::io::BufReader;

use rustls_pki_types::pem::{self, SectionKind};

/// Checks that `pem_bytes` holds at least one certificate.
pub fn check_certificates_pem(pem_bytes: &[u8]) -> Result<(), String> {
    let mut reader = BufReader::new(pem_bytes);
    let mut found = false;
    while let Some((kind, _)) =
        pem::from_buf(&mut reader).map_err(|e| format!("invalid PEM: {e}"))?
    {
        found |= kind == SectionKind::Certificate;
    }
    if found {
        Ok(())
    } else {
        Err("no certificate found in PEM data".into())
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
