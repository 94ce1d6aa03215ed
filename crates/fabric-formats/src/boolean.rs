//! Go's `strconv.ParseBool`, the way Fabric reads boolean environment variables such as
//! `CORE_PEER_TLS_ENABLED`.

/// Parses a boolean as Go's `strconv.ParseBool` does: `1 t T TRUE true True` are true,
/// `0 f F FALSE false False` are false, anything else (including surrounding spaces and mixed
/// case such as `tRUE`) is `None`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_spellings() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        for bad in ["", "yes", "tRUE", " true", "true ", "2", "on"] {
            assert_eq!(parse_bool(bad), None, "{bad:?}");
        }
    }
}
