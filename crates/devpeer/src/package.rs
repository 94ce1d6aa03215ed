//! Fabric v2 install packages: a gzip tar whose top-level regular files are `metadata.json`
//! and `code.tar.gz`; the package id is `label:hex(sha256(package bytes))`. Also the careful
//! extraction of `code.tar.gz` for the builders (directories and regular files only, no
//! absolute or `..` paths, modes kept, sizes bounded).
#![deny(clippy::indexing_slicing)]

use std::io::Read;
use std::path::{Component, Path};

use fabric_formats::file::{read_stream_bounded, StreamError};
use fabric_formats::label::{is_valid_label, package_id};
use serde::Deserialize;

/// Largest install package accepted.
pub const MAX_PACKAGE_BYTES: usize = 100 * 1024 * 1024;
/// Largest total size of the files extracted from `code.tar.gz`.
const MAX_CODE_BYTES: u64 = 512 * 1024 * 1024;
/// Most entries accepted in either tar.
const MAX_ENTRIES: usize = 100_000;

/// Why a package was refused.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The package is larger than devpeer accepts.
    #[error("package is {0} bytes, more than the {MAX_PACKAGE_BYTES} allowed")]
    TooLarge(usize),
    /// The package is not a gzip-compressed tar.
    #[error("package is not a gzip-compressed tar: {0}")]
    NotTarGz(String),
    /// An entry of the package is not a regular file.
    #[error("tar entry {0} is not a regular file")]
    NotRegular(String),
    /// The package lacks `metadata.json` or `code.tar.gz`.
    #[error("package has no {0}")]
    Missing(&'static str),
    /// `metadata.json` does not parse.
    #[error("metadata.json is invalid: {0}")]
    BadMetadata(String),
    /// The label breaks Fabric's label rule.
    #[error("invalid label '{0}': it must match ^[[:alnum:]][[:alnum:]_.+-]*$")]
    BadLabel(String),
    /// `code.tar.gz` is not a safe gzip-compressed tar.
    #[error("code.tar.gz is invalid: {0}")]
    BadCode(String),
    /// Extracting `code.tar.gz` failed.
    #[error("extracting code.tar.gz: {0}")]
    Io(String),
}

/// `metadata.json` of a package (extra fields ignored, as Fabric does).
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    /// The chaincode's path (Fabric keeps it; devpeer only records it).
    #[serde(default)]
    pub path: String,
    /// The chaincode type a builder's `detect` looks at.
    #[serde(rename = "type")]
    pub cc_type: String,
    /// The label, the first half of the package id.
    pub label: String,
}

/// A parsed, validated install package.
#[derive(Debug, Clone)]
pub struct Package {
    /// `label:sha256` of the package bytes, as Fabric computes it.
    pub id: String,
    /// The parsed `metadata.json`.
    pub metadata: Metadata,
    /// `metadata.json` as it was in the package.
    pub metadata_json: Vec<u8>,
    /// `code.tar.gz` as it was in the package.
    pub code_tar_gz: Vec<u8>,
}

/// Parses and validates an install package.
pub fn parse(bytes: &[u8]) -> Result<Package, PackageError> {
    if bytes.len() > MAX_PACKAGE_BYTES {
        return Err(PackageError::TooLarge(bytes.len()));
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut metadata_json = None;
    let mut code = None;
    for entry in bounded_entries(&mut archive, PackageError::NotTarGz)? {
        let mut entry = entry?;
        let name = entry
            .path()
            .map_err(|e| PackageError::NotTarGz(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(PackageError::NotRegular(name));
        }
        let size = entry
            .header()
            .size()
            .map_err(|e| PackageError::NotTarGz(e.to_string()))?;
        if size as usize > MAX_PACKAGE_BYTES {
            return Err(PackageError::NotTarGz(format!("entry {name} is too large")));
        }
        let slot = match name.as_str() {
            "metadata.json" => &mut metadata_json,
            "code.tar.gz" => &mut code,
            _ => {
                tracing::warn!(entry = %name, "ignoring unexpected file in chaincode package");
                continue;
            }
        };
        let buf =
            read_stream_bounded(&mut entry, MAX_PACKAGE_BYTES as u64).map_err(|e| match e {
                StreamError::Io(e) => PackageError::NotTarGz(e.to_string()),
                StreamError::TooLarge { .. } => {
                    PackageError::NotTarGz(format!("entry {name} is too large"))
                }
            })?;
        *slot = Some(buf);
    }
    let metadata_json = metadata_json.ok_or(PackageError::Missing("metadata.json"))?;
    let code_tar_gz = code.ok_or(PackageError::Missing("code.tar.gz"))?;
    let metadata: Metadata = serde_json::from_slice(&metadata_json)
        .map_err(|e| PackageError::BadMetadata(e.to_string()))?;
    if !is_valid_label(&metadata.label) {
        return Err(PackageError::BadLabel(metadata.label));
    }
    check_code(&code_tar_gz)?;
    let id = package_id(&metadata.label, bytes);
    Ok(Package {
        id,
        metadata,
        metadata_json,
        code_tar_gz,
    })
}

/// The entries of a tar, at most [`MAX_ENTRIES`], with tar and gzip errors mapped by `err`.
fn bounded_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    err: fn(String) -> PackageError,
) -> Result<impl Iterator<Item = Result<tar::Entry<'_, R>, PackageError>>, PackageError> {
    let entries = archive.entries().map_err(|e| err(e.to_string()))?;
    Ok(entries.enumerate().map(move |(n, entry)| {
        if n >= MAX_ENTRIES {
            return Err(err("too many entries".into()));
        }
        entry.map_err(|e| err(e.to_string()))
    }))
}

