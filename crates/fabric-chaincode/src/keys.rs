//! Composite keys: the Go shim's `0x00 type 0x00 attr 0x00 ...` layout, with typed errors
//! instead of the Go shim's panic on keys that lack a delimiter.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use crate::error::KeyError;

/// First byte of every composite key; keeps them apart from simple keys.
pub(crate) const NAMESPACE: char = '\u{0}';
/// The highest code point; appended to a partial key to form the exclusive end of its range.
pub(crate) const MAX_RUNE: char = '\u{10FFFF}';

/// Builds `\0 object_type \0 attr1 \0 ... attrN \0`, as `CreateCompositeKey` does.
///
/// Empty strings are allowed; U+0000 and U+10FFFF are not, because they delimit the key and
/// bound partial-key ranges.
pub fn create_composite_key(object_type: &str, attrs: &[&str]) -> Result<String, KeyError> {
    validate_attribute(object_type)?;
    let capacity = attrs
        .iter()
        .map(|a| a.len().saturating_add(1))
        .fold(object_type.len().saturating_add(2), usize::saturating_add);
    let mut key = String::with_capacity(capacity);
    key.push(NAMESPACE);
    key.push_str(object_type);
    key.push(NAMESPACE);
    for attr in attrs {
        validate_attribute(attr)?;
        key.push_str(attr);
        key.push(NAMESPACE);
    }
    Ok(key)
}

/// The `[start, end)` range of every composite key of `object_type` whose attributes begin
/// with `attrs`, as `GetStateByPartialCompositeKey` scans it: the partial key, and the partial
/// key followed by U+10FFFF (which no attribute may hold, so nothing sorts between).
pub fn partial_composite_key_range(
    object_type: &str,
    attrs: &[&str],
) -> Result<(String, String), KeyError> {
    let start = create_composite_key(object_type, attrs)?;
    let mut end = start.clone();
    end.push(MAX_RUNE);
    Ok((start, end))
}

/// Splits a composite key into its object type and attributes.
///
/// Like the Go shim, text after the last delimiter is dropped; unlike it, a key that does not
/// start with U+0000 or has no delimiter after the object type is an error, not a panic.
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>), KeyError> {
    let rest = key.strip_prefix(NAMESPACE).ok_or(KeyError::NotComposite)?;
    let mut parts = rest.split(NAMESPACE);
    // `split` yields the text after the last delimiter last; dropping it mirrors the Go loop,
    // which only emits a component when it meets a delimiter.
    let mut components: Vec<&str> = parts.by_ref().collect();
    if components.len() < 2 {
        return Err(KeyError::MissingDelimiter);
    }
    components.pop();
    let mut iter = components.into_iter();
    let object_type = iter.next().ok_or(KeyError::MissingDelimiter)?.to_owned();
    Ok((object_type, iter.map(str::to_owned).collect()))
}

fn validate_attribute(s: &str) -> Result<(), KeyError> {
    for (position, c) in s.char_indices() {
        let rune = match c {
            NAMESPACE => "U+0000",
            MAX_RUNE => "U+10FFFF",
            _ => continue,
        };
        return Err(KeyError::ReservedRune { rune, position });
    }
    Ok(())
}

/// Rejects simple-key range bounds that would reach into the composite-key namespace.
pub(crate) fn validate_simple_keys(keys: &[&str]) -> Result<(), String> {
    for key in keys {
        if key.starts_with(NAMESPACE) {
            return Err(format!(
                "first character of the key [{key}] contains a null character which is not allowed"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_go() {
        let k = create_composite_key("namespaces/credentials", &["cc", "e1"]).unwrap();
        assert_eq!(k.as_bytes(), b"\0namespaces/credentials\0cc\0e1\0");
        assert_eq!(create_composite_key("t", &[]).unwrap(), "\0t\0");
        assert_eq!(create_composite_key("", &[""]).unwrap(), "\0\0\0");
    }

    #[test]
    fn partial_range_brackets_the_prefix() {
        let (start, end) = partial_composite_key_range("t", &["a"]).unwrap();
        assert_eq!(start, "\0t\0a\0");
        assert_eq!(end, "\0t\0a\0\u{10FFFF}");
        let inside = create_composite_key("t", &["a", "zzz"]).unwrap();
        assert!(start <= inside && inside < end);
        let outside = create_composite_key("t", &["b"]).unwrap();
        assert!(outside >= end);
        assert!(partial_composite_key_range("t", &["\0"]).is_err());
    }

    #[test]
    fn round_trip() {
        let k = create_composite_key("t", &["a", "", "ü"]).unwrap();
        let (t, attrs) = split_composite_key(&k).unwrap();
        assert_eq!(t, "t");
        assert_eq!(attrs, vec!["a", "", "ü"]);
    }

    #[test]
    fn reserved_runes_rejected() {
        assert_eq!(
            create_composite_key("t", &["ab\u{0}"]),
            Err(KeyError::ReservedRune {
                rune: "U+0000",
                position: 2
            })
        );
        assert_eq!(
            create_composite_key("x\u{10FFFF}", &[]),
            Err(KeyError::ReservedRune {
                rune: "U+10FFFF",
                position: 1
            })
        );
    }

    #[test]
    fn bad_keys_are_errors() {
        assert_eq!(split_composite_key("plain"), Err(KeyError::NotComposite));
        assert_eq!(
            split_composite_key("\0type"),
            Err(KeyError::MissingDelimiter)
        );
        assert_eq!(split_composite_key(""), Err(KeyError::NotComposite));
        // Trailing text after the last delimiter is dropped, as in Go.
        assert_eq!(
            split_composite_key("\0t\0a\0junk").unwrap(),
            ("t".to_owned(), vec!["a".to_owned()])
        );
    }

    #[test]
    fn simple_key_rule() {
        assert!(validate_simple_keys(&["a", ""]).is_ok());
        assert!(validate_simple_keys(&["\0a"]).is_err());
    }
}
