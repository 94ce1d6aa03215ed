//! Chaincode package labels and package ids, as Fabric's `peer lifecycle chaincode package`
//! and `calculatepackageid` define them.

use sha2::{Digest, Sha256};

/// Fabric's label rule `^[[:alnum:]][[:alnum:]_.+-]*$`, with Go's regexp's ASCII classes:
/// a letter or digit first, then letters, digits, `_`, `.`, `+` or `-`; never empty.
pub fn is_valid_label(label: &str) -> bool {
    let mut chars = label.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-'))
}

/// The package id of an install package: `label:hex(sha256(package bytes))`, lower-case hex,
/// what `peer lifecycle chaincode calculatepackageid` prints.
pub fn package_id(label: &str, package: &[u8]) -> String {
    format!("{label}:{}", hex::encode(Sha256::digest(package)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_fabric_rule() {
        for ok in ["ercc", "ercc_1.0", "a", "0x+y-z", "ERCC.v2", "9"] {
            assert!(is_valid_label(ok), "{ok}");
        }
        for bad in [
            "", "_ercc", "-x", ".x", "+x", "er cc", "ercc:1", "ércc", "aé", "a/b", "a\n",
        ] {
            assert!(!is_valid_label(bad), "{bad:?}");
        }
    }

    #[test]
    fn package_id_is_label_and_sha256() {
        assert_eq!(
            package_id("l", b""),
            "l:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