/// Adds a regular file's size to the running total of extracted bytes, refusing more than
/// [`MAX_CODE_BYTES`] (a small gzip can inflate to far more).
fn add_code_bytes(total: &mut u64, size: u64) -> Result<(), PackageError> {
    *total = total.saturating_add(size);
    if *total > MAX_CODE_BYTES {
        return Err(PackageError::BadCode(
            "code is too large once extracted".into(),
        ));
    }
    Ok(())
}

fn check_code(code: &[u8]) -> Result<(), PackageError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(code));
    let mut total: u64 = 0;
    for entry in bounded_entries(&mut archive, PackageError::BadCode)? {
        let mut entry = entry?;
        add_code_bytes(&mut total, entry.header().size().unwrap_or(u64::MAX))?;
        // Reading the body checks the gzip stream as a whole.
        std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(|e| PackageError::BadCode(e.to_string()))?;
    }
    Ok(())
}

fn safe_relative(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Extracts `code.tar.gz` into `dest` with the rules of Fabric's external builder untar.
pub fn extract_code(code: &[u8], dest: &Path) -> Result<(), PackageError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |e: std::io::Error| PackageError::Io(e.to_string());
    std::fs::create_dir_all(dest).map_err(io)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(code));
    let mut total: u64 = 0;
    for entry in bounded_entries(&mut archive, PackageError::BadCode)? {
        let mut entry = entry?;
        let path = entry
            .path()
            .map_err(|e| PackageError::BadCode(e.to_string()))?
            .into_owned();
        if !safe_relative(&path) {
            return Err(PackageError::BadCode(format!(
                "illegal file path in tar: {}",
                path.display()
            )));
        }
        let target = dest.join(&path);
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(io)?;
            }
            tar::EntryType::Regular => {
                add_code_bytes(&mut total, entry.header().size().unwrap_or(u64::MAX))?;
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                let mut f = std::fs::File::create(&target).map_err(io)?;
                std::io::copy(&mut (&mut entry).take(MAX_CODE_BYTES), &mut f).map_err(io)?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                    .map_err(io)?;
            }
            other => {
                return Err(PackageError::BadCode(format!(
                    "invalid file type {other:?} for {} in tar",
                    path.display()
                )))
            }
        }
    }
    Ok(())
}

/// Directory-name form of a package id (Fabric replaces `<>:"/\|?*&` with `-`).
pub fn sanitize_id(id: &str) -> String {
    id.chars()
        .map(|c| if "<>:\"/\\|?*&".contains(c) { '-' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn parses_and_ids_a_package() {
        let code = tar_gz(&[("a.txt", b"hi")]);
        let pkg = tar_gz(&[
            (
                "metadata.json",
                br#"{"type":"node","label":"cc_1","path":""}"#,
            ),
            ("code.tar.gz", &code),
        ]);
        let p = parse(&pkg).unwrap();
        assert_eq!(p.id, format!("cc_1:{}", hex::encode(Sha256::digest(&pkg))));
        assert_eq!(p.metadata.cc_type, "node");
    }

    #[test]
    fn refuses_bad_packages() {
        let code = tar_gz(&[("a.txt", b"hi")]);
        assert!(matches!(parse(b"nope"), Err(PackageError::NotTarGz(_))));
        let no_code = tar_gz(&[("metadata.json", br#"{"type":"x","label":"a"}"#)]);
        assert!(matches!(
            parse(&no_code),
            Err(PackageError::Missing("code.tar.gz"))
        ));
        let bad_label = tar_gz(&[
            ("metadata.json", br#"{"type":"x","label":"-a"}"#),
            ("code.tar.gz", &code),
        ]);
        assert!(matches!(parse(&bad_label), Err(PackageError::BadLabel(_))));
        let bad_code = tar_gz(&[
            ("metadata.json", br#"{"type":"x","label":"a"}"#),
            ("code.tar.gz", b"not gzip"),
        ]);
        assert!(matches!(parse(&bad_code), Err(PackageError::BadCode(_))));
        let bad_meta = tar_gz(&[("metadata.json", b"{"), ("code.tar.gz", &code)]);
        assert!(matches!(
            parse(&bad_meta),
            Err(PackageError::BadMetadata(_))
        ));
    }

    #[test]
    fn code_too_large_once_extracted_is_refused_before_inflating() {
        // A lone header claiming more than MAX_CODE_BYTES: refused on the header alone.
        let mut h = tar::Header::new_gnu();
        h.set_path("big.bin").unwrap();
        h.set_size(MAX_CODE_BYTES + 1);
        h.set_mode(0o644);
        h.set_cksum();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, h.as_bytes()).unwrap();
        let code = gz.finish().unwrap();
        let e = check_code(&code).unwrap_err();
        assert!(e.to_string().contains("too large once extracted"), "{e}");
        let dir = std::env::temp_dir().join(format!("devpeer-pkg-big-{}", std::process::id()));
        let e = extract_code(&code, &dir).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(e.to_string().contains("too large once extracted"), "{e}");
    }

    #[test]
    fn label_rule_and_sanitize() {
        assert!(is_valid_label("ercc"));
        assert!(is_valid_label("a1.b_c+d-e"));
        assert!(!is_valid_label(""));
        assert!(!is_valid_label("_a"));
        assert!(!is_valid_label("a b"));
        assert_eq!(sanitize_id("a:b/c"), "a-b-c");
    }
}
