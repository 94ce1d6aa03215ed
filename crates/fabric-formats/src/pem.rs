//! PEM blocks as Fabric writes them, and the one rule for Fabric's mislabelled private keys.
//!
//! Fabric's `tlsgen` (the peer's chaincode TLS keys) writes a PKCS#8 body under the SEC1 label
//! `EC PRIVATE KEY`; readers that trust the label (rustls among them) then refuse the key.
//! [`normalize_private_key`] decides the encoding from the DER structure alone, never from the
//! label, and relabels the key to match; [`private_key`] gives the same answer as typed DER.
//!
//! Decoding uses the rustls PEM parser (text around and between blocks is skipped, as Go's
//! `pem.Decode` does; labels it does not know are skipped too); encoding uses RustCrypto's
//! RFC 7468 encoder (64-column base64, LF line ends, a final newline), as Go's `pem.Encode`.

use rustls_pki_types::pem::{self, SectionKind};

/// The labels this workspace reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// `CERTIFICATE`: X.509 DER.
    Certificate,
    /// `PUBLIC KEY`: SubjectPublicKeyInfo DER.
    PublicKey,
    /// `PRIVATE KEY`: PKCS#8 DER.
    PrivateKey,
    /// `EC PRIVATE KEY`: SEC1 DER (or, from Fabric, PKCS#8: see [`normalize_private_key`]).
    EcPrivateKey,
    /// `RSA PRIVATE KEY`: PKCS#1 DER.
    RsaPrivateKey,
    /// `X509 CRL`, `CERTIFICATE REQUEST` and the other labels the parser knows.
    Other,
}

impl Label {
    /// The text between `-----BEGIN ` and `-----` (empty for [`Label::Other`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Certificate => "CERTIFICATE",
            Label::PublicKey => "PUBLIC KEY",
            Label::PrivateKey => "PRIVATE KEY",
            Label::EcPrivateKey => "EC PRIVATE KEY",
            Label::RsaPrivateKey => "RSA PRIVATE KEY",
            Label::Other => "",
        }
    }

    fn of(kind: SectionKind) -> Label {
        match kind {
            SectionKind::Certificate => Label::Certificate,
            SectionKind::PublicKey => Label::PublicKey,
            SectionKind::PrivateKey => Label::PrivateKey,
            SectionKind::EcPrivateKey => Label::EcPrivateKey,
            SectionKind::RsaPrivateKey => Label::RsaPrivateKey,
            _ => Label::Other,
        }
    }

    fn is_private_key(self) -> bool {
        matches!(
            self,
            Label::PrivateKey | Label::EcPrivateKey | Label::RsaPrivateKey
        )
    }
}

/// One decoded PEM block.
#[derive(Clone, PartialEq, Eq)]
pub struct Block {
    /// Its label.
    pub label: Label,
    /// Its DER body.
    pub der: Vec<u8>,
}

impl std::fmt::Debug for Block {
    /// Never prints the body: it may be a private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("label", &self.label)
            .field("der_len", &self.der.len())
            .finish()
    }
}

/// The encoding a private key's DER really has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEncoding {
    /// PKCS#8 `PrivateKeyInfo` (any algorithm).
    Pkcs8,
    /// SEC1 `ECPrivateKey`.
    Sec1,
    /// PKCS#1 `RSAPrivateKey`.
    Pkcs1,
}

impl KeyEncoding {
    /// The label that names this encoding.
    pub fn label(self) -> Label {
        match self {
            KeyEncoding::Pkcs8 => Label::PrivateKey,
            KeyEncoding::Sec1 => Label::EcPrivateKey,
            KeyEncoding::Pkcs1 => Label::RsaPrivateKey,
        }
    }
}

/// Why PEM text was refused.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// A block is malformed (no END line, bad base64).
    #[error("invalid PEM: {0}")]
    Invalid(#[source] pem::Error),
    /// No block with a known label at all.
    #[error("no PEM block found")]
    NoBlock,
    /// Blocks, but none of them a private key.
    #[error("no private key found in PEM data")]
    NoPrivateKey,
    /// The first private key's body is none of PKCS#8, SEC1 or PKCS#1.
    #[error("private key is neither PKCS#8, SEC1 nor PKCS#1")]
    UnknownKeyEncoding,
    /// The encoder refused (only a length overflowing memory can cause it).
    #[error("encoding PEM: {0}")]
    Encode(pem_rfc7468::Error),
}

/// Every block of `text` with a known label, in order; an error if there is none.
pub fn decode_all(text: &[u8]) -> Result<Vec<Block>, PemError> {
    let mut reader = text;
    let mut blocks = Vec::new();
    while let Some((kind, der)) = pem::from_buf(&mut reader).map_err(PemError::Invalid)? {
        blocks.push(Block {
            label: Label::of(kind),
            der,
        });
    }
    if blocks.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(blocks)
}

/// `der` as one PEM block labelled `label`.
pub fn encode(label: Label, der: &[u8]) -> Result<String, PemError> {
    pem_rfc7468::encode_string(label.as_str(), pem_rfc7468::LineEnding::LF, der)
        .map_err(PemError::Encode)
}

