//! Where the operator subcommands get base64 credentials from: an argument, a file,
//! or standard input, read with the credentials size limit so a wrong file (a disk
//! image, `/dev/zero`) fails fast instead of filling memory.

use std::io::Read;
use std::path::{Path, PathBuf};

use fabric_formats::file::{read_stream_bounded, StreamError};

use crate::credentials::MAX_CREDENTIALS_BASE64_LEN;

/// Credentials source shared by `ercc inspect` and `ercc verify` (`ercc convert` has its own
/// `--in` flag but reads through [`read_file`]/[`read_stdin`]).
#[derive(Debug, Clone, clap::Args)]
pub struct CredentialsInput {
    /// Base64 credentials (what `registerEnclave` receives); `-` or absent reads stdin.
    #[arg(value_name = "CREDENTIALS_BASE64", conflicts_with = "file")]
    pub credentials: Option<String>,
    /// Read the base64 credentials from this file instead.
    #[arg(long, short = 'f', value_name = "PATH")]
    pub file: Option<PathBuf>,
}

/// Why the credentials text could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The input cannot be read.
    #[error("cannot read {what}: {source}")]
    Io {
        /// What was read (a path or standard input).
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The input is larger than the credentials limit.
    #[error("{what} is larger than the credentials limit of {MAX_CREDENTIALS_BASE64_LEN} bytes")]
    TooLarge {
        /// What was read (a path or standard input).
        what: String,
    },
    /// The input is not UTF-8.
    #[error("{what} is not UTF-8 text")]
    NotText {
        /// What was read (a path or standard input).
        what: String,
    },
}

impl CredentialsInput {
    /// The base64 text, surrounding whitespace removed (files usually end in a newline).
    pub fn read(&self) -> Result<String, InputError> {
        match (&self.credentials, &self.file) {
            (Some(arg), _) if arg != "-" => Ok(arg.trim().to_owned()),
            (_, Some(path)) => read_file(path),
            _ => read_stdin(),
        }
    }
}

/// Base64 credentials text from a file, bounded and trimmed (also used by `ercc convert`).
pub fn read_file(path: &Path) -> Result<String, InputError> {
    let what = format!("file {}", path.display());
    let file = std::fs::File::open(path).map_err(|source| InputError::Io {
        what: what.clone(),
        source,
    })?;
    Ok(read_limited(file, what)?.trim().to_owned())
}

/// Base64 credentials text from standard input, bounded and trimmed.
pub fn read_stdin() -> Result<String, InputError> {
    Ok(
        read_limited(std::io::stdin().lock(), "standard input".into())?
            .trim()
            .to_owned(),
    )
}

/// Reads at most the limit (plus slack for a trailing newline), refusing anything longer.
fn read_limited(reader: impl Read, what: String) -> Result<String, InputError> {
    let slack = 2;
    let cap = MAX_CREDENTIALS_BASE64_LEN + slack;
    let buf = read_stream_bounded(reader, cap as u64).map_err(|e| match e {
        StreamError::TooLarge { .. } => InputError::TooLarge { what: what.clone() },
        StreamError::Io(source) => InputError::Io {
            what: what.clone(),
            source,
        },
    })?;
    String::from_utf8(buf).map_err(|_| InputError::NotText { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_and_trimmed() {
        let ok = read_limited(&b"QUJD\n"[..], "x".into()).unwrap();
        assert_eq!(ok.trim(), "QUJD");
        let big = vec![b'A'; MAX_CREDENTIALS_BASE64_LEN + 10];
        assert!(matches!(
            read_limited(big.as_slice(), "x".into()).unwrap_err(),
            InputError::TooLarge { .. }
        ));
        assert!(matches!(
            read_limited(&[0xffu8, 0xfe][..], "x".into()).unwrap_err(),
            InputError::NotText { .. }
        ));
        let input = CredentialsInput {
            credentials: Some(" QUJD ".into()),
            file: None,
        };
        assert_eq!(input.read().unwrap(), "QUJD");
    }
}
