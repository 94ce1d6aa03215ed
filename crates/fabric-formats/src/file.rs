//! Bounded reads of files named in configuration (certificates, keys, policies, packages) and
//! of streams such as standard input: the limit is applied while reading, so a special file
//! that reports no size (`/dev/zero`), a file that grows while it is read, or a wrong path to
//! a huge file fails fast instead of filling memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Why a bounded file read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The file holds more than the limit.
    #[error("{} is too large (more than {limit} bytes)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size as the file system reports it, or `limit + 1` when the excess was found
        /// while reading (a special file, or one that grew).
        size: u64,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// [`read_regular_bounded`] was given a directory, device, FIFO or socket.
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::NotAFile { path } => path,
        }
    }

    /// What went wrong without the path, for callers whose message names the file already:
    /// the system's text, `larger than N bytes`, or `not a regular file`.
    pub fn reason(&self) -> String {
        match self {
            ReadError::Io { source, .. } => source.to_string(),
            ReadError::TooLarge { limit, .. } => format!("larger than {limit} bytes"),
            ReadError::NotAFile { .. } => "not a regular file".to_owned(),
        }
    }
}

/// Why a bounded stream read failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading failed.
    #[error("{0}")]
    Io(#[source] io::Error),
    /// The stream holds more than the limit.
    #[error("more than {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },
}

/// Reads all of `path`, at most `limit` bytes; a longer file is refused. A regular file whose
/// size is already over the limit is refused before anything is allocated.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_file(path, limit, false)
}

/// Like [`read_bounded`], but also refuses anything that is not a regular file (a directory, a
/// device such as `/dev/null`, a FIFO), for inputs where such a path can only be a mistake.
pub fn read_regular_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_file(path, limit, true)
}

/// Reads `reader` to its end, at most `limit` bytes; a longer stream is refused.
pub fn read_stream_bounded(reader: impl Read, limit: u64) -> Result<Vec<u8>, StreamError> {
    read_capped(reader, limit, Vec::new()).map_err(|e| match e {
        Capped::Io(e) => StreamError::Io(e),
        Capped::TooLarge => StreamError::TooLarge { limit },
    })
}

/// Opens `path`, refuses what its metadata already rules out, then reads it capped.
fn read_file(path: &Path, limit: u64, regular_only: bool) -> Result<Vec<u8>, ReadError> {
    let io_error = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    if regular_only && !meta.is_file() {
        return Err(ReadError::NotAFile {
            path: path.to_owned(),
        });
    }
    let too_large = |size| ReadError::TooLarge {
        path: path.to_owned(),
        size,
        limit,
    };
    // Only a regular file's size means anything; a device or FIFO reports 0.
    let mut capacity = 0;
    if meta.is_file() {
        if meta.len() > limit {
            return Err(too_large(meta.len()));
        }
        capacity = usize::try_from(meta.len()).unwrap_or(0);
    }
    read_capped(file, limit, Vec::with_capacity(capacity)).map_err(|e| match e {
        Capped::Io(e) => io_error(e),
        Capped::TooLarge => too_large(limit.saturating_add(1)),
    })
}

/// What [`read_capped`] found.
enum Capped {
    Io(io::Error),
    TooLarge,
}

/// Reads at most `limit + 1` bytes into `buf`: one byte past the limit proves the excess
/// without reading the rest.
fn read_capped(reader: impl Read, limit: u64, mut buf: Vec<u8>) -> Result<Vec<u8>, Capped> {
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(Capped::Io)?;
    if u64::try_from(buf.len()).map_or(true, |n| n > limit) {
        return Err(Capped::TooLarge);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_bounded(&p, 5).unwrap(), b"12345");
        let e = read_bounded(&p, 4).unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        assert!(matches!(
            e,
            ReadError::TooLarge {
                size: 5,
                limit: 4,
                ..
            }
        ));
        // A special file with no size: the limit still holds.
        let e = read_bounded(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        assert!(matches!(e, ReadError::TooLarge { size: 1025, .. }));
        assert_eq!(e.reason(), "larger than 1024 bytes");
        let missing = dir.path().join("missing");
        let e = read_bounded(&missing, 5).unwrap_err();
        assert!(matches!(e, ReadError::Io { .. }));
        assert_eq!(e.path(), missing);
        assert!(e.to_string().starts_with(&missing.display().to_string()));
        assert_eq!(read_bounded(Path::new("/dev/null"), 5).unwrap(), b"");
    }

    #[test]
    fn regular_files_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        for special in [dir.path(), Path::new("/dev/null"), Path::new("/dev/zero")] {
            let e = read_regular_bounded(special, 5).unwrap_err();
            assert!(matches!(e, ReadError::NotAFile { .. }), "{e}");
            assert!(e.to_string().contains("not a regular file"), "{e}");
            assert_eq!(e.reason(), "not a regular file");
        }
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(read_regular_bounded(&p, 3).unwrap(), b"abc");
    }

    #[test]
    fn streams_are_bounded() {
        assert_eq!(read_stream_bounded(&b"abc"[..], 3).unwrap(), b"abc");
        assert!(matches!(
            read_stream_bounded(&b"abcd"[..], 3),
            Err(StreamError::TooLarge { limit: 3 })
        ));
        assert!(matches!(
            read_stream_bounded(std::io::repeat(0), 1 << 20),
            Err(StreamError::TooLarge { .. })
        ));
        assert_eq!(read_stream_bounded(&b""[..], 0).unwrap(), b"");
    }
}
