//! The registry's own policy: rules about what the ledger may hold (how many enclaves a
//! chaincode may have, ...), as opposed to the attestation policy (what evidence proves).
//!
//! The registry's settings are `ERCC_*`
//! variables and keys of the same `ERCC_POLICY_FILE` JSON as the attestation policy, so the
//! attestation loader is told their names ([`REGISTRY_POLICY_ENV_VARS`], the one list) and
//! treats them as known rather than as typos. Each setting is one field, one variable and one
//! file key; adding a setting means adding those three and a line in [`RegistryPolicy::apply`].

use std::fmt;
use std::path::Path;

use enclave_attestation::policy_file_key as file_key;
use serde::{Deserialize, Serialize};

/// Environment variable: the most enclaves one chaincode may have registered (default 1).
pub const ENV_MAX_ENCLAVES_PER_CHAINCODE: &str = "ERCC_MAX_ENCLAVES_PER_CHAINCODE";

/// Environment variable: largest age in seconds of an enclave's attestation that client
/// queries still hand out (default: unset, registrations never expire).
pub const ENV_MAX_REGISTRATION_AGE: &str = "ERCC_MAX_REGISTRATION_AGE";
/// Environment variable: `true` to hand out only enclaves of the current chaincode definition.
pub const ENV_CURRENT_DEFINITION_ONLY: &str = "ERCC_CURRENT_DEFINITION_ONLY";
/// Environment variable: `true` to let an earlier definition's enclave export the keys.
pub const ENV_ALLOW_UPGRADE_TRANSFER: &str = "ERCC_ALLOW_UPGRADE_TRANSFER";

/// Every registry setting variable (the attestation loader accepts these as known).
pub const REGISTRY_POLICY_ENV_VARS: &[&str] = &[
    ENV_MAX_ENCLAVES_PER_CHAINCODE,
    ENV_MAX_REGISTRATION_AGE,
    ENV_CURRENT_DEFINITION_ONLY,
    ENV_ALLOW_UPGRADE_TRANSFER,
];

/// Longest policy file read here (the attestation loader has the same limit).
const MAX_POLICY_FILE_LEN: u64 = 1 << 20;

/// What the registry allows on its ledger. `RegistryPolicy::default()` is FPC's behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RegistryPolicy {
    /// The most enclaves registered for one chaincode. 1 (the default) is FPC's MVP rule
    /// exactly: one enclave, provisioned at registration. Above 1, every organisation may
    /// register one enclave and enclaves are provisioned only by `registerCCKeys`.
    pub max_enclaves_per_chaincode: u32,
    /// Largest age (seconds from attestation to the transaction time) of an enclave that
    /// client queries hand out (`docs/enclave-lifecycle.md`); `None` (the default): never expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_registration_age: Option<u64>,
    /// Client queries hand out only enclaves of the current chaincode definition (same
    /// version and sequence; one `_lifecycle` call per query), and the enclave count of
    /// `registerEnclave` counts only those, so a new version's enclave registers after an
    /// upgrade. Default: off (FPC lists every registered enclave).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub current_definition_only: bool,
    /// A provisioned enclave of an earlier definition may export the chaincode keys to an
    /// enclave of the current one (`putKeyExport`), so state survives an upgrade. Default: off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_upgrade_transfer: bool,
}

impl Default for RegistryPolicy {
    fn default() -> Self {
        Self {
            max_enclaves_per_chaincode: 1,
            max_registration_age: None,
            current_definition_only: false,
            allow_upgrade_transfer: false,
        }
    }
}

