//! The one place tests and benches find the real attestation vectors (Intel IAS reports, the
//! DCAP sample quote and collateral). They are not part of the repository: they live in the
//! directory named by the environment variable `ERCC_TEST_VECTORS` or, when it is unset, in
//! `../shared/vectors` beside the workspace root.
//!
//! A vector that is missing is a test that cannot run, not one that passes: [`read`] panics with
//! a message naming the full path and the variable, so the fix is obvious.
//!
//! ```no_run
//! let quote = test_vectors::read("dcap/dcap-qvl-0.7.1-sample/sgx_quote");
//! assert!(!quote.is_empty());
//! ```
#![deny(missing_docs)]
#![deny(clippy::expect_used)]

use std::path::{Path, PathBuf};

/// The environment variable naming the vectors directory.
pub const ENV_VAR: &str = "ERCC_TEST_VECTORS";

/// The vectors directory: `ERCC_TEST_VECTORS` if set (and not empty), else
/// `<workspace root>/../shared/vectors`. A relative `ERCC_TEST_VECTORS` is taken from the
/// workspace root, not from the working directory, which cargo sets to each crate's own
/// directory when it runs its tests.
pub fn vectors_dir() -> PathBuf {
    dir_from(std::env::var_os(ENV_VAR))
}

fn dir_from(var: Option<std::ffi::OsString>) -> PathBuf {
    // This crate sits at `<workspace root>/crates/test-vectors`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match var {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("../shared/vectors"),
    }
}

/// The path of `rel` (for example `ias/powersoftau-sgx-old/fpc_evidence.json`) in the vectors
/// directory. It may not exist; [`read`] says so clearly.
pub fn path(rel: impl AsRef<Path>) -> PathBuf {
    vectors_dir().join(rel)
}

/// The bytes of the vector `rel`.
///
/// # Panics
/// If the file cannot be read, with a message naming its full path and `ERCC_TEST_VECTORS`.
pub fn read(rel: impl AsRef<Path>) -> Vec<u8> {
    let path = path(rel);
    match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => panic!("{}", missing(&path, &e)),
    }
}

/// The vector `rel` as UTF-8 text.
///
/// # Panics
/// As [`read`], and if the file is not UTF-8.
pub fn read_to_string(rel: impl AsRef<Path>) -> String {
    let path = path(rel);
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => panic!("{}", missing(&path, &e)),
    }
}

fn missing(path: &Path, e: &std::io::Error) -> String {
    format!(
        "cannot read the test vector {}: {e} (the vectors directory is ${ENV_VAR} if set, \
         else ../shared/vectors beside the workspace root)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_is_absolute_or_from_the_workspace_root() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert_eq!(dir_from(None), root.join("../shared/vectors"));
        assert_eq!(dir_from(Some("".into())), root.join("../shared/vectors"));
        assert_eq!(
            dir_from(Some("/srv/vectors".into())),
            Path::new("/srv/vectors")
        );
        assert_eq!(dir_from(Some("vectors".into())), root.join("vectors"));
    }

    #[test]
    fn a_missing_vector_names_its_path_and_the_variable() {
        let rel = "no-such-dir/no-such-vector.bin";
        let err = std::panic::catch_unwind(|| read(rel)).unwrap_err();
        let text = err.downcast_ref::<String>().unwrap();
        assert!(text.contains(&path(rel).display().to_string()), "{text}");
        assert!(text.contains(ENV_VAR), "{text}");
    }
}
