//! Unit tests of the enclave lifecycle (upgrade, retirement, expiry and renewal, re-appraisal,
//! the appraisal record) over [`MemLedger`], with a verifier whose verdicts the test sets.

use super::*;
use crate::lifecycle::{AppraisalRecord, ReappraisalInput, Rejudgement, TcbInfoRecord};
use crate::registry_policy::RegistryPolicy;

const V2: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
const HOUR: i64 = 3600;

/// Accepts [`GOOD_EVIDENCE`] with the judgement the test set, and answers re-appraisals
/// with the verdict the test set.
#[derive(Clone, Default)]
struct LcVerifier {
    judgement: Arc<Mutex<Judgement>>,
    reappraisal: Arc<Mutex<Option<Result<Rejudgement, VerifierError>>>>,
}

impl CredentialsVerifier for LcVerifier {
    fn verify(
        &self,
        evidence: &[u8],
        _: &str,
        _: &[u8],
        _: i64,
    ) -> Result<Judgement, VerifierError> {
        if evidence == GOOD_EVIDENCE {
            Ok(self.judgement.lock().expect("lock").clone())
        } else {
            Err(VerifierError::Refused("bad evidence".into()))
        }
    }

    fn reappraise(&self, input: &ReappraisalInput<'_>) -> Result<Rejudgement, VerifierError> {
        assert_eq!(input.evidence, GOOD_EVIDENCE);
        self.reappraisal
            .lock()
            .expect("lock")
            .clone()
            .unwrap_or_else(|| Err(VerifierError::Refused("no verdict set".into())))
    }
}

fn tcb(issue_date: i64, evaluation: u32) -> TcbInfoRecord {
    TcbInfoRecord {
        fmspc: "00906ED50000".into(),
        issue_date,
        evaluation_data_number: Some(evaluation),
    }
}

/// The re-appraisal verdict the fake verifier gives next.
fn set_verdict(
    verifier: &LcVerifier,
    tcb_info: TcbInfoRecord,
    status: &str,
    advisories: &[&str],
    rejected: Option<&str>,
) {
    *verifier.reappraisal.lock().unwrap() = Some(Ok(Rejudgement {
        tcb_info,
        status: Some(status.into()),
        advisory_ids: advisories.iter().map(|a| a.to_string()).collect(),
        rejected: rejected.map(str::to_owned),
    }));
}

/// Revokes a `dcap` enclave: newer collateral (TCB info of `NOW`, evaluation 18) judges its
/// platform OutOfDate.
fn revoke_by_reappraisal(
    registry: &Registry,
    verifier: &LcVerifier,
    ledger: &mut MemLedger,
    enclave_id: &str,
) {
    set_verdict(
        verifier,
        tcb(NOW, 18),
        "OutOfDate",
        &[],
        Some("TCB status OutOfDate not accepted"),
    );
    registry
        .reappraise_enclave(ledger, CC, enclave_id, "{}")
        .unwrap();
}

/// What `queryEnclaveCredentials` answers for the enclave with key `vk`.
fn found(registry: &Registry, ledger: &mut MemLedger, vk: &[u8]) -> String {
    registry
        .query_enclave_credentials(ledger, CC, &eid(vk))
        .unwrap()
}

fn dcap_judgement(tcb_info: TcbInfoRecord) -> Judgement {
    Judgement {
        evidence_type: "dcap".into(),
        status: Some("UpToDate".into()),
        advisory_ids: vec![],
        issued_at: None,
        tcb_info: Some(tcb_info),
    }
}

fn lc_setup(policy: RegistryPolicy) -> (Registry, LcVerifier, MemLedger) {
    let verifier = LcVerifier::default();
    *verifier.judgement.lock().unwrap() = Judgement {
        evidence_type: "epid-linkable".into(),
        status: Some("OK".into()),
        advisory_ids: vec![],
        issued_at: Some(NOW - 60),
        tcb_info: None,
    };
    let registry = Registry::new(verifier.clone()).with_policy(policy);
    let mut ledger = MemLedger::new(CHANNEL, NOW, MSP);
    ledger.define_chaincode(CC, &mrenclave(), 1);
    (registry, verifier, ledger)
}

