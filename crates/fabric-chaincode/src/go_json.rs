//! JSON string encoding byte-for-byte as Go's `encoding/json` produces it, so list payloads
//! match what the Go contract API returns (HTML characters and U+2028/U+2029 escaped).

use std::fmt::Write;

/// `json.Marshal([]string{...})`.
pub(crate) fn string_array(items: &[String]) -> String {
    let mut out = String::with_capacity(2 + items.iter().map(|s| s.len() + 3).sum::<usize>());
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

/// Appends `s` as a Go-encoded JSON string.
pub(crate) fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
    }
}