/// A registry setting that cannot be used; the registry refuses to start with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryPolicyError {
    /// A setting's value is not usable.
    #[error("{setting}: {reason}")]
    Value {
        /// The variable or file key.
        setting: String,
        /// Why.
        reason: String,
    },
    /// The policy file cannot be read.
    #[error("cannot read policy file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl RegistryPolicy {
    /// True in FPC's single-enclave mode (the default), where `registerEnclave` also writes
    /// the MVP provisioned placeholder.
    pub fn single_enclave(&self) -> bool {
        self.max_enclaves_per_chaincode <= 1
    }

    /// Renewal (the same enclave registering again with fresh evidence) is what expiry and
    /// upgrades need; with neither enabled a second registration keeps FPC's refusal.
    pub fn allows_renewal(&self) -> bool {
        self.max_registration_age.is_some() || self.current_definition_only
    }

    /// Defaults, then the keys of the policy file named by `ERCC_POLICY_FILE` (if any), then
    /// the variables (which win), as the attestation policy is read.
    pub fn from_vars<K: AsRef<str>, V: AsRef<str>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, RegistryPolicyError> {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let mut policy = match get(enclave_attestation::ENV_POLICY_FILE) {
            Some(path) => Self::from_file(Path::new(path))?,
            None => Self::default(),
        };
        for name in REGISTRY_POLICY_ENV_VARS {
            if let Some(value) = get(name) {
                policy.apply(name, value)?;
            }
        }
        Ok(policy)
    }

    /// The registry keys of a policy file; the other keys are the attestation policy's (the
    /// attestation loader refuses keys that are neither).
    pub fn from_file(path: &Path) -> Result<Self, RegistryPolicyError> {
        let file_error = |reason: String| RegistryPolicyError::File {
            path: path.display().to_string(),
            reason,
        };
        let bytes = fabric_formats::file::read_bounded(path, MAX_POLICY_FILE_LEN)
            .map_err(|e| file_error(e.reason()))?;
        let all: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes).map_err(|e| file_error(e.to_string()))?;
        let mut policy = Self::default();
        for name in REGISTRY_POLICY_ENV_VARS {
            let key = file_key(name);
            if let Some(value) = all.get(&key) {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                policy.apply(&key, &text)?;
            }
        }
        Ok(policy)
    }

    /// Sets one setting from its text (`setting` is the variable or file key, for errors).
    fn apply(&mut self, setting: &str, value: &str) -> Result<(), RegistryPolicyError> {
        let error = |reason: String| RegistryPolicyError::Value {
            setting: setting.to_owned(),
            reason,
        };
        let flag = |value: &str| match value.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(error(format!("{other:?} is not true or false"))),
        };
        let key = file_key(setting);
        if key == file_key(ENV_MAX_REGISTRATION_AGE) {
            self.max_registration_age = Some(
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| error(format!("{value:?} is not a whole number of seconds")))?,
            );
        } else if key == file_key(ENV_CURRENT_DEFINITION_ONLY) {
            self.current_definition_only = flag(value)?;
        } else if key == file_key(ENV_ALLOW_UPGRADE_TRANSFER) {
            self.allow_upgrade_transfer = flag(value)?;
        } else if key == file_key(ENV_MAX_ENCLAVES_PER_CHAINCODE) {
            self.max_enclaves_per_chaincode = match value.trim().parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(error(format!(
                        "{value:?} is not a whole number of at least 1"
                    )))
                }
            };
        }
        Ok(())
    }
}

impl fmt::Display for RegistryPolicy {
    /// One line for the start log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max enclaves per chaincode: {}",
            self.max_enclaves_per_chaincode
        )?;
        if let Some(age) = self.max_registration_age {
            write!(f, ", registrations expire after {age} s")?;
        }
        if self.current_definition_only {
            f.write_str(", current definition only")?;
        }
        if self.allow_upgrade_transfer {
            f.write_str(", upgrade transfers allowed")?;
        }
        Ok(())
    }
}