fn upgrades() -> RegistryPolicy {
    RegistryPolicy {
        current_definition_only: true,
        ..RegistryPolicy::default()
    }
}

fn expiring(max: u64) -> RegistryPolicy {
    RegistryPolicy {
        max_registration_age: Some(max),
        ..RegistryPolicy::default()
    }
}

/// Credentials of enclave `vk` at `endpoint` attesting `version`/`sequence`.
fn enclave(vk: &[u8], endpoint: &str, version: &str, sequence: i64) -> String {
    let mut ad = attested(vk, endpoint);
    let cc = ad.cc_params.as_mut().unwrap();
    cc.version = version.into();
    cc.sequence = sequence;
    b64(&credentials_for(&ad))
}

fn eid(vk: &[u8]) -> String {
    crate::credentials::enclave_id(vk)
}

/// The four client queries: credentials, provisioned ids, endpoints, encryption key.
fn client_view(
    registry: &Registry,
    ledger: &mut MemLedger,
) -> (Option<Vec<String>>, Option<Vec<String>>, String, String) {
    (
        registry.query_list_enclave_credentials(ledger, CC).unwrap(),
        registry
            .query_list_provisioned_enclaves(ledger, CC)
            .unwrap(),
        registry.query_chaincode_end_points(ledger, CC).unwrap(),
        registry
            .query_chaincode_encryption_key(ledger, CC)
            .unwrap_or_else(|e| e.to_string()),
    )
}

