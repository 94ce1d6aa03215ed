//! Fabric composite keys (`0x00 type 0x00 attr1 0x00 … 0x00`) and the registry's two
//! key spaces, byte-for-byte as the Go shim builds them, so the Go registry's state
//! reads back here and ours reads back there.
//!
//! The runtime crate has its own copy of these helpers for arbitrary chaincode; the
//! registry keeps this one so its ledger layout is testable on its own.

/// Object type of the stored credentials: `[ccId, enclaveId]` → base64 `Credentials`.
pub const CREDENTIALS_OBJECT_TYPE: &str = "namespaces/credentials";
/// Object type of the provisioned markers: `[ccId, enclaveId]` → [`PROVISIONED_PLACEHOLDER`].
pub const PROVISIONED_OBJECT_TYPE: &str = "namespaces/provisioned";
/// The value Go's registry writes under `namespaces/provisioned` (an MVP placeholder
/// standing for the `SignedCCKeyRegistrationMessage` of the post-MVP design).
pub const PROVISIONED_PLACEHOLDER: &[u8] = b"a SignedCCKeyRegistrationMessage";

const NAMESPACE: char = '\u{0}';
const SEPARATOR: char = '\u{0}';
/// Upper bound appended to a partial key to scan everything below it.
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';

/// A composite-key component or key the shim would refuse. Texts are the Go shim's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A component contains U+0000 or U+10FFFF.
    #[error("input contains unicode {found} starting at position [{position}]. U+0000 and U+10FFFF are not allowed in the input attribute of a composite key")]
    ForbiddenRune {
        found: &'static str,
        position: usize,
    },
    /// A stored key is not a composite key (Go would panic here).
    #[error("invalid composite key: no separator after the namespace byte")]
    NotComposite,
    /// A stored key's component is not UTF-8.
    #[error("invalid composite key: a component is not valid UTF-8")]
    NotUtf8,
}

fn validate_component(s: &str) -> Result<(), KeyError> {
    for (position, c) in s.char_indices() {
        let found = match c {
            '\u{0}' => "U+0000",
            '\u{10FFFF}' => "U+10FFFF",
            _ => continue,
        };
        return Err(KeyError::ForbiddenRune { found, position });
    }
    Ok(())
}

/// `CreateCompositeKey(objectType, attrs)` of the Go shim.
pub fn create_composite_key(object_type: &str, attrs: &[&str]) -> Result<String, KeyError> {
    validate_component(object_type)?;
    let mut key = String::with_capacity(
        2 + object_type.len() + attrs.iter().map(|a| a.len() + 1).sum::<usize>(),
    );
    key.push(NAMESPACE);
    key.push_str(object_type);
    key.push(SEPARATOR);
    for attr in attrs {
        validate_component(attr)?;
        key.push_str(attr);
        key.push(SEPARATOR);
    }
    Ok(key)
}

/// The `[start, end)` range `GetStateByPartialCompositeKey` scans.
pub fn partial_composite_key_range(
    object_type: &str,
    attrs: &[&str],
) -> Result<(String, String), KeyError> {
    let start = create_composite_key(object_type, attrs)?;
    let mut end = start.clone();
    end.push(MAX_UNICODE_RUNE);
    Ok((start, end))
}

/// `SplitCompositeKey` of the Go shim: skips the first byte, then every `0x00` ends a
/// component; bytes after the last separator are dropped. Unlike Go, a key without
/// a separator is an error instead of a panic.
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>), KeyError> {
    let body = key.as_bytes().get(1..).ok_or(KeyError::NotComposite)?;
    let mut components = Vec::new();
    let mut rest = body;
    while let Some(pos) = rest.iter().position(|b| *b == 0) {
        let (component, tail) = rest.split_at(pos);
        components.push(
            std::str::from_utf8(component)
                .map_err(|_| KeyError::NotUtf8)?
                .to_owned(),
        );
        rest = tail.get(1..).unwrap_or_default();
    }
    let mut components = components.into_iter();
    let object_type = components.next().ok_or(KeyError::NotComposite)?;
    Ok((object_type, components.collect()))
}

/// Key of the credentials of one enclave.
pub fn credentials_key(cc_id: &str, enclave_id: &str) -> Result<String, KeyError> {
    create_composite_key(CREDENTIALS_OBJECT_TYPE, &[cc_id, enclave_id])
}

/// Key of the provisioned marker of one enclave.
pub fn provisioned_key(cc_id: &str, enclave_id: &str) -> Result<String, KeyError> {
    create_composite_key(PROVISIONED_OBJECT_TYPE, &[cc_id, enclave_id])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn layout_matches_the_go_shim() {
        assert_eq!(
            credentials_key("mycc", "ABCD").unwrap(),
            "\u{0}namespaces/credentials\u{0}mycc\u{0}ABCD\u{0}"
        );
        assert_eq!(create_composite_key("t", &[]).unwrap(), "\u{0}t\u{0}");
        let (start, end) = partial_composite_key_range(CREDENTIALS_OBJECT_TYPE, &["cc"]).unwrap();
        assert_eq!(start.as_bytes(), b"\x00namespaces/credentials\x00cc\x00");
        assert_eq!(
            end.as_bytes(),
            b"\x00namespaces/credentials\x00cc\x00\xF4\x8F\xBF\xBF"
        );
    }

    #[test]
    fn forbidden_runes_have_go_text() {
        let e = create_composite_key("t", &["ab\u{0}"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "input contains unicode U+0000 starting at position [2]. U+0000 and U+10FFFF are not allowed in the input attribute of a composite key"
        );
        let e = create_composite_key("t", &["é\u{10FFFF}"]).unwrap_err();
        assert_eq!(
            e,
            KeyError::ForbiddenRune {
                found: "U+10FFFF",
                position: 2
            }
        );
    }

    #[test]
    fn split_round_trips_and_refuses_garbage() {
        let key = create_composite_key("t", &["a", "", "b"]).unwrap();
        assert_eq!(
            split_composite_key(&key).unwrap(),
            ("t".to_string(), vec!["a".into(), "".into(), "b".into()])
        );
        assert_eq!(split_composite_key("").unwrap_err(), KeyError::NotComposite);
        assert_eq!(
            split_composite_key("\u{0}abc").unwrap_err(),
            KeyError::NotComposite
        );
        // Bytes after the last separator are dropped, as in Go.
        assert_eq!(
            split_composite_key("\u{0}t\u{0}a\u{0}tail").unwrap(),
            ("t".to_string(), vec!["a".to_string()])
        );
        // A multi-byte first character: skipping one byte leaves invalid UTF-8.
        assert_eq!(
            split_composite_key("é\u{0}").unwrap_err(),
            KeyError::NotUtf8
        );
    }
}
