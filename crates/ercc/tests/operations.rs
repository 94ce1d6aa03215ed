//! The registry's metrics on the runtime's operations endpoint: registrations and rejections
//! by evidence type and reason, verification duration by outcome, scraped over real HTTP and
//! parsed as Prometheus text. Its own test binary: the endpoint is process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use enclave_attestation::test_pki::{evidence_from_parts, ReportSpec, TestPki};
use enclave_attestation::UnixTime;
use ercc::policy_verifier::PolicyVerifier;
use ercc::proto::{AttestedData, CcParameters, Credentials, HostParameters};
use ercc::{MemLedger, Registry};
use prost::Message;

const NOW: i64 = 1_750_000_000;
const MRENCLAVE: [u8; 32] = [0x42; 32];

fn credentials(channel: &str) -> String {
    let statement = AttestedData {
        cc_params: Some(CcParameters {
            chaincode_id: "mycc".into(),
            version: hex::encode(MRENCLAVE),
            sequence: 1,
            channel_id: channel.into(),
        }),
        host_params: Some(HostParameters {
            peer_msp_id: "Org1MSP".into(),
            peer_endpoint: "peer0:7051".into(),
            certificate: vec![],
        }),
        enclave_vk: b"vk".to_vec(),
        chaincode_ek: b"ek".to_vec(),
        ..Default::default()
    }
    .encode_to_vec();
    let pki = TestPki::shared();
    let spec = ReportSpec::new(MRENCLAVE, &statement, UnixTime::from_secs(NOW - 60));
    let report = spec.report_json();
    let signature = pki.sign(report.as_bytes()).unwrap();
    let evidence = evidence_from_parts(spec.evidence_type(), &report, &signature, &pki.chain_pem());
    let c = Credentials {
        serialized_attested_data: Some(prost_types::Any {
            type_url: ercc::proto::ATTESTED_DATA_TYPE_URL.into(),
            value: statement,
        }),
        attestation: vec![],
        evidence,
    };
    STANDARD.encode(c.encode_to_vec())
}

fn register(registry: &Registry, ledger: &mut MemLedger, creds: &str) {
    let result = registry.register_enclave(ledger, creds);
    ercc::metrics::registration(creds, &result);
}

fn value(samples: &[prometheus_parse::Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let s = samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no {name} {labels:?}"));
    match s.value {
        prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_metrics_are_scraped_from_the_operations_endpoint() {
    assert!(fabric_chaincode::operations::enable(Some("127.0.0.1:0".into())).unwrap());
    ercc::metrics::register();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(fabric_chaincode::operations::serve(listener));

    let registry = Registry::new(PolicyVerifier::new(TestPki::shared().policy().unwrap()));
    let kind = enclave_attestation::Envelope::parse(
        &Credentials::decode(STANDARD.decode(credentials("ch")).unwrap().as_slice())
            .unwrap()
            .evidence,
    )
    .unwrap()
    .evidence_type
    .as_str();
    let mut ledger = MemLedger::new("ch", NOW, "Org1MSP");
    ledger.define_chaincode("mycc", &hex::encode(MRENCLAVE), 1);
    register(&registry, &mut ledger, &credentials("other")); // wrong channel
    register(&registry, &mut ledger, &credentials("ch")); // registered
    register(&registry, &mut ledger, &credentials("ch")); // already registered
    register(&registry, &mut ledger, "%%%"); // not base64

    let text = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let mut r = agent
            .get(&format!("http://127.0.0.1:{port}/metrics"))
            .call()
            .unwrap();
        r.body_mut().read_to_string().unwrap()
    })
    .await
    .unwrap();
    let samples = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap()
        .samples;
    let rej = "ercc_registry_rejections_total";
    assert_eq!(
        value(
            &samples,
            "ercc_registry_registrations_total",
            &[("evidence_type", kind)]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            rej,
            &[("evidence_type", kind), ("reason", "wrong_channel")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            rej,
            &[("evidence_type", kind), ("reason", "already_registered")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            rej,
            &[
                ("evidence_type", "unknown"),
                ("reason", "invalid_credentials")
            ]
        ),
        1.0
    );
    // Verified twice: the first registration and the duplicate (refused after verification);
    // the wrong channel is refused before it.
    let count = "ercc_attestation_verification_duration_seconds_count";
    let accepted = [("evidence_type", kind), ("outcome", "accepted")];
    assert_eq!(value(&samples, count, &accepted), 2.0, "{text}");
}
