//! Bad input: broken packages, failing builders, chaincode that never registers, unsolicited
//! registrations. Each gets a clear error and the peer keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[test]
fn broken_packages_and_failing_builders() {
    let mut opts = node_options();
    // One timeout serves both launches below: the silent chaincode must use all of it (twice),
    // and the Node fixture must register within it. Node's start (loading fabric-shim, about
    // 0.3 s of CPU) and its TLS registration took 1.5 s on a 2-core machine at load 10; more
    // load stretches that past 3 s. 10 s leaves a wide margin and stays a bound.
    opts.extra_args = vec!["--launch-timeout".into(), "10s".into()];
    let peer = DevPeer::start(opts);

    let e = peer
        .install_bytes("junk.tgz", b"this is not a package")
        .err();
    assert!(e.contains("not a gzip-compressed tar"), "{e}");

    let no_meta = tar_gz(&[("code.tar.gz", &tar_gz(&[("a", b"a")]))]);
    let e = peer.install_bytes("nometa.tgz", &no_meta).err();
    assert!(e.contains("no metadata.json"), "{e}");

    let bad_label = package("-bad", "node", &[("a", b"a")]);
    let e = peer.install_bytes("label.tgz", &bad_label).err();
    assert!(e.contains("invalid label"), "{e}");

    let e = peer
        .install_bytes("failing.tgz", &package("f", "failing", &[("a", b"a")]))
        .err();
    assert!(
        e.contains("build failed") && e.contains("compiler exploded"),
        "{e}"
    );

    let e = peer
        .install_bytes("unknown.tgz", &package("u", "cobol", &[("a", b"a")]))
        .err();
    assert!(e.contains("no builder detected"), "{e}");

    // A code.tar.gz escaping its directory is refused while extracting.
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut h = tar::Header::new_gnu();
    let evil = b"evil";
    h.set_size(evil.len() as u64);
    h.set_mode(0o644);
    // Extraction is into builds/<id>.work/src, so three levels up is externalbuilder/escape,
    // the path checked below (a plain "../escape" would land inside the work directory,
    // which is removed anyway, so that check could not fail).
    let escape = b"../../../escape";
    h.as_gnu_mut().unwrap().name[..escape.len()].copy_from_slice(escape);
    h.set_cksum();
    b.append(&h, &evil[..]).unwrap();
    let code = b.into_inner().unwrap().finish().unwrap();
    let meta = br#"{"type":"node","label":"evil","path":""}"#;
    let pkg = tar_gz(&[("metadata.json", meta), ("code.tar.gz", &code)]);
    let e = peer.install_bytes("evil.tgz", &pkg).err();
    assert!(e.contains("illegal file path"), "{e}");
    assert!(!peer.home.join("externalbuilder/escape").exists());

    // A chaincode that never registers: the launch times out and is reported.
    let silent = peer.install("silent.tgz", &package("silent", "silent", &[("a", b"a")]));
    let d = peer.define("silent", "1", 1, &silent);
    assert!(d.stderr.contains("did not register within"), "{}", d.stderr);
    let e = peer.invoke("silent", &["Put", "a", "b"], &[]).err();
    assert!(e.contains("did not register within"), "{e}");

    // Definition rules.
    let e = peer.define("silent", "2", 3, &silent).err();
    assert!(e.contains("must be sequence 2"), "{e}");
    let e = peer.define("x", "1", 1, "nosuch:00").err();
    assert!(e.contains("not installed"), "{e}");

    // The peer still serves a good chaincode.
    let id = peer.install("fixture.tgz", &node_package("fixture"));
    peer.define("fixture", "1", 1, &id).ok();
    peer.invoke("fixture", &["Put", "a", "b"], &[]).ok();
    assert_eq!(peer.query("fixture", &["Get", "a"], &[]).ok(), "b");
    let status: serde_json::Value = serde_json::from_str(&peer.cli(&["status"]).ok()).unwrap();
    assert_eq!(
        status["height"], 1,
        "only the one good transaction was committed"
    );
}

#[test]
fn unsolicited_registration_is_refused() {
    use fabric_protos::peer::chaincode_message::Type;
    use fabric_protos::peer::chaincode_support_client::ChaincodeSupportClient;
    use fabric_protos::peer::{ChaincodeId, ChaincodeMessage};
    use fabric_protos::prost::Message;

    let mut opts = node_options();
    opts.tls = false;
    let peer = DevPeer::start(opts);
    let status: serde_json::Value = serde_json::from_str(&peer.cli(&["status"]).ok()).unwrap();
    let addr = status["chaincode_address"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = ChaincodeSupportClient::new(channel);
        let register = ChaincodeMessage {
            r#type: Type::Register as i32,
            payload: ChaincodeId {
                name: "rogue:00".into(),
                ..Default::default()
            }
            .encode_to_vec(),
            ..Default::default()
        };
        let mut inbound = client
            .register(tokio_stream::iter(vec![register]))
            .await
            .unwrap()
            .into_inner();
        let first = inbound.message().await.unwrap().unwrap();
        assert_eq!(first.r#type, Type::Error as i32);
        let text = String::from_utf8_lossy(&first.payload).into_owned();
        assert!(
            text.contains("will not accept external chaincode connection rogue:00"),
            "{text}"
        );
        assert!(
            inbound.message().await.is_err(),
            "the stream must end with an error"
        );
    });
    // Still serving.
    assert!(peer.cli(&["status"]).success);
}
