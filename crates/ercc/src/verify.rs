//! `ercc verify`: the checks of `registerEnclave` that do not need a ledger, offline,
//! given what the ledger would have supplied (channel, chaincode definition, time).
//!
//! The time is the transaction time the registration would carry; passing it
//! explicitly lets an operator check old evidence at the moment it was produced.

use std::io::Write as _;

use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cli_input::{CredentialsInput, InputError};
use crate::policy_verifier::{self, VerifierSetupError};
use crate::registry::{CredentialsVerifier, Registry, RegistryError};

/// Arguments of `ercc verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Where the credentials come from.
    #[command(flatten)]
    pub input: CredentialsInput,
    /// Expected MRENCLAVE: the chaincode definition's version, exactly as committed.
    #[arg(long, value_name = "HEX")]
    pub mrenclave: String,
    /// The channel the enclave must be registered on.
    #[arg(long, value_name = "CHANNEL")]
    pub channel: String,
    /// Verification time, RFC 3339 (e.g. 2021-12-10T08:00:00Z): the transaction time.
    #[arg(long, value_name = "RFC3339")]
    pub time: String,
    /// The chaincode definition's sequence; when absent the attested sequence is not checked.
    #[arg(long, value_name = "N")]
    pub sequence: Option<i64>,
}

/// Why `ercc verify` did not accept the credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyCmdError {
    /// The credentials cannot be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// `--time` is not RFC 3339.
    #[error("invalid --time {value:?}: {reason}")]
    Time {
        /// The value given.
        value: String,
        /// Why.
        reason: String,
    },
    /// The policy configuration is not usable.
    #[error(transparent)]
    Setup(#[from] VerifierSetupError),
    /// The registry would refuse the registration with this text.
    #[error("{0}")]
    Rejected(#[from] RegistryError),
    /// Standard output failed.
    #[error(transparent)]
    Output(#[from] crate::cli_output::OutputError),
}

/// `ercc verify`'s exit status: scripts tell "the registry would refuse this evidence" from
/// "the check could not be made".
pub mod exit_code {
    /// The registry would accept the registration.
    pub const ACCEPTED: u8 = 0;
    /// The registry would reject it (the reason is on standard error).
    pub const REJECTED: u8 = 1;
    /// Bad command line (clap's usage errors, an unparsable `--time`).
    pub const USAGE: u8 = 2;
    /// The check could not be made: unreadable input, bad policy configuration, output failed.
    pub const ERROR: u8 = 3;
}

impl VerifyCmdError {
    /// The process exit status for this error (see [`exit_code`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            VerifyCmdError::Rejected(_) => exit_code::REJECTED,
            VerifyCmdError::Time { .. } => exit_code::USAGE,
            VerifyCmdError::Input(_) | VerifyCmdError::Setup(_) | VerifyCmdError::Output(_) => {
                exit_code::ERROR
            }
        }
    }
}

/// Runs `ercc verify` with the verifier configured from the environment.
pub fn run(args: VerifyArgs) -> Result<(), VerifyCmdError> {
    let (verifier, policy) = policy_verifier::verifier_from_env()?;
    // A closed standard error must not turn into a panic.
    let _ = writeln!(std::io::stderr(), "policy: {policy}");
    let report = verify_with(&args, verifier)?;
    crate::cli_output::print_json(&report)?;
    Ok(())
}

/// The check itself, with an explicit verifier; returns the accepted enclave as JSON.
pub fn verify_with(
    args: &VerifyArgs,
    verifier: impl CredentialsVerifier + 'static,
) -> Result<serde_json::Value, VerifyCmdError> {
    let text = args.input.read()?;
    let now = parse_time(&args.time)?;
    let registry = Registry::new(verifier);
    // Without --sequence the definition takes the attested one, so it is not checked.
    let checked = registry.check_credentials(&text, &args.channel, Some(now), |cc| {
        Ok(fabric_protos::lifecycle::QueryChaincodeDefinitionResult {
            version: args.mrenclave.clone(),
            sequence: args.sequence.unwrap_or(cc.sequence),
            ..Default::default()
        })
    })?;
    let cc = checked.attested_data.cc_params.clone().unwrap_or_default();
    // The evidence passed verification above; its decoded form shows the operator what was
    // attested (IAS status and time, or DCAP FMSPC, TCB status, advisories, collateral window).
    let evidence = enclave_attestation::inspect_evidence(&checked.credentials.evidence)
        .unwrap_or_else(|e| json!({ "error": e.to_string() }));
    Ok(json!({
        "verdict": "accepted",
        "enclave_id": checked.enclave_id,
        "chaincode_id": cc.chaincode_id,
        "channel_id": cc.channel_id,
        "mrenclave": cc.version,
        "sequence": cc.sequence,
        "peer_msp_id": checked.host_params.peer_msp_id,
        "peer_endpoint": checked.host_params.peer_endpoint,
        "time_unix": now,
        "evidence": evidence,
        // What the registry would record for this registration (`docs/enclave-lifecycle.md`).
        "appraisal": crate::lifecycle::new_record(&checked, now),
    }))
}