/// The real encoding of a private key's DER, judged from its ASN.1 structure: PKCS#8 first,
/// then SEC1, then PKCS#1 (the three cannot be confused: PKCS#8 has an algorithm identifier
/// after its version, SEC1 has version 1 and an octet string, PKCS#1 version 0 and integers).
pub fn key_encoding(der: &[u8]) -> Option<KeyEncoding> {
    if pkcs8::PrivateKeyInfo::try_from(der).is_ok() {
        Some(KeyEncoding::Pkcs8)
    } else if sec1::EcPrivateKey::try_from(der).is_ok() {
        Some(KeyEncoding::Sec1)
    } else if pkcs1::RsaPrivateKey::try_from(der).is_ok() {
        Some(KeyEncoding::Pkcs1)
    } else {
        None
    }
}

/// The first private key in `text` (whatever its label says) with its real encoding.
pub fn private_key(text: &[u8]) -> Result<(KeyEncoding, Vec<u8>), PemError> {
    let block = decode_all(text)?
        .into_iter()
        .find(|b| b.label.is_private_key())
        .ok_or(PemError::NoPrivateKey)?;
    let encoding = key_encoding(&block.der).ok_or(PemError::UnknownKeyEncoding)?;
    Ok((encoding, block.der))
}

/// The first private key in `text`, re-encoded as PEM under the label of its real encoding, so
/// any PEM reader accepts it (Fabric's `EC PRIVATE KEY` around PKCS#8 becomes `PRIVATE KEY`).
pub fn normalize_private_key(text: &[u8]) -> Result<String, PemError> {
    let (encoding, der) = private_key(text)?;
    encode(encoding.label(), &der)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkcs8_der() -> Vec<u8> {
        rcgen::KeyPair::generate().unwrap().serialize_der()
    }

    /// The SEC1 `ECPrivateKey` a P-256 PKCS#8 key wraps in its final OCTET STRING.
    fn sec1_inside(pkcs8: &[u8]) -> Vec<u8> {
        let info = pkcs8::PrivateKeyInfo::try_from(pkcs8).unwrap();
        info.private_key.to_vec()
    }

    #[test]
    fn fabric_labelled_pkcs8_is_relabelled() {
        let der = pkcs8_der();
        let fabric = encode(Label::EcPrivateKey, &der).unwrap();
        assert!(fabric.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        let out = normalize_private_key(fabric.as_bytes()).unwrap();
        assert_eq!(out, encode(Label::PrivateKey, &der).unwrap());
        // A correct label passes through unchanged.
        assert_eq!(normalize_private_key(out.as_bytes()).unwrap(), out);
        assert_eq!(
            private_key(fabric.as_bytes()).unwrap(),
            (KeyEncoding::Pkcs8, der)
        );
    }

    #[test]
    fn real_sec1_keeps_or_gets_its_label() {
        let sec1 = sec1_inside(&pkcs8_der());
        let want = encode(Label::EcPrivateKey, &sec1).unwrap();
        for label in [Label::EcPrivateKey, Label::PrivateKey] {
            let pem = encode(label, &sec1).unwrap();
            assert_eq!(normalize_private_key(pem.as_bytes()).unwrap(), want);
        }
        assert_eq!(key_encoding(&sec1), Some(KeyEncoding::Sec1));
    }

    #[test]
    fn blocks_and_surrounding_text() {
        let der = pkcs8_der();
        let text = format!(
            "Bag Attributes\n{}junk between\n{}",
            encode(Label::Certificate, b"\x30\x00").unwrap(),
            encode(Label::EcPrivateKey, &der).unwrap()
        );
        let blocks = decode_all(text.as_bytes()).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, Label::Certificate);
        assert_eq!(blocks[1].der, der);
        // The key is the first private-key block, after the certificate.
        assert!(normalize_private_key(text.as_bytes())
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let line = encode(Label::PrivateKey, &der).unwrap();
        assert!(line.lines().all(|l| l.len() <= 64));
        assert!(line.ends_with("-----END PRIVATE KEY-----\n"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(decode_all(b""), Err(PemError::NoBlock)));
        assert!(matches!(decode_all(b"junk"), Err(PemError::NoBlock)));
        assert!(matches!(
            decode_all(b"-----BEGIN CERTIFICATE-----\nMAA=\n"),
            Err(PemError::Invalid(_))
        ));
        assert!(matches!(
            normalize_private_key(b"not pem"),
            Err(PemError::NoBlock)
        ));
        let short = encode(Label::EcPrivateKey, b"\x30\x03\x02\x01\x00").unwrap();
        assert!(matches!(
            normalize_private_key(short.as_bytes()),
            Err(PemError::UnknownKeyEncoding)
        ));
        let cert = encode(Label::Certificate, b"\x30\x00").unwrap();
        assert!(matches!(
            normalize_private_key(cert.as_bytes()),
            Err(PemError::NoPrivateKey)
        ));
    }
}
