//! The verification policy: which evidence the registry accepts. Secure by default (no simulated
//! evidence, no debug enclaves, IAS status `OK` only, DCAP TCB `UpToDate` only, reports at most a
//! day old, Intel's roots), configurable from a JSON file and `ERCC_*` environment variables.
//!
//! The crate does no I/O: the caller hands in the variables and a [`ReadFile`] that reads the
//! policy and trust-anchor files it names, bounded by the limits set here.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::anchors::{AnchorError, AnchorKind, RootCa};
use crate::claims::EvidenceType;
use crate::limits::{MAX_ANCHOR_FILE_LEN, MAX_POLICY_FILE_LEN};

/// IAS `isvEnclaveQuoteStatus` values a policy may accept (IAS API v4 §4.2.1). The others
/// (`SIGNATURE_INVALID`, `GROUP_REVOKED`, `SIGNATURE_REVOKED`, `KEY_REVOKED`,
/// `SIGRL_VERSION_MISMATCH`) mean the quote proves nothing and can never be accepted.
pub const ACCEPTABLE_IAS_QUOTE_STATUSES: [&str; 5] = [
    "OK",
    "GROUP_OUT_OF_DATE",
    "CONFIGURATION_NEEDED",
    "SW_HARDENING_NEEDED",
    "CONFIGURATION_AND_SW_HARDENING_NEEDED",
];

/// DCAP TCB statuses a policy may accept (Intel PCS TCB info v3). `Revoked` can never be accepted.
pub const ACCEPTABLE_DCAP_TCB_STATUSES: [&str; 6] = [
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
];

/// Default `max_report_age`: one day.
pub const DEFAULT_MAX_REPORT_AGE: u64 = 86_400;

/// Environment variable naming a JSON policy file.
pub const ENV_POLICY_FILE: &str = "ERCC_POLICY_FILE";
/// Environment variable: comma list of accepted evidence types.
pub const ENV_ACCEPTED_EVIDENCE: &str = "ERCC_ACCEPTED_EVIDENCE";
/// Environment variable: comma list of accepted IAS quote statuses.
pub const ENV_IAS_ACCEPTED_QUOTE_STATUSES: &str = "ERCC_IAS_ACCEPTED_QUOTE_STATUSES";
/// Environment variable: `true` to accept debug enclaves.
pub const ENV_ALLOW_DEBUG_ENCLAVES: &str = "ERCC_ALLOW_DEBUG_ENCLAVES";
/// Environment variable: maximum report age in seconds.
pub const ENV_MAX_REPORT_AGE: &str = "ERCC_MAX_REPORT_AGE";
/// Environment variable: PEM file of the IAS report-signing root.
pub const ENV_IAS_ROOT_CA: &str = "ERCC_IAS_ROOT_CA";
/// Environment variable: PEM file of the DCAP root.
pub const ENV_DCAP_ROOT_CA: &str = "ERCC_DCAP_ROOT_CA";
/// Environment variable: comma list of accepted DCAP TCB statuses.
pub const ENV_DCAP_ACCEPTED_TCB_STATUSES: &str = "ERCC_DCAP_ACCEPTED_TCB_STATUSES";
/// Environment variable: comma list of Intel advisory ids to reject (DCAP).
pub const ENV_DCAP_REJECTED_ADVISORIES: &str = "ERCC_DCAP_REJECTED_ADVISORIES";

const POLICY_ENV_VARS: [&str; 9] = [
    ENV_POLICY_FILE,
    ENV_ACCEPTED_EVIDENCE,
    ENV_IAS_ACCEPTED_QUOTE_STATUSES,
    ENV_ALLOW_DEBUG_ENCLAVES,
    ENV_MAX_REPORT_AGE,
    ENV_IAS_ROOT_CA,
    ENV_DCAP_ROOT_CA,
    ENV_DCAP_ACCEPTED_TCB_STATUSES,
    ENV_DCAP_REJECTED_ADVISORIES,
];

/// Prefixes of the policy variables: an unknown variable under one of them is a typo of a policy
/// setting (which would otherwise be silently ignored), so it is an error.
const POLICY_ENV_PREFIXES: [&str; 6] = [
    "ERCC_POLICY",
    "ERCC_ACCEPTED",
    "ERCC_IAS_",
    "ERCC_ALLOW_",
    "ERCC_MAX_",
    "ERCC_DCAP_",
];