impl RegistryPolicy {
    /// The registry policy from the process environment (`ERCC_*` variables and
    /// `ERCC_POLICY_FILE`); the attestation policy reads the same environment with
    /// `enclave_attestation::Policy::from_vars_sharing(.., REGISTRY_POLICY_ENV_VARS, ..)`.
    pub fn from_env() -> Result<Self, RegistryPolicyError> {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("ERCC_"));
        Self::from_vars(vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy_verifier::read_policy_file as read;
    use enclave_attestation::Policy;

    #[test]
    fn default_is_fpc_single_enclave() {
        let p = RegistryPolicy::default();
        assert_eq!(p.max_enclaves_per_chaincode, 1);
        assert!(p.single_enclave());
        assert_eq!(p.to_string(), "max enclaves per chaincode: 1");
        assert_eq!(
            RegistryPolicy::from_vars(Vec::<(String, String)>::new()).unwrap(),
            p
        );
    }

    #[test]
    fn reads_variables_and_refuses_bad_values() {
        let p = RegistryPolicy::from_vars([(ENV_MAX_ENCLAVES_PER_CHAINCODE, " 3 ")]).unwrap();
        assert_eq!(p.max_enclaves_per_chaincode, 3);
        assert!(!p.single_enclave());
        for bad in ["0", "-1", "two", ""] {
            let e = RegistryPolicy::from_vars([(ENV_MAX_ENCLAVES_PER_CHAINCODE, bad)]).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "ERCC_MAX_ENCLAVES_PER_CHAINCODE: {bad:?} is not a whole number of at least 1"
                )
            );
        }
    }

    #[test]
    fn reads_the_shared_policy_file_and_variables_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        std::fs::write(
            &file,
            r#"{"max_enclaves_per_chaincode": 2, "allow_debug_enclaves": false}"#,
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let p = RegistryPolicy::from_vars([("ERCC_POLICY_FILE", path)]).unwrap();
        assert_eq!(p.max_enclaves_per_chaincode, 2);
        // The attestation loader accepts the registry key once told about it.
        Policy::from_vars_sharing(
            [("ERCC_POLICY_FILE", path)],
            REGISTRY_POLICY_ENV_VARS,
            &read,
        )
        .unwrap();
        let p = RegistryPolicy::from_vars([
            ("ERCC_POLICY_FILE", path),
            (ENV_MAX_ENCLAVES_PER_CHAINCODE, "4"),
        ])
        .unwrap();
        assert_eq!(p.max_enclaves_per_chaincode, 4);
        std::fs::write(&file, r#"{"max_enclaves_per_chaincode": 0}"#).unwrap();
        let e = RegistryPolicy::from_file(&file).unwrap_err();
        assert_eq!(
            e.to_string(),
            "max_enclaves_per_chaincode: \"0\" is not a whole number of at least 1"
        );
    }

    #[test]
    fn reads_the_lifecycle_settings() {
        let p = RegistryPolicy::from_vars([
            (ENV_MAX_REGISTRATION_AGE, "86400"),
            (ENV_CURRENT_DEFINITION_ONLY, "true"),
            (ENV_ALLOW_UPGRADE_TRANSFER, "false"),
        ])
        .unwrap();
        assert_eq!(p.max_registration_age, Some(86_400));
        assert!(p.current_definition_only && !p.allow_upgrade_transfer && p.allows_renewal());
        assert_eq!(
            p.to_string(),
            "max enclaves per chaincode: 1, registrations expire after 86400 s, current definition only"
        );
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"max_enclaves_per_chaincode":1,"max_registration_age":86400,"current_definition_only":true}"#
        );
        let e = RegistryPolicy::from_vars([(ENV_CURRENT_DEFINITION_ONLY, "yes")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ERCC_CURRENT_DEFINITION_ONLY: \"yes\" is not true or false"
        );
        let e = RegistryPolicy::from_vars([(ENV_MAX_REGISTRATION_AGE, "-1")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ERCC_MAX_REGISTRATION_AGE: \"-1\" is not a whole number of seconds"
        );
        // The policy file spells them as its keys.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        std::fs::write(
            &file,
            r#"{"max_registration_age": 60, "allow_upgrade_transfer": true}"#,
        )
        .unwrap();
        let p = RegistryPolicy::from_file(&file).unwrap();
        assert_eq!(p.max_registration_age, Some(60));
        assert!(p.allow_upgrade_transfer);
        Policy::from_vars_sharing(
            [("ERCC_POLICY_FILE", file.to_str().unwrap())],
            REGISTRY_POLICY_ENV_VARS,
            &read,
        )
        .unwrap();
    }

    #[test]
    fn serialises_for_a_policy_digest() {
        let json = serde_json::to_string(&RegistryPolicy::default()).unwrap();
        assert_eq!(json, r#"{"max_enclaves_per_chaincode":1}"#);
        let back: RegistryPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, RegistryPolicy::default());
    }
}