fn parse_time(value: &str) -> Result<i64, VerifyCmdError> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| VerifyCmdError::Time {
            value: value.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{AttestedData, CcParameters, Credentials, HostParameters};
    use crate::registry::VerifierError;
    use base64::Engine;
    use prost::Message;

    /// Accepts evidence `ok` only, and only at or after time 1000.
    struct Fake;
    impl CredentialsVerifier for Fake {
        fn verify(
            &self,
            evidence: &[u8],
            _: &str,
            _: &[u8],
            now: i64,
        ) -> Result<crate::lifecycle::Judgement, VerifierError> {
            match (evidence, now >= 1000) {
                (b"ok", true) => Ok(Default::default()),
                (b"ok", false) => Err(VerifierError::Refused("report is from the future".into())),
                _ => Err(VerifierError::Refused("bad evidence".into())),
            }
        }
    }

    fn args(time: &str, mrenclave: &str, sequence: Option<i64>) -> VerifyArgs {
        let ad = AttestedData {
            cc_params: Some(CcParameters {
                chaincode_id: "cc".into(),
                version: "ab".into(),
                sequence: 4,
                channel_id: "ch".into(),
            }),
            host_params: Some(HostParameters {
                peer_msp_id: "Org1MSP".into(),
                ..Default::default()
            }),
            enclave_vk: b"vk".to_vec(),
            ..Default::default()
        };
        let creds = Credentials {
            serialized_attested_data: Some(prost_types::Any {
                type_url: "github.com/fpc/fpc.AttestedData".into(),
                value: ad.encode_to_vec(),
            }),
            attestation: vec![],
            evidence: b"ok".to_vec(),
        };
        VerifyArgs {
            input: CredentialsInput {
                credentials: Some(
                    base64::engine::general_purpose::STANDARD.encode(creds.encode_to_vec()),
                ),
                file: None,
            },
            mrenclave: mrenclave.into(),
            channel: "ch".into(),
            time: time.into(),
            sequence,
        }
    }

    #[test]
    fn accepts_and_reports_the_enclave() {
        let v = verify_with(&args("1970-01-01T00:16:40Z", "ab", None), Fake).unwrap();
        assert_eq!(v["verdict"], "accepted");
        assert_eq!(v["time_unix"], 1000);
        assert_eq!(v["sequence"], 4);
        assert_eq!(v["enclave_id"], crate::credentials::enclave_id(b"vk"));
        // What the registry would record: judged at the given time, under the attested definition.
        assert_eq!(v["appraisal"]["attested_at"], 1000);
        assert_eq!(v["appraisal"]["registered_at"], 1000);
        assert_eq!(v["appraisal"]["mrenclave"], "ab");
        assert_eq!(v["appraisal"]["revoked"], serde_json::Value::Null);
        verify_with(&args("1970-01-01T01:16:40+01:00", "ab", Some(4)), Fake).unwrap();
    }

    #[test]
    fn rejections_carry_the_registry_text() {
        let e = verify_with(&args("1970-01-01T00:00:00Z", "ab", None), Fake).unwrap_err();
        assert_eq!(
            e.to_string(),
            "evidence verification failed: report is from the future"
        );
        let e = verify_with(&args("2000-01-01T00:00:00Z", "cd", None), Fake).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mrenclave does not match chaincode definition"
        );
        let e = verify_with(&args("2000-01-01T00:00:00Z", "ab", Some(5)), Fake).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sequence does not match chaincode definition"
        );
        let e = verify_with(&args("yesterday", "ab", None), Fake).unwrap_err();
        assert!(matches!(e, VerifyCmdError::Time { .. }), "{e}");
        let mut a = args("2000-01-01T00:00:00Z", "ab", None);
        a.channel = "other".into();
        assert_eq!(
            verify_with(&a, Fake).unwrap_err().to_string(),
            "wrong channel! expected=other, actual=ch"
        );
    }

    /// The exit status comes from the error's variant: a rejection whose reason reads like
    /// an input failure still exits 1, an input failure that reads like a rejection exits 3.
    #[test]
    fn exit_codes_follow_variants_not_texts() {
        let rejected = VerifyCmdError::Rejected(RegistryError::ChaincodeDefinition(
            ercc_registry::DefinitionError::Lifecycle {
                status: 500,
                message: "cannot read credentials file: permission denied".into(),
            },
        ));
        assert_eq!(rejected.exit_code(), exit_code::REJECTED);
        let unreadable = VerifyCmdError::Input(InputError::NotText {
            what: "evidence verification failed: mrenclave does not match".into(),
        });
        assert_eq!(unreadable.exit_code(), exit_code::ERROR);
        let refused = VerifyCmdError::Rejected(RegistryError::EvidenceVerification(
            VerifierError::Refused("invalid --time".into()),
        ));
        assert_eq!(refused.exit_code(), exit_code::REJECTED);
    }
}
