//! JSON string encoding byte-for-byte as Go's `encoding/json` produces it, so list payloads
//! match what the Go contract API returns (HTML characters and U+2028/U+2029 escaped).

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::fmt::Write;

/// `json.Marshal([]string{...})`.
pub(crate) fn string_array(items: &[String]) -> String {
    let capacity = items
        .iter()
        .map(|s| s.len().saturating_add(3))
        .fold(2, usize::saturating_add);
    let mut out = String::with_capacity(capacity);
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(&mut out, s);
    }
    out.push(']');
    out
}

/// Appends `s` as a Go-encoded JSON string. Runs that need no escaping (all of a base64
/// credential) are copied whole: per-character pushes were a fifth of a list query's CPU.
pub(crate) fn string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut plain = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        // Every character Go escapes is ASCII, or U+2028/U+2029 (E2 80 A8/A9): `i` is always
        // at a character boundary here.
        let width = match b {
            b'"' | b'\\' | b'<' | b'>' | b'&' => 1,
            b if b < 0x20 => 1,
            0xE2 if matches!(
                bytes.get(i..).and_then(|rest| rest.get(1..3)),
                Some([0x80, 0xA8 | 0xA9])
            ) =>
            {
                3
            }
            _ => {
                i = i.saturating_add(1);
                continue;
            }
        };
        out.push_str(s.get(plain..i).unwrap_or_default());
        if let Some(c) = s.get(i..).and_then(|rest| rest.chars().next()) {
            escape(out, c);
        }
        i = i.saturating_add(width);
        plain = i;
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

/// Appends Go's escape of one character that needs it.
fn escape(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escapes() {
        let v = vec![
            "a\"b\\c".to_owned(),
            "<>&".to_owned(),
            "\u{1}\n\u{2028}".to_owned(),
            "ü".to_owned(),
        ];
        assert_eq!(
            string_array(&v),
            r#"["a\"b\\c","\u003c\u003e\u0026","\u0001\n\u2028","ü"]"#
        );
        assert_eq!(string_array(&[]), "[]");
        // Plain runs around escapes, multi-byte characters next to U+2028.
        let v = vec!["ab+/=cd<ef\u{2029}gh\u{2027}ü\u{1f}".to_owned()];
        assert_eq!(
            string_array(&v),
            "[\"ab+/=cd\\u003cef\\u2029gh\u{2027}ü\\u001f\"]"
        );
    }
}
