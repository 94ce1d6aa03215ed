//! Fabric composite keys (`0x00 type 0x00 attr1 0x00 … 0x00`) and the registry's six
//! key spaces (the two the Go registry writes, the two of key distribution, and the
//! appraisal records and revoked credentials of the enclave lifecycle), byte-for-byte as the
//! Go shim builds them, so the Go registry's state reads back here and ours reads back there.
//!
//! Creating and splitting keys is the runtime's (`fabric_chaincode`), with the Go shim's
//! validation and texts, and the partial-key scan range; this module adds the registry's key spaces.

/// Object type of the stored credentials: `[ccId, enclaveId]` → base64 `Credentials`.
pub const CREDENTIALS_OBJECT_TYPE: &str = "namespaces/credentials";
/// Object type of the provisioned markers: `[ccId, enclaveId]` → [`PROVISIONED_PLACEHOLDER`]
/// (written by `registerEnclave` in single-enclave mode) or the base64
/// `SignedCCKeyRegistrationMessage` text submitted to `registerCCKeys`.
pub const PROVISIONED_OBJECT_TYPE: &str = "namespaces/provisioned";
/// The value Go's registry writes under `namespaces/provisioned` (an MVP placeholder
/// standing for the `SignedCCKeyRegistrationMessage` of the post-MVP design).
pub const PROVISIONED_PLACEHOLDER: &[u8] = b"a SignedCCKeyRegistrationMessage";

/// Object type of the registry's appraisal records: `[ccId, enclaveId]` → JSON
/// [`crate::lifecycle::AppraisalRecord`] (what was judged, when; not in the Go registry).
pub const APPRAISAL_OBJECT_TYPE: &str = "namespaces/appraisal";
/// Object type of the credentials of revoked enclaves: `[ccId, enclaveId]` → the base64
/// `Credentials` text a revocation moved out of [`CREDENTIALS_OBJECT_TYPE`], so that FPC's
/// hot path (`queryEnclaveCredentials`) answers from the one key it reads (not in the Go
/// registry).
pub const REVOKED_OBJECT_TYPE: &str = "namespaces/revoked";
/// Object type of the chaincode encryption keys: `[ccId]` → the PEM bytes of the key the
/// first `registerCCKeys` of the chaincode registered (never changed afterwards).
pub const CHAINCODE_EK_OBJECT_TYPE: &str = "namespaces/chaincode_ek";
/// Object type of the key exports: `[ccId, receiverEnclaveId]` → base64
/// `SignedExportMessage` text exactly as submitted to `putKeyExport`.
pub const EXPORTED_OBJECT_TYPE: &str = "namespaces/exported";

pub use fabric_chaincode::{
    create_composite_key, partial_composite_key_range, split_composite_key, KeyError,
};

/// Key of the credentials of one enclave.
pub fn credentials_key(cc_id: &str, enclave_id: &str) -> Result<String, KeyError> {
    create_composite_key(CREDENTIALS_OBJECT_TYPE, &[cc_id, enclave_id])
}

/// Key of the provisioned marker of one enclave.
pub fn provisioned_key(cc_id: &str, enclave_id: &str) -> Result<String, KeyError> {
    create_composite_key(PROVISIONED_OBJECT_TYPE, &[cc_id, enclave_id])
}

/// Key of the appraisal record of one enclave.
pub fn appraisal_key(cc_id: &str, enclave_id: &str) -> Result<String, KeyError> {
    create_composite_key(APPRAISAL_OBJECT_TYPE, &[cc_id, enclave_id])
}

/// Key of the moved credentials of one revoked enclave.
pub fn revoked_key(cc_id: &str, enclave_id: &str) -> Result<String, KeyError> {
    create_composite_key(REVOKED_OBJECT_TYPE, &[cc_id, enclave_id])
}

/// Key of a chaincode's encryption key.
pub fn chaincode_ek_key(cc_id: &str) -> Result<String, KeyError> {
    create_composite_key(CHAINCODE_EK_OBJECT_TYPE, &[cc_id])
}

/// Key of the export to one receiving enclave.
pub fn exported_key(cc_id: &str, receiver_enclave_id: &str) -> Result<String, KeyError> {
    create_composite_key(EXPORTED_OBJECT_TYPE, &[cc_id, receiver_enclave_id])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_go_shim() {
        assert_eq!(
            credentials_key("mycc", "ABCD").unwrap(),
            "\u{0}namespaces/credentials\u{0}mycc\u{0}ABCD\u{0}"
        );
        assert_eq!(create_composite_key("t", &[]).unwrap(), "\u{0}t\u{0}");
        assert_eq!(
            chaincode_ek_key("mycc").unwrap(),
            "\u{0}namespaces/chaincode_ek\u{0}mycc\u{0}"
        );
        assert_eq!(
            revoked_key("mycc", "AB").unwrap(),
            "\u{0}namespaces/revoked\u{0}mycc\u{0}AB\u{0}"
        );
        assert_eq!(
            exported_key("mycc", "AB").unwrap(),
            "\u{0}namespaces/exported\u{0}mycc\u{0}AB\u{0}"
        );
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
        assert!(
            e.to_string()
                .starts_with("input contains unicode U+10FFFF starting at position [2]."),
            "{e}"
        );
    }

    #[test]
    fn split_round_trips_and_refuses_garbage() {
        let key = create_composite_key("t", &["a", "", "b"]).unwrap();
        assert_eq!(
            split_composite_key(&key).unwrap(),
            ("t".to_string(), vec!["a".into(), "".into(), "b".into()])
        );
        for garbage in ["", "\u{0}abc", "é\u{0}", "plain"] {
            assert!(split_composite_key(garbage).is_err(), "{garbage:?}");
        }
        // Bytes after the last separator are dropped, as in Go.
        assert_eq!(
            split_composite_key("\u{0}t\u{0}a\u{0}tail").unwrap(),
            ("t".to_string(), vec!["a".to_string()])
        );
    }
}
