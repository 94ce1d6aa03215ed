//! Files the peer reads and writes on behalf of others: reads bounded before allocating (a
//! wrong path such as `/dev/zero` or a huge file fails fast), and key material written
//! readable by its owner only.

use std::io::Read;
use std::path::Path;

/// Reads at most `limit` bytes of `path`, refusing a longer file. The limit is applied while
/// reading, so special files that report no size and files that grow are bounded too.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut data = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if data.len() as u64 > limit {
        return Err(format!(
            "{} is too large (more than {limit} bytes)",
            path.display()
        ));
    }
    Ok(data)
}

/// Writes key material (or a file holding it) readable by its owner only (mode 0600).
pub(crate) fn write_private(path: &Path, data: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_limited(&p, 5).unwrap(), b"12345");
        let e = read_limited(&p, 4).unwrap_err();
        assert!(e.contains("too large"), "{e}");
        // A special file with no size: the limit still holds.
        let e = read_limited(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(e.contains("too large"), "{e}");
        assert!(read_limited(&dir.path().join("missing"), 5).is_err());
    }

    #[test]
    fn private_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key.pem");
        write_private(&p, "secret").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "secret");
    }
}