/// Reads a file named in the configuration (the policy file, trust-anchor PEM files), refusing
/// one larger than the given number of bytes before reading it whole. The error is the reason,
/// printed after the path (for example `No such file or directory (os error 2)`).
///
/// The caller owns the I/O; the policy passes the limit ([`MAX_POLICY_FILE_LEN`],
/// [`MAX_ANCHOR_FILE_LEN`]) and refuses a longer answer all the same.
///
/// [`MAX_POLICY_FILE_LEN`]: crate::limits::MAX_POLICY_FILE_LEN
/// [`MAX_ANCHOR_FILE_LEN`]: crate::limits::MAX_ANCHOR_FILE_LEN
pub type ReadFile<'a> = &'a dyn Fn(&Path, usize) -> Result<Vec<u8>, String>;

/// What the registry accepts. `Policy::default()` is the secure default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Evidence types accepted (default: `epid-linkable`, `epid-unlinkable`, `dcap`).
    pub accepted_evidence: BTreeSet<EvidenceType>,
    /// IAS quote statuses accepted (default: `OK`).
    pub ias_accepted_quote_statuses: BTreeSet<String>,
    /// Whether enclaves with the DEBUG attribute are accepted (default: no).
    pub allow_debug_enclaves: bool,
    /// Largest accepted age of an IAS report at the transaction time, in seconds (default: 86400).
    pub max_report_age: u64,
    /// Root the IAS report-signing certificate must chain to (default: Intel's, embedded).
    pub ias_root_ca: RootCa,
    /// DCAP settings.
    pub dcap: DcapPolicy,
}

/// The DCAP part of the policy, read by the common appraisal and the DCAP verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DcapPolicy {
    /// TCB statuses accepted (default: `UpToDate`).
    pub accepted_tcb_statuses: BTreeSet<String>,
    /// Advisory ids that make a quote unacceptable whatever its status (default: none).
    pub rejected_advisories: BTreeSet<String>,
    /// Root of the PCK, TCB-signing and CRL chains (default: Intel SGX Root CA, embedded).
    pub root_ca: RootCa,
}

/// A policy setting that cannot be used. The registry refuses to start with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy file cannot be read.
    #[error("cannot read policy file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// The policy file is not JSON of the expected form (unknown keys included).
    #[error("policy file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A setting has a value that is not allowed.
    #[error("{setting}: {reason}")]
    Value {
        /// The setting (`ERCC_*` variable or policy-file key).
        setting: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// An `ERCC_*` variable that looks like a policy setting but is none.
    #[error("unknown policy variable {name} (known: {known})")]
    UnknownVariable {
        /// The variable.
        name: String,
        /// Every known setting variable, comma-separated (this policy's and the shared ones).
        known: String,
    },
    /// A trust anchor cannot be used.
    #[error("trust anchor {0}")]
    Anchor(#[from] AnchorError),
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            accepted_evidence: [
                EvidenceType::EpidLinkable,
                EvidenceType::EpidUnlinkable,
                EvidenceType::Dcap,
            ]
            .into_iter()
            .collect(),
            ias_accepted_quote_statuses: ["OK".to_owned()].into_iter().collect(),
            allow_debug_enclaves: false,
            max_report_age: DEFAULT_MAX_REPORT_AGE,
            ias_root_ca: RootCa::intel_ias_root(),
            dcap: DcapPolicy::default(),
        }
    }
}

impl Default for DcapPolicy {
    fn default() -> Self {
        DcapPolicy {
            accepted_tcb_statuses: ["UpToDate".to_owned()].into_iter().collect(),
            rejected_advisories: BTreeSet::new(),
            root_ca: RootCa::intel_sgx_root(),
        }
    }
}

/// The policy file: the environment variables' names without `ERCC_`, lower-case. Lists are JSON
/// arrays of strings; root CAs are PEM file paths, relative to the policy file's directory.
/// Keys that are neither this policy's nor a shared setting's are refused (serde's
/// `deny_unknown_fields` cannot be combined with the `shared` pass-through, so it is checked by hand).
#[derive(Deserialize, Default)]
struct PolicyFile {
    accepted_evidence: Option<Vec<String>>,
    ias_accepted_quote_statuses: Option<Vec<String>>,
    allow_debug_enclaves: Option<bool>,
    max_report_age: Option<u64>,
    ias_root_ca: Option<String>,
    dcap_root_ca: Option<String>,
    dcap_accepted_tcb_statuses: Option<Vec<String>>,
    dcap_rejected_advisories: Option<Vec<String>>,
    #[serde(flatten)]
    others: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The policy-file key of an `ERCC_*` setting variable: its name without `ERCC_`, lower-case.
pub fn file_key(env_name: &str) -> String {
    env_name
        .strip_prefix("ERCC_")
        .unwrap_or(env_name)
        .to_ascii_lowercase()
}

impl Policy {
    /// The policy from `ERCC_*` variables (the process environment's, as the caller reads it):
    /// defaults, then the file named by `ERCC_POLICY_FILE` (if set, read with `read`), then each
    /// `ERCC_*` setting variable present (the variables win over the file). Names that are not
    /// UTF-8 or do not start with `ERCC_` are ignored; an `ERCC_*` value that is not UTF-8 is an
    /// error.
    pub fn from_vars<I, K, V>(vars: I, read: ReadFile<'_>) -> Result<Policy, PolicyError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        Policy::from_vars_sharing(vars, &[], read)
    }