fn status(registry: &Registry, ledger: &mut MemLedger, vk: &[u8]) -> serde_json::Value {
    let text = registry.query_enclave_status(ledger, CC, &eid(vk)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Runs `f` expecting `message` and checks nothing was written.
fn assert_refused<T: std::fmt::Debug>(
    ledger: &mut MemLedger,
    message: &str,
    f: impl FnOnce(&mut MemLedger) -> Result<T, RegistryError>,
) {
    let (before, puts) = (ledger.state.clone(), ledger.puts);
    let err = f(ledger).unwrap_err();
    assert_eq!(err.to_string(), message);
    assert_eq!(ledger.state, before, "state changed on refusal");
    assert_eq!(ledger.puts, puts, "a write was attempted on refusal");
}

#[test]
fn default_policy_keeps_fpc_answers_after_an_upgrade() {
    let (registry, _, mut ledger) = lc_setup(RegistryPolicy::default());
    let v1 = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
    registry.register_enclave(&mut ledger, &v1).unwrap();
    ledger.define_chaincode(CC, V2, 2);
    assert_rejected(
        &registry,
        &mut ledger,
        &enclave(b"vk-2", "peer1:7051", V2, 2),
        "an enclave is already registered for chaincode mycc",
    );
    // No _lifecycle filter: the v1 enclave is still what clients get, as in Go.
    let view = client_view(&registry, &mut ledger);
    assert_eq!(view.0, Some(vec![v1]));
    assert_eq!(view.2, "peer0:7051");
    assert_eq!(
        status(&registry, &mut ledger, b"vk-1")["state"],
        "provisioned"
    );
    // No renewal either: the same enclave again is FPC's refusal.
    ledger.define_chaincode(CC, &mrenclave(), 1);
    assert_rejected(
        &registry,
        &mut ledger,
        &enclave(b"vk-1", "peer0:7051", &mrenclave(), 1),
        "an enclave is already registered for chaincode mycc",
    );
}

#[test]
fn upgrade_registers_the_new_version_and_clients_see_only_it() {
    let (registry, _, mut ledger) = lc_setup(upgrades());
    let v1 = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
    registry.register_enclave(&mut ledger, &v1).unwrap();
    // Before the upgrade a second enclave is refused as in FPC.
    assert_rejected(
        &registry,
        &mut ledger,
        &enclave(b"vk-2", "peer1:7051", &mrenclave(), 1),
        "an enclave is already registered for chaincode mycc",
    );

    ledger.define_chaincode(CC, V2, 2);
    // The old definition's enclave is left out at once.
    let view = client_view(&registry, &mut ledger);
    assert_eq!(view.0, None);
    assert_eq!(view.3, "no enclave registered for chaincode mycc");
    // A registration for the superseded definition is refused.
    assert_rejected(
        &registry,
        &mut ledger,
        &enclave(b"vk-3", "peer0:7051", &mrenclave(), 1),
        "mrenclave does not match chaincode definition",
    );
    let v2 = enclave(b"vk-2", "peer1:7051", V2, 2);
    registry.register_enclave(&mut ledger, &v2).unwrap();
    assert_eq!(
        client_view(&registry, &mut ledger),
        (
            Some(vec![v2.clone()]),
            Some(vec![eid(b"vk-2")]),
            "peer1:7051".to_string(),
            STANDARD.encode(b"ek-of-peer1:7051"),
        )
    );
    // The old enclave's credentials are still found, to judge its endorsements.
    assert_eq!(found(&registry, &mut ledger, b"vk-1"), v1);
    let old = status(&registry, &mut ledger, b"vk-1");
    assert_eq!(old["state"], "superseded");
    assert_eq!(
        old["reason"],
        format!(
            "attested version {} sequence 1, the definition is version {V2} sequence 2",
            mrenclave()
        )
    );

    // A sequence bump alone (a policy change) supersedes too; the enclave renews with the
    // new sequence and is current again.
    ledger.define_chaincode(CC, V2, 3);
    assert_eq!(client_view(&registry, &mut ledger).0, None);
    let renewed = enclave(b"vk-2", "peer1:7051", V2, 3);
    registry.register_enclave(&mut ledger, &renewed).unwrap();
    assert_eq!(client_view(&registry, &mut ledger).0, Some(vec![renewed]));
}

#[test]
fn retirement_only_by_the_enclaves_org_then_a_replacement_registers() {
    let (registry, _, mut ledger) = lc_setup(RegistryPolicy::default());
    let v1 = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
    registry.register_enclave(&mut ledger, &v1).unwrap();
    let id = eid(b"vk-1");

    ledger.creator_msp_id = Some("Org2MSP".into());
    assert_refused(
        &mut ledger,
        "creator identity evaluation failed: creator msp Org2MSP is not the enclave's organisation Org1MSP",
        |l| registry.retire_enclave(l, CC, &id),
    );
    ledger.creator_msp_id = None;
    assert_refused(
        &mut ledger,
        "creator identity evaluation failed: the proposal has no creator identity",
        |l| registry.retire_enclave(l, CC, &id),
    );
    ledger.creator_msp_id = Some(MSP.into());
    assert_refused(
        &mut ledger,
        "enclave NOPE is not registered for chaincode mycc",
        |l| registry.retire_enclave(l, CC, "NOPE"),
    );

    registry.retire_enclave(&mut ledger, CC, &id).unwrap();
    assert!(ledger.state.is_empty(), "{:?}", ledger.state.keys());
    assert_eq!(found(&registry, &mut ledger, b"vk-1"), "");
    let v2 = enclave(b"vk-2", "peer1:7051", &mrenclave(), 1);
    registry.register_enclave(&mut ledger, &v2).unwrap();
    assert_eq!(client_view(&registry, &mut ledger).0, Some(vec![v2]));
}

#[test]
fn expiry_leaves_old_attestations_out_and_renewal_brings_them_back() {
    let (registry, verifier, mut ledger) = lc_setup(expiring(HOUR as u64));
    let v1 = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
    registry.register_enclave(&mut ledger, &v1).unwrap();
    // Attested (IAS report time) one minute before registering: current for 59 more minutes.
    ledger.tx_timestamp = Some(NOW - 60 + HOUR);
    assert_eq!(
        client_view(&registry, &mut ledger).0,
        Some(vec![v1.clone()])
    );
    ledger.tx_timestamp = Some(NOW - 60 + HOUR + 1);
    let view = client_view(&registry, &mut ledger);
    assert_eq!(
        view,
        (
            None,
            None,
            String::new(),
            "no enclave registered for chaincode mycc".into()
        )
    );
    assert_eq!(found(&registry, &mut ledger, b"vk-1"), v1);
    let st = status(&registry, &mut ledger, b"vk-1");
    assert_eq!(st["state"], "expired");
    assert_eq!(
        st["reason"],
        "attested 3601 s ago, more than the allowed 3600 s"
    );

    // An expired enclave may still renew, so it blocks another enclave.
    assert_rejected(
        &registry,
        &mut ledger,
        &enclave(b"vk-2", "peer1:7051", &mrenclave(), 1),
        "an enclave is already registered for chaincode mycc",
    );
    // Renewal: the same enclave with fresh evidence.
    let now = NOW - 60 + HOUR + 1;
    verifier.judgement.lock().unwrap().issued_at = Some(now - 5);
    registry.register_enclave(&mut ledger, &v1).unwrap();
    assert_eq!(client_view(&registry, &mut ledger).0, Some(vec![v1]));
    let st = status(&registry, &mut ledger, b"vk-1");
    assert_eq!(st["state"], "provisioned");
    assert_eq!(st["record"]["attested_at"], now - 5);
    assert_eq!(st["record"]["registered_at"], now);
}

#[test]
fn renewal_from_another_org_is_refused() {
    let (registry, _, mut ledger) = lc_setup(expiring(HOUR as u64));
    registry
        .register_enclave(
            &mut ledger,
            &enclave(b"vk-1", "peer0:7051", &mrenclave(), 1),
        )
        .unwrap();
    let mut ad = attested(b"vk-1", "peer0:7051");
    ad.host_params.as_mut().unwrap().peer_msp_id = "Org2MSP".into();
    ledger.creator_msp_id = Some("Org2MSP".into());
    assert_rejected(
        &registry,
        &mut ledger,
        &b64(&credentials_for(&ad)),
        &format!(
            "renewal refused: enclave {} is registered by Org1MSP, not Org2MSP",
            eid(b"vk-1")
        ),
    );
}

#[test]
fn go_state_without_record_never_expires_unless_the_operator_sets_an_age() {
    let text = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
    let go_state = |ledger: &mut MemLedger| {
        let id = eid(b"vk-1");
        ledger.state.insert(
            keys::credentials_key(CC, &id).unwrap(),
            text.as_bytes().to_vec(),
        );
        ledger.state.insert(
            keys::provisioned_key(CC, &id).unwrap(),
            keys::PROVISIONED_PLACEHOLDER.to_vec(),
        );
    };
    let (registry, _, mut ledger) = lc_setup(RegistryPolicy::default());
    go_state(&mut ledger);
    ledger.tx_timestamp = Some(NOW + 100 * 365 * 86_400);
    assert_eq!(
        client_view(&registry, &mut ledger).0,
        Some(vec![text.clone()])
    );
    let st = status(&registry, &mut ledger, b"vk-1");
    assert_eq!(st["state"], "provisioned");
    assert_eq!(st["record"], serde_json::Value::Null);

    let (registry, _, mut ledger) = lc_setup(expiring(HOUR as u64));
    go_state(&mut ledger);
    assert_eq!(client_view(&registry, &mut ledger).0, None);
    assert_eq!(
        status(&registry, &mut ledger, b"vk-1")["reason"],
        "registered without an appraisal record: its attestation time is unknown"
    );
    // It cannot be re-appraised either.
    assert_refused(
        &mut ledger,
        &format!(
            "enclave {} has no appraisal record (registered by the Go registry): only dcap enclaves registered by this registry can be re-appraised",
            eid(b"vk-1")
        ),
        |l| registry.reappraise_enclave(l, CC, &eid(b"vk-1"), "{}"),
    );
}

#[test]
fn reappraisal_revokes_and_refusals_write_nothing() {
    let (registry, verifier, mut ledger) = lc_setup(RegistryPolicy::default());
    let id = eid(b"vk-1");
    // An EPID enclave has nothing to re-appraise.
    let v1 = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
    registry.register_enclave(&mut ledger, &v1).unwrap();
    assert_refused(
        &mut ledger,
        &format!("enclave {id} has epid-linkable evidence: only dcap enclaves can be re-appraised (others renew by registering again)"),
        |l| registry.reappraise_enclave(l, CC, &id, "{}"),
    );
    registry.retire_enclave(&mut ledger, CC, &id).unwrap();

    *verifier.judgement.lock().unwrap() = dcap_judgement(tcb(NOW - HOUR, 17));
    registry.register_enclave(&mut ledger, &v1).unwrap();
    *verifier.reappraisal.lock().unwrap() = Some(Err(VerifierError::Refused(
        "collateral is not newer than the TCB info already applied: ...".into(),
    )));
    assert_refused(
        &mut ledger,
        "re-appraisal refused: collateral is not newer than the TCB info already applied: ...",
        |l| registry.reappraise_enclave(l, CC, &id, "{}"),
    );
    assert_refused(
        &mut ledger,
        "enclave NOPE is not registered for chaincode mycc",
        |l| registry.reappraise_enclave(l, CC, "NOPE", "{}"),
    );

    // Newer collateral that still accepts the platform: recorded, still current.
    set_verdict(
        &verifier,
        tcb(NOW, 17),
        "SWHardeningNeeded",
        &["INTEL-SA-00615"],
        None,
    );
    let record: AppraisalRecord = serde_json::from_str(
        &registry
            .reappraise_enclave(&mut ledger, CC, &id, "{}")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record.status.as_deref(), Some("SWHardeningNeeded"));
    assert_eq!(record.tcb_info, Some(tcb(NOW, 17)));
    assert_eq!(record.reappraised_at, Some(NOW));
    assert_eq!(
        client_view(&registry, &mut ledger).0,
        Some(vec![v1.clone()])
    );

    // Newer collateral that marks it OutOfDate: revoked, left out of every query.
    set_verdict(
        &verifier,
        tcb(NOW + 1, 18),
        "OutOfDate",
        &["INTEL-SA-00289"],
        Some("TCB status OutOfDate not accepted"),
    );
    registry
        .reappraise_enclave(&mut ledger, CC, &id, "{}")
        .unwrap();
    assert_eq!(
        client_view(&registry, &mut ledger),
        (
            None,
            None,
            String::new(),
            "no enclave registered for chaincode mycc".into()
        )
    );
    assert_eq!(found(&registry, &mut ledger, b"vk-1"), "");
    let st = status(&registry, &mut ledger, b"vk-1");
    assert_eq!(st["state"], "revoked");
    assert_eq!(st["reason"], "TCB status OutOfDate not accepted");
    assert_eq!(st["record"]["revoked"]["at"], NOW);
    assert_refused(
        &mut ledger,
        &format!("enclave {id} is already revoked: TCB status OutOfDate not accepted"),
        |l| registry.reappraise_enclave(l, CC, &id, "{}"),
    );
    // A revoked enclave does not block a replacement.
    let v2 = enclave(b"vk-2", "peer1:7051", &mrenclave(), 1);
    registry.register_enclave(&mut ledger, &v2).unwrap();
    assert_eq!(client_view(&registry, &mut ledger).0, Some(vec![v2]));
}

#[test]
fn renewal_with_older_tcb_info_than_applied_is_refused() {
    let (registry, verifier, mut ledger) = lc_setup(expiring(HOUR as u64));
    let id = eid(b"vk-1");
    let v1 = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
    *verifier.judgement.lock().unwrap() = dcap_judgement(tcb(NOW - HOUR, 17));
    registry.register_enclave(&mut ledger, &v1).unwrap();
    revoke_by_reappraisal(&registry, &verifier, &mut ledger, &id);
    // Replaying the registration's (older) collateral must not undo the revocation.
    assert_rejected(
        &registry,
        &mut ledger,
        &v1,
        &format!(
            "renewal refused: its evidence is judged by TCB info issued at {} (evaluation Some(17)), older than the applied {NOW} (evaluation Some(18))",
            NOW - HOUR
        ),
    );
    // Fresh evidence under the newer TCB info (the platform was patched) renews it.
    *verifier.judgement.lock().unwrap() = dcap_judgement(tcb(NOW, 18));
    registry.register_enclave(&mut ledger, &v1).unwrap();
    assert_eq!(
        status(&registry, &mut ledger, b"vk-1")["state"],
        "provisioned"
    );
}

/// Without a renewal policy (FPC's defaults) a revoked enclave may still come back, but only
/// as a renewal: replayed evidence judged by older TCB info than the re-appraisal applied is
/// refused, so a revocation cannot be undone by registering again.
#[test]
fn a_revoked_enclave_cannot_register_again_with_replayed_evidence() {
    let (registry, verifier, mut ledger) = lc_setup(RegistryPolicy::default());
    let id = eid(b"vk-1");
    let v1 = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
    *verifier.judgement.lock().unwrap() = dcap_judgement(tcb(NOW - HOUR, 17));
    registry.register_enclave(&mut ledger, &v1).unwrap();
    revoke_by_reappraisal(&registry, &verifier, &mut ledger, &id);
    assert_rejected(
        &registry,
        &mut ledger,
        &v1,
        &format!(
            "renewal refused: its evidence is judged by TCB info issued at {} (evaluation Some(17)), older than the applied {NOW} (evaluation Some(18))",
            NOW - HOUR
        ),
    );
    assert_eq!(found(&registry, &mut ledger, b"vk-1"), "");
    // Fresh evidence under the newer TCB info brings it back.
    *verifier.judgement.lock().unwrap() = dcap_judgement(tcb(NOW, 18));
    registry.register_enclave(&mut ledger, &v1).unwrap();
    assert_eq!(found(&registry, &mut ledger, b"vk-1"), v1);
    assert_eq!(
        status(&registry, &mut ledger, b"vk-1")["state"],
        "provisioned"
    );
}

#[test]
fn lifecycle_endorsers_agree() {
    let run = || {
        let (registry, verifier, mut ledger) = lc_setup(RegistryPolicy {
            max_registration_age: Some(HOUR as u64),
            current_definition_only: true,
            ..RegistryPolicy::default()
        });
        *verifier.judgement.lock().unwrap() = dcap_judgement(tcb(NOW - HOUR, 17));
        registry
            .register_enclave(
                &mut ledger,
                &enclave(b"vk-1", "peer0:7051", &mrenclave(), 1),
            )
            .unwrap();
        ledger.define_chaincode(CC, V2, 2);
        registry
            .register_enclave(&mut ledger, &enclave(b"vk-2", "peer1:7051", V2, 2))
            .unwrap();
        set_verdict(
            &verifier,
            tcb(NOW, 18),
            "OutOfDate",
            &[],
            Some("TCB status OutOfDate not accepted"),
        );
        let record = registry
            .reappraise_enclave(&mut ledger, CC, &eid(b"vk-2"), "{}")
            .unwrap();
        let statuses = [b"vk-1".as_slice(), b"vk-2"].map(|vk| status(&registry, &mut ledger, vk));
        (
            ledger.state.clone(),
            record,
            statuses,
            client_view(&registry, &mut ledger),
        )
    };
    assert_eq!(run(), run());
}

/// Several-enclave mode (3): `dcap` enclaves vk-1, vk-2, vk-3, one per organisation
/// (Org1MSP..Org3MSP), registered; the ledger's creator is then Org1MSP.
fn three_dcap_enclaves() -> (Registry, LcVerifier, MemLedger) {
    let (registry, verifier, mut ledger) = lc_setup(RegistryPolicy {
        max_enclaves_per_chaincode: 3,
        ..RegistryPolicy::default()
    });
    *verifier.judgement.lock().unwrap() = dcap_judgement(tcb(NOW - HOUR, 17));
    for (vk, org) in [
        (b"vk-1", "Org1MSP"),
        (b"vk-2", "Org2MSP"),
        (b"vk-3", "Org3MSP"),
    ] {
        let mut ad = attested(vk, "peer0:7051");
        ad.host_params.as_mut().unwrap().peer_msp_id = org.into();
        ledger.creator_msp_id = Some(org.into());
        registry
            .register_enclave(&mut ledger, &b64(&credentials_for(&ad)))
            .unwrap();
    }
    ledger.creator_msp_id = Some("Org1MSP".into());
    (registry, verifier, ledger)
}

#[test]
fn reading_keys_together_gives_the_same_answers_in_fewer_round_trips() {
    let (registry, verifier, mut ledger) = three_dcap_enclaves();
    // vk-1 is provisioned, vk-3 revoked by a re-appraisal.
    let marker = keys::provisioned_key(CC, &eid(b"vk-1")).unwrap();
    ledger.state.insert(marker, b"1".to_vec());
    revoke_by_reappraisal(&registry, &verifier, &mut ledger, &eid(b"vk-3"));

    let mut one_by_one = ledger.clone();
    let mut together = MemLedger {
        reads_together: true,
        ..ledger
    };
    // (answer, round trips) of a query on each ledger.
    let mut both = |query: &dyn Fn(&mut MemLedger) -> String| {
        let (a, b) = (&mut one_by_one, &mut together);
        let (ra, rb) = (a.reads, b.reads);
        let answers = (query(a), query(b));
        assert_eq!(
            answers.0, answers.1,
            "the answer depends on how keys are read"
        );
        (answers.0, a.reads - ra, b.reads - rb)
    };
    // FPC's hot path reads one key on every peer, found, revoked or absent.
    for (vk, expected_found) in [(&b"vk-1"[..], true), (b"vk-3", false), (b"NOPE", false)] {
        let (creds, sequential, batched) = both(&|l| found(&registry, l, vk));
        assert_eq!(!creds.is_empty(), expected_found, "{vk:?}");
        assert_eq!(
            (sequential, batched),
            (1, 1),
            "queryEnclaveCredentials round trips"
        );
    }
    let (provisioned, sequential, batched) = both(&|l| {
        format!(
            "{:?}",
            registry.query_list_provisioned_enclaves(l, CC).unwrap()
        )
    });
    assert_eq!(provisioned, format!("{:?}", Some(vec![eid(b"vk-1")])));
    assert_eq!(
        (sequential, batched),
        (2, 1),
        "one marker read per current enclave"
    );
    let (_, sequential, batched) = both(&|l| {
        registry.retire_enclave(l, CC, &eid(b"vk-1")).unwrap();
        format!("{:?}", l.state)
    });
    // Three reads find the enclave (current or revoked) and its record; the five keys it may
    // delete come together.
    assert_eq!(
        (sequential, batched),
        (3 + 5, 1 + 1),
        "retireEnclave's reads"
    );
}

/// A revocation moves the credentials out of the key `queryEnclaveCredentials` reads; the
/// enclave's status, its retirement and its renewal still find them there.
#[test]
fn revocation_moves_the_credentials_out_of_the_hot_path_key() {
    let (registry, verifier, mut ledger) = lc_setup(expiring(HOUR as u64));
    let id = eid(b"vk-1");
    let (credentials_key, revoked_key) = (
        keys::credentials_key(CC, &id).unwrap(),
        keys::revoked_key(CC, &id).unwrap(),
    );
    let v1 = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
    *verifier.judgement.lock().unwrap() = dcap_judgement(tcb(NOW - HOUR, 17));
    registry.register_enclave(&mut ledger, &v1).unwrap();
    revoke_by_reappraisal(&registry, &verifier, &mut ledger, &id);
    assert_eq!(ledger.state.get(&credentials_key), None);
    assert_eq!(ledger.state[&revoked_key], v1.as_bytes());
    assert_eq!(status(&registry, &mut ledger, b"vk-1")["state"], "revoked");

    // Renewal under newer TCB info writes the credentials back and clears the moved copy.
    *verifier.judgement.lock().unwrap() = dcap_judgement(tcb(NOW, 18));
    registry.register_enclave(&mut ledger, &v1).unwrap();
    assert_eq!(ledger.state[&credentials_key], v1.as_bytes());
    assert_eq!(ledger.state.get(&revoked_key), None);
    assert_eq!(found(&registry, &mut ledger, b"vk-1"), v1);

    // Retiring a revoked enclave (only its organisation may) removes every key it had.
    set_verdict(
        &verifier,
        tcb(NOW + 1, 19),
        "OutOfDate",
        &[],
        Some("revoked again"),
    );
    registry
        .reappraise_enclave(&mut ledger, CC, &id, "{}")
        .unwrap();
    ledger.creator_msp_id = Some("Org2MSP".into());
    assert_refused(
        &mut ledger,
        &format!("creator identity evaluation failed: creator msp Org2MSP is not the enclave's organisation {MSP}"),
        |l| registry.retire_enclave(l, CC, &id),
    );
    ledger.creator_msp_id = Some(MSP.into());
    registry.retire_enclave(&mut ledger, CC, &id).unwrap();
    assert!(ledger.state.is_empty(), "{:?}", ledger.state.keys());
}

/// State of an ercc-rs build that revoked in place (credentials kept, record revoked):
/// `migrateRevocations` moves them, once, reading everything before it writes.
#[test]
fn migrate_revocations_moves_what_earlier_builds_revoked_in_place() {
    let (registry, verifier, mut ledger) = three_dcap_enclaves();
    // vk-1 revoked in place by an earlier build; vk-2 revoked by this one; vk-3 current.
    for vk in [b"vk-1", b"vk-2"] {
        revoke_by_reappraisal(&registry, &verifier, &mut ledger, &eid(vk));
    }
    let (id1, moved1) = (eid(b"vk-1"), keys::revoked_key(CC, &eid(b"vk-1")).unwrap());
    let in_place = ledger.state.remove(&moved1).unwrap();
    ledger
        .state
        .insert(keys::credentials_key(CC, &id1).unwrap(), in_place.clone());
    assert_eq!(found(&registry, &mut ledger, b"vk-1").as_bytes(), in_place);

    // A corrupt record refuses the whole migration, before any write.
    let mut corrupt = ledger.clone();
    corrupt
        .state
        .insert(keys::appraisal_key("other", "E").unwrap(), b"{".to_vec());
    let err = registry.migrate_revocations(&mut corrupt).unwrap_err();
    assert!(
        err.to_string().starts_with("corrupt appraisal record at"),
        "{err}"
    );
    assert_eq!(corrupt.puts, ledger.puts);

    let moved = registry.migrate_revocations(&mut ledger).unwrap();
    assert_eq!(
        moved,
        format!(r#"{{"moved":[{{"chaincode_id":"{CC}","enclave_id":"{id1}"}}]}}"#)
    );
    assert_eq!(found(&registry, &mut ledger, b"vk-1"), "");
    assert_eq!(ledger.state[&moved1], in_place);
    assert_eq!(status(&registry, &mut ledger, b"vk-1")["state"], "revoked");
    assert_ne!(found(&registry, &mut ledger, b"vk-3"), "");
    // Run again: nothing to move, nothing written.
    let (before, puts) = (ledger.state.clone(), ledger.puts);
    assert_eq!(
        registry.migrate_revocations(&mut ledger).unwrap(),
        r#"{"moved":[]}"#
    );
    assert_eq!((ledger.state.clone(), ledger.puts), (before, puts));
}

/// Revoked credentials are not in the credentials scan, so a client query scans the records
/// too only when expiry needs them: one range read under FPC's defaults, as Go makes.
#[test]
fn client_queries_scan_the_records_only_for_expiry() {
    for (policy, scans) in [(RegistryPolicy::default(), 1), (expiring(HOUR as u64), 2)] {
        let (registry, _, mut ledger) = lc_setup(policy);
        let v1 = enclave(b"vk-1", "peer0:7051", &mrenclave(), 1);
        registry.register_enclave(&mut ledger, &v1).unwrap();
        let before = ledger.scans;
        assert_eq!(
            registry
                .query_chaincode_end_points(&mut ledger, CC)
                .unwrap(),
            "peer0:7051"
        );
        assert_eq!(ledger.scans - before, scans);
    }
}