    /// [`Policy::from_vars`] when other components keep their settings in the same `ERCC_*`
    /// namespace and policy file (the registry's own policy): `shared` names their variables,
    /// which are then known (not typos) and otherwise ignored here, as are their file keys
    /// ([`file_key`]).
    pub fn from_vars_sharing<I, K, V>(
        vars: I,
        shared: &[&str],
        read: ReadFile<'_>,
    ) -> Result<Policy, PolicyError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let settings = policy_settings(vars, shared)?;
        let mut policy = match settings.get(ENV_POLICY_FILE) {
            Some(path) => Policy::from_file_sharing(path, shared, read)?,
            None => Policy::default(),
        };
        policy.apply_settings(&settings, read)?;
        Ok(policy)
    }

    /// Sets what the `ERCC_*` setting variables in `settings` say (over the defaults or the
    /// policy file).
    fn apply_settings(
        &mut self,
        settings: &BTreeMap<String, String>,
        read: ReadFile<'_>,
    ) -> Result<(), PolicyError> {
        let policy = self;
        let get = |name: &str| settings.get(name).map(String::as_str);
        if let Some(v) = get(ENV_ACCEPTED_EVIDENCE) {
            policy.accepted_evidence = parse_evidence_types(ENV_ACCEPTED_EVIDENCE, comma_list(v))?;
        }
        if let Some(v) = get(ENV_IAS_ACCEPTED_QUOTE_STATUSES) {
            policy.ias_accepted_quote_statuses =
                parse_ias_statuses(ENV_IAS_ACCEPTED_QUOTE_STATUSES, comma_list(v))?;
        }
        if let Some(v) = get(ENV_ALLOW_DEBUG_ENCLAVES) {
            policy.allow_debug_enclaves = match v.trim() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(value_error(
                        ENV_ALLOW_DEBUG_ENCLAVES,
                        format!("{v:?} is neither true nor false"),
                    ))
                }
            };
        }
        if let Some(v) = get(ENV_MAX_REPORT_AGE) {
            policy.max_report_age = v.trim().parse().map_err(|_| {
                value_error(
                    ENV_MAX_REPORT_AGE,
                    format!("{v:?} is not a whole number of seconds"),
                )
            })?;
        }
        if let Some(v) = get(ENV_IAS_ROOT_CA) {
            policy.ias_root_ca =
                read_root_ca(ENV_IAS_ROOT_CA, Path::new(v), AnchorKind::IasRsa, read)?;
        }
        if let Some(v) = get(ENV_DCAP_ROOT_CA) {
            policy.dcap.root_ca =
                read_root_ca(ENV_DCAP_ROOT_CA, Path::new(v), AnchorKind::DcapP256, read)?;
        }
        if let Some(v) = get(ENV_DCAP_ACCEPTED_TCB_STATUSES) {
            policy.dcap.accepted_tcb_statuses =
                parse_tcb_statuses(ENV_DCAP_ACCEPTED_TCB_STATUSES, comma_list(v))?;
        }
        if let Some(v) = get(ENV_DCAP_REJECTED_ADVISORIES) {
            policy.dcap.rejected_advisories =
                parse_advisories(ENV_DCAP_REJECTED_ADVISORIES, comma_list(v), true)?;
        }
        Ok(())
    }

    /// The policy in a JSON file (keys as the variables without `ERCC_`, lower-case; absent keys
    /// keep their defaults; unknown keys are an error). Example:
    ///
    /// ```json
    /// {"accepted_evidence": ["epid-linkable", "dcap"], "ias_accepted_quote_statuses": ["OK"],
    ///  "allow_debug_enclaves": false, "max_report_age": 86400, "ias_root_ca": "ias-root.pem",
    ///  "dcap_root_ca": "sgx-root.pem", "dcap_accepted_tcb_statuses": ["UpToDate"],
    ///  "dcap_rejected_advisories": ["INTEL-SA-00615"]}
    /// ```
    ///
    /// `read` reads the file and the trust anchors it names.
    pub fn from_file(path: impl AsRef<Path>, read: ReadFile<'_>) -> Result<Policy, PolicyError> {
        Policy::from_file_sharing(path, &[], read)
    }

    /// [`Policy::from_file`] that also accepts the file keys of the `shared` settings of
    /// [`Policy::from_vars_sharing`] (and ignores them).
    pub fn from_file_sharing(
        path: impl AsRef<Path>,
        shared: &[&str],
        read: ReadFile<'_>,
    ) -> Result<Policy, PolicyError> {
        let path = path.as_ref();
        let bytes =
            read_bounded(read, path, MAX_POLICY_FILE_LEN).map_err(|reason| PolicyError::Read {
                path: path.to_owned(),
                reason,
            })?;
        let file: PolicyFile = serde_json::from_slice(&bytes).map_err(|e| PolicyError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let shared_keys: Vec<String> = shared.iter().map(|n| file_key(n)).collect();
        if let Some(key) = file.others.keys().find(|k| !shared_keys.contains(k)) {
            return Err(PolicyError::File {
                path: path.to_owned(),
                reason: format!("unknown field `{key}`"),
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut policy = Policy::default();
        if let Some(v) = file.accepted_evidence {
            policy.accepted_evidence = parse_evidence_types("accepted_evidence", v)?;
        }
        if let Some(v) = file.ias_accepted_quote_statuses {
            policy.ias_accepted_quote_statuses =
                parse_ias_statuses("ias_accepted_quote_statuses", v)?;
        }
        if let Some(v) = file.allow_debug_enclaves {
            policy.allow_debug_enclaves = v;
        }
        if let Some(v) = file.max_report_age {
            policy.max_report_age = v;
        }
        if let Some(v) = file.ias_root_ca {
            policy.ias_root_ca =
                read_root_ca("ias_root_ca", &base.join(v), AnchorKind::IasRsa, read)?;
        }
        if let Some(v) = file.dcap_root_ca {
            policy.dcap.root_ca =
                read_root_ca("dcap_root_ca", &base.join(v), AnchorKind::DcapP256, read)?;
        }
        if let Some(v) = file.dcap_accepted_tcb_statuses {
            policy.dcap.accepted_tcb_statuses =
                parse_tcb_statuses("dcap_accepted_tcb_statuses", v)?;
        }
        if let Some(v) = file.dcap_rejected_advisories {
            policy.dcap.rejected_advisories =
                parse_advisories("dcap_rejected_advisories", v, true)?;
        }
        Ok(policy)
    }

    /// Every setting as JSON, in the policy file's key names, trust anchors by the SHA-256 of
    /// their certificate (not their path, which differs between organisations). Two policies
    /// judge all evidence alike exactly when these values are equal, so operators compare them
    /// (or their digest) across organisations. Keys are sorted, so the compact serialisation is
    /// canonical.
    pub fn settings_json(&self) -> serde_json::Value {
        // Destructured without `..`: a new setting cannot be left out of the comparison.
        let Policy {
            accepted_evidence,
            ias_accepted_quote_statuses,
            allow_debug_enclaves,
            max_report_age,
            ias_root_ca,
            dcap:
                DcapPolicy {
                    accepted_tcb_statuses,
                    rejected_advisories,
                    root_ca,
                },
        } = self;
        let types: Vec<&str> = accepted_evidence.iter().map(|t| t.as_str()).collect();
        serde_json::json!({
            "accepted_evidence": types,
            "allow_debug_enclaves": allow_debug_enclaves,
            "dcap_accepted_tcb_statuses": accepted_tcb_statuses,
            "dcap_rejected_advisories": rejected_advisories,
            "dcap_root_ca_sha256": root_ca.sha256_hex(),
            "ias_accepted_quote_statuses": ias_accepted_quote_statuses,
            "ias_root_ca_sha256": ias_root_ca.sha256_hex(),
            "max_report_age": max_report_age,
        })
    }

    /// Whether the policy accepts evidence of this type.
    pub fn accepts(&self, evidence_type: EvidenceType) -> bool {
        self.accepted_evidence.contains(&evidence_type)
    }
}

impl fmt::Display for Policy {
    /// One line for the start log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let types: Vec<&str> = self.accepted_evidence.iter().map(|t| t.as_str()).collect();
        let join = |set: &BTreeSet<String>| {
            if set.is_empty() {
                "none".to_owned()
            } else {
                set.iter().cloned().collect::<Vec<_>>().join(",")
            }
        };
        write!(
            f,
            "accepted evidence: {}; debug enclaves: {}; IAS quote statuses: {}; max report age: {} s; \
             IAS root CA: {}; DCAP TCB statuses: {}; DCAP rejected advisories: {}; DCAP root CA: {}",
            types.join(","),
            if self.allow_debug_enclaves { "allowed" } else { "refused" },
            join(&self.ias_accepted_quote_statuses),
            self.max_report_age,
            self.ias_root_ca,
            join(&self.dcap.accepted_tcb_statuses),
            join(&self.dcap.rejected_advisories),
            self.dcap.root_ca,
        )
    }
}

/// The policy's `ERCC_*` setting variables among `vars`. Names that are not UTF-8 or not
/// `ERCC_*` are skipped, and so are the `shared` settings; an `ERCC_*` value that is not UTF-8,
/// and an unknown variable under one of the policy's prefixes (a typo), are errors.
fn policy_settings<I, K, V>(
    vars: I,
    shared: &[&str],
) -> Result<BTreeMap<String, String>, PolicyError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut settings = BTreeMap::new();
    for (name, value) in vars {
        let Some(name) = name.as_ref().to_str() else {
            continue;
        };
        if !name.starts_with("ERCC_") {
            continue;
        }
        let Some(value) = value.as_ref().to_str() else {
            return Err(value_error(name, "value is not valid UTF-8"));
        };
        if POLICY_ENV_VARS.contains(&name) {
            settings.insert(name.to_owned(), value.to_owned());
        } else if !shared.contains(&name) && POLICY_ENV_PREFIXES.iter().any(|p| name.starts_with(p))
        {
            let known: Vec<&str> = POLICY_ENV_VARS.iter().chain(shared).copied().collect();
            return Err(PolicyError::UnknownVariable {
                name: name.to_owned(),
                known: known.join(", "),
            });
        }
    }
    Ok(settings)
}

fn value_error(setting: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Value {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

fn comma_list(value: &str) -> Vec<String> {
    if value.trim().is_empty() {
        return Vec::new();
    }
    value.split(',').map(|s| s.trim().to_owned()).collect()
}

fn check_items(setting: &str, items: &[String], allow_empty: bool) -> Result<(), PolicyError> {
    if items.is_empty() && !allow_empty {
        return Err(value_error(
            setting,
            "the list is empty; nothing would be accepted",
        ));
    }
    if items.iter().any(String::is_empty) {
        return Err(value_error(setting, "the list has an empty entry"));
    }
    Ok(())
}

fn parse_evidence_types(
    setting: &str,
    items: Vec<String>,
) -> Result<BTreeSet<EvidenceType>, PolicyError> {
    check_items(setting, &items, false)?;
    items
        .iter()
        .map(|s| s.parse().map_err(|e| value_error(setting, format!("{e}"))))
        .collect()
}

fn parse_ias_statuses(setting: &str, items: Vec<String>) -> Result<BTreeSet<String>, PolicyError> {
    parse_known(
        setting,
        items,
        &ACCEPTABLE_IAS_QUOTE_STATUSES,
        "IAS quote status",
    )
}

fn parse_tcb_statuses(setting: &str, items: Vec<String>) -> Result<BTreeSet<String>, PolicyError> {
    parse_known(
        setting,
        items,
        &ACCEPTABLE_DCAP_TCB_STATUSES,
        "DCAP TCB status",
    )
}

fn parse_known(
    setting: &str,
    items: Vec<String>,
    known: &[&str],
    kind: &str,
) -> Result<BTreeSet<String>, PolicyError> {
    check_items(setting, &items, false)?;
    for item in &items {
        if !known.contains(&item.as_str()) {
            return Err(value_error(
                setting,
                format!(
                    "{item:?} is not an acceptable {kind} (acceptable: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(items.into_iter().collect())
}

fn parse_advisories(
    setting: &str,
    items: Vec<String>,
    allow_empty: bool,
) -> Result<BTreeSet<String>, PolicyError> {
    check_items(setting, &items, allow_empty)?;
    for item in &items {
        let well_formed = item.len() <= 32
            && item
                .strip_prefix("INTEL-SA-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !well_formed {
            return Err(value_error(
                setting,
                format!("{item:?} is not an Intel advisory id like INTEL-SA-00615"),
            ));
        }
    }
    Ok(items.into_iter().collect())
}

fn read_root_ca(
    setting: &str,
    path: &Path,
    kind: AnchorKind,
    read: ReadFile<'_>,
) -> Result<RootCa, PolicyError> {
    let pem = read_bounded(read, path, MAX_ANCHOR_FILE_LEN).map_err(|reason| {
        value_error(setting, format!("cannot read {}: {reason}", path.display()))
    })?;
    let root = RootCa::from_pem(&pem, path.display().to_string())?;
    root.check_kind(kind)?;
    Ok(root)
}

/// Reads a configuration file with the caller's reader, holding it to `max` bytes even if the
/// reader does not.
fn read_bounded(read: ReadFile<'_>, path: &Path, max: usize) -> Result<Vec<u8>, String> {
    let bytes = read(path, max)?;
    if bytes.len() > max {
        return Err(format!("larger than the limit of {max} bytes"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENOENT: &str = "No such file or directory (os error 2)";

    /// The tests' files, in memory: the policy reads only through the reader it is given.
    #[derive(Default)]
    struct Files(std::collections::BTreeMap<PathBuf, Vec<u8>>);

    impl Files {
        fn with(mut self, path: &str, bytes: impl Into<Vec<u8>>) -> Self {
            self.0.insert(PathBuf::from(path), bytes.into());
            self
        }

        fn read(&self, path: &Path, max: usize) -> Result<Vec<u8>, String> {
            let bytes = self.0.get(path).ok_or(ENOENT)?;
            if bytes.len() > max {
                return Err(format!("larger than the limit of {max} bytes"));
            }
            Ok(bytes.clone())
        }
    }

    fn no_files(_: &Path, _: usize) -> Result<Vec<u8>, String> {
        Err(ENOENT.into())
    }

    #[test]
    fn default_is_secure() {
        let p = Policy::default();
        assert!(!p.accepts(EvidenceType::Simulated));
        assert!(p.accepts(EvidenceType::EpidLinkable));
        assert!(p.accepts(EvidenceType::Dcap));
        assert!(!p.allow_debug_enclaves);
        assert_eq!(p.max_report_age, 86_400);
        assert_eq!(p.ias_accepted_quote_statuses.len(), 1);
        assert_eq!(
            p.to_string(),
            "accepted evidence: epid-linkable,epid-unlinkable,dcap; debug enclaves: refused; \
             IAS quote statuses: OK; max report age: 86400 s; IAS root CA: \
             sha256:7b42e41ec43b91db834a065de4f98a13c44d695570e839cfa8921e584e40735d (embedded Intel SGX \
             Attestation Report Signing CA); DCAP TCB statuses: UpToDate; DCAP rejected advisories: none; \
             DCAP root CA: sha256:44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3 \
             (embedded Intel SGX Root CA)"
        );
    }

    #[test]
    fn settings_json_covers_every_setting() {
        let d = Policy::default().settings_json();
        assert_eq!(
            d.to_string(),
            "{\"accepted_evidence\":[\"epid-linkable\",\"epid-unlinkable\",\"dcap\"],\
             \"allow_debug_enclaves\":false,\"dcap_accepted_tcb_statuses\":[\"UpToDate\"],\
             \"dcap_rejected_advisories\":[],\"dcap_root_ca_sha256\":\
             \"44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3\",\
             \"ias_accepted_quote_statuses\":[\"OK\"],\"ias_root_ca_sha256\":\
             \"7b42e41ec43b91db834a065de4f98a13c44d695570e839cfa8921e584e40735d\",\
             \"max_report_age\":86400}"
        );
        for var in [
            ("ERCC_ACCEPTED_EVIDENCE", "dcap"),
            ("ERCC_IAS_ACCEPTED_QUOTE_STATUSES", "OK,GROUP_OUT_OF_DATE"),
            ("ERCC_ALLOW_DEBUG_ENCLAVES", "true"),
            ("ERCC_MAX_REPORT_AGE", "60"),
            ("ERCC_DCAP_ACCEPTED_TCB_STATUSES", "OutOfDate"),
            ("ERCC_DCAP_REJECTED_ADVISORIES", "INTEL-SA-00615"),
        ] {
            let p = Policy::from_vars([var], &no_files).expect("valid");
            assert_ne!(p.settings_json(), d, "{var:?} changes the settings");
        }
    }

    #[test]
    fn environment_overrides_defaults() {
        let p = Policy::from_vars(
            [
                ("ERCC_ACCEPTED_EVIDENCE", "simulated, epid-linkable"),
                ("ERCC_IAS_ACCEPTED_QUOTE_STATUSES", "OK,GROUP_OUT_OF_DATE"),
                ("ERCC_ALLOW_DEBUG_ENCLAVES", "true"),
                ("ERCC_MAX_REPORT_AGE", "60"),
                (
                    "ERCC_DCAP_ACCEPTED_TCB_STATUSES",
                    "UpToDate,SWHardeningNeeded",
                ),
                ("ERCC_DCAP_REJECTED_ADVISORIES", "INTEL-SA-00615"),
                ("ERCC_SOMETHING_ELSE", "ignored"),
                ("PATH", "/bin"),
            ],
            &no_files,
        )
        .expect("valid");
        assert!(p.accepts(EvidenceType::Simulated));
        assert!(!p.accepts(EvidenceType::Dcap));
        assert!(p.ias_accepted_quote_statuses.contains("GROUP_OUT_OF_DATE"));
        assert!(p.allow_debug_enclaves);
        assert_eq!(p.max_report_age, 60);
        assert!(p.dcap.accepted_tcb_statuses.contains("SWHardeningNeeded"));
        assert!(p.dcap.rejected_advisories.contains("INTEL-SA-00615"));
        assert_eq!(
            Policy::from_vars(Vec::<(String, String)>::new(), &no_files),
            Ok(Policy::default())
        );
    }

    #[test]
    fn rejects_unknown_settings_and_values() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "ERCC_ALLOW_DEBUG_ENCLAVE",
                "true",
                "unknown policy variable ERCC_ALLOW_DEBUG_ENCLAVE",
            ),
            (
                "ERCC_ACCEPTED_EVIDENCE",
                "sgx",
                "unknown evidence type \"sgx\"",
            ),
            ("ERCC_ACCEPTED_EVIDENCE", "", "the list is empty"),
            ("ERCC_ACCEPTED_EVIDENCE", "dcap,,simulated", "empty entry"),
            (
                "ERCC_IAS_ACCEPTED_QUOTE_STATUSES",
                "KEY_REVOKED",
                "not an acceptable IAS quote status",
            ),
            (
                "ERCC_IAS_ACCEPTED_QUOTE_STATUSES",
                "ok",
                "not an acceptable IAS quote status",
            ),
            (
                "ERCC_DCAP_ACCEPTED_TCB_STATUSES",
                "Revoked",
                "not an acceptable DCAP TCB status",
            ),
            (
                "ERCC_DCAP_REJECTED_ADVISORIES",
                "SA-1",
                "not an Intel advisory id",
            ),
            ("ERCC_ALLOW_DEBUG_ENCLAVES", "yes", "neither true nor false"),
            ("ERCC_MAX_REPORT_AGE", "-1", "not a whole number"),
            (
                "ERCC_IAS_ROOT_CA",
                "/nonexistent/root.pem",
                "cannot read /nonexistent/root.pem",
            ),
            (
                "ERCC_POLICY_FILE",
                "/nonexistent/policy.json",
                "cannot read policy file",
            ),
        ];
        for (name, value, expected) in cases {
            let err = Policy::from_vars([(*name, *value)], &no_files)
                .expect_err(name)
                .to_string();
            assert!(err.contains(expected), "{name}={value}: {err}");
        }
    }

    #[test]
    fn non_utf8_values_are_refused_and_other_names_ignored() {
        use std::os::unix::ffi::OsStrExt;
        let bad = OsStr::from_bytes(b"\xff");
        let err = Policy::from_vars([(OsStr::new("ERCC_MAX_REPORT_AGE"), bad)], &no_files)
            .expect_err("not UTF-8");
        assert_eq!(
            err.to_string(),
            "ERCC_MAX_REPORT_AGE: value is not valid UTF-8"
        );
        let p = Policy::from_vars(
            [(OsStr::new("HOME"), bad), (bad, OsStr::new("x"))],
            &no_files,
        )
        .expect("ignored");
        assert_eq!(p, Policy::default());
    }

    #[test]
    fn files_are_read_within_the_limits() {
        let seen = std::cell::RefCell::new(Vec::new());
        let big = vec![b' '; MAX_POLICY_FILE_LEN + 1];
        // A reader that ignores the limit is held to it all the same.
        let careless = |path: &Path, max: usize| {
            seen.borrow_mut().push((path.to_owned(), max));
            Ok(big.clone())
        };
        let err = Policy::from_vars([(ENV_POLICY_FILE, "/etc/ercc/policy.json")], &careless)
            .expect_err("too large");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read policy file /etc/ercc/policy.json: larger than the limit of \
                 {MAX_POLICY_FILE_LEN} bytes"
            )
        );
        let err = Policy::from_vars([(ENV_DCAP_ROOT_CA, "/etc/ercc/root.pem")], &careless)
            .expect_err("too large");
        assert_eq!(
            err.to_string(),
            format!(
                "ERCC_DCAP_ROOT_CA: cannot read /etc/ercc/root.pem: larger than the limit of \
                 {MAX_ANCHOR_FILE_LEN} bytes"
            )
        );
        assert_eq!(
            *seen.borrow(),
            [
                (PathBuf::from("/etc/ercc/policy.json"), MAX_POLICY_FILE_LEN),
                (PathBuf::from("/etc/ercc/root.pem"), MAX_ANCHOR_FILE_LEN),
            ]
        );
    }

    #[test]
    fn trust_anchors_of_the_wrong_kind_are_refused() {
        let (ec, rsa) = ("/etc/ercc/sgx-root.pem", "/etc/ercc/ias-root.pem");
        let files = Files::default()
            .with(ec, crate::anchors::tests::sgx_root_pem())
            .with(rsa, crate::anchors::INTEL_IAS_ROOT_PEM);
        let read = |p: &Path, max: usize| files.read(p, max);
        let err = Policy::from_vars([(ENV_IAS_ROOT_CA, ec)], &read).expect_err("EC as IAS root");
        assert_eq!(
            err.to_string(),
            format!(
                "trust anchor {ec}: is not an RSA certificate (key algorithm EC); the IAS root \
                 must be the RSA \"Intel SGX Attestation Report Signing CA\", not a DCAP root"
            )
        );
        let err =
            Policy::from_vars([(ENV_DCAP_ROOT_CA, rsa)], &read).expect_err("RSA as DCAP root");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "trust anchor {rsa}: is not an ECDSA P-256 certificate"
            )),
            "{text}"
        );
        assert!(text.ends_with("not an IAS root"), "{text}");
        // The right kinds load.
        let p =
            Policy::from_vars([(ENV_IAS_ROOT_CA, rsa), (ENV_DCAP_ROOT_CA, ec)], &read).expect("ok");
        assert_eq!(p, Policy::default());
    }

    #[test]
    fn reads_policy_files_with_relative_anchor_paths() {
        let file = "/etc/ercc/policy.json";
        let files = |body: &str| {
            Files::default()
                .with("/etc/ercc/root.pem", crate::anchors::tests::sgx_root_pem())
                .with(file, body)
        };
        let good = files(
            r#"{"accepted_evidence":["dcap"],"allow_debug_enclaves":true,"max_report_age":5,
                "dcap_root_ca":"root.pem","dcap_accepted_tcb_statuses":["OutOfDate"],
                "dcap_rejected_advisories":[]}"#,
        );
        let read = |p: &Path, max: usize| good.read(p, max);
        let p = Policy::from_file(file, &read).expect("valid file");
        assert_eq!(p.accepted_evidence.len(), 1);
        assert!(p.allow_debug_enclaves);
        assert_eq!(p.max_report_age, 5);
        assert_eq!(p.dcap.root_ca.der(), RootCa::intel_sgx_root().der());
        assert_eq!(
            p.dcap.accepted_tcb_statuses,
            BTreeSet::from(["OutOfDate".to_owned()])
        );
        assert!(p.dcap.rejected_advisories.is_empty());
        // Variables override the file.
        let p = Policy::from_vars(
            [("ERCC_POLICY_FILE", file), ("ERCC_MAX_REPORT_AGE", "7")],
            &read,
        )
        .expect("valid");
        assert_eq!(p.max_report_age, 7);
        assert!(p.allow_debug_enclaves);

        for (body, expected) in [
            (r#"{"allow_debug":true}"#, "unknown field `allow_debug`"),
            (r#"{"max_report_age":"5"}"#, "invalid type"),
            (r#"{"accepted_evidence":"dcap"}"#, "invalid type"),
            (r#"{"ias_root_ca":"missing.pem"}"#, "cannot read"),
            (r#"{"ias_root_ca":"root.pem"}"#, "is not an RSA certificate"),
            ("not json", "expected ident"),
        ] {
            let bad = files(body);
            let err = Policy::from_file(file, &|p, max| bad.read(p, max))
                .expect_err(body)
                .to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }

    #[test]
    fn shared_settings_are_known_but_left_to_their_owner() {
        const SHARED: &str = "ERCC_MAX_ENCLAVES_PER_CHAINCODE";
        let err = Policy::from_vars([(SHARED, "2")], &no_files).expect_err("unshared is a typo");
        assert!(
            err.to_string()
                .starts_with("unknown policy variable ERCC_MAX_ENCLAVES_PER_CHAINCODE"),
            "{err}"
        );
        let p = Policy::from_vars_sharing([(SHARED, "2")], &[SHARED], &no_files).expect("shared");
        assert_eq!(p, Policy::default());
        // A typo of the shared name is still a typo, and the message lists the shared name.
        let err = Policy::from_vars_sharing(
            [("ERCC_MAX_ENCLAVE_PER_CHAINCODE", "2")],
            &[SHARED],
            &no_files,
        )
        .expect_err("typo")
        .to_string();
        assert!(err.ends_with(", ERCC_MAX_ENCLAVES_PER_CHAINCODE)"), "{err}");

        let file = "/etc/ercc/policy.json";
        let files = Files::default().with(
            file,
            r#"{"max_enclaves_per_chaincode":2,"max_report_age":9}"#,
        );
        let read = |p: &Path, max: usize| files.read(p, max);
        let p = Policy::from_file_sharing(file, &[SHARED], &read).expect("shared key");
        assert_eq!(p.max_report_age, 9);
        let err = Policy::from_file(file, &read)
            .expect_err("unshared key")
            .to_string();
        assert!(
            err.ends_with("unknown field `max_enclaves_per_chaincode`"),
            "{err}"
        );
    }
}
