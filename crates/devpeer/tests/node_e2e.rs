//! End-to-end: the official Node chaincode shim run by devpeer through external builders,
//! in normal mode (run + chaincode.json, TLS) and as a service (connection.json, TLS).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use fabric_protos::lifecycle::QueryChaincodeDefinitionResult;
use fabric_protos::prost::Message;

const V1: &str = "1.0";

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn normal_mode_with_tls_end_to_end_and_restart() {
    let mut peer = DevPeer::start(node_options());
    let pkg = node_package("fixture");
    let id = peer.install("fixture.tgz", &pkg);
    assert_eq!(id, package_id("fixture", &pkg));
    // Installing the same package again is refused, like the peer CLI.
    let again = peer.install_bytes("fixture.tgz", &pkg).err();
    assert!(again.contains("already successfully installed"), "{again}");
    peer.define("fixture", V1, 1, &id).ok();

    // Writes, reads (raw payload on stdout), empty value for a missing key.
    peer.invoke("fixture", &["Put", "a", "alpha"], &[]).ok();
    assert_eq!(peer.query("fixture", &["Get", "a"], &[]).ok(), "alpha");
    assert_eq!(peer.query("fixture", &["Get", "missing"], &[]).ok(), "");
    // Function + Args form of -c.
    let r = peer.cli(&[
        "query",
        "fixture",
        "-c",
        r#"{"Function":"Get","Args":["a"]}"#,
    ]);
    assert_eq!(r.ok(), "alpha");
    // A query commits nothing.
    peer.query("fixture", &["Put", "q", "nope"], &[]).ok();
    assert_eq!(peer.query("fixture", &["Get", "q"], &[]).ok(), "");

    // Ranges: 250 keys need three batches of at most 100 (QUERY_STATE_NEXT).
    peer.invoke("fixture", &["PutMany", "k", "250"], &[]).ok();
    let keys = json(&peer.query("fixture", &["Range", "k", "l"], &[]).ok());
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 250);
    assert_eq!(keys[0], "k0000");
    assert_eq!(keys[249], "k0249");
    let part = json(
        &peer
            .query("fixture", &["Range", "k0010", "k0013"], &[])
            .ok(),
    );
    assert_eq!(part, serde_json::json!(["k0010", "k0011", "k0012"]));
    // Pagination with bookmarks.
    let p1 = json(
        &peer
            .query("fixture", &["Page", "k", "l", "100", ""], &[])
            .ok(),
    );
    assert_eq!(p1["count"], 100);
    assert_eq!(p1["bookmark"], "k0100");
    let p3 = json(
        &peer
            .query("fixture", &["Page", "k", "l", "100", "k0200"], &[])
            .ok(),
    );
    assert_eq!(p3["count"], 50);
    assert_eq!(p3["keys"][49], "k0249");
    assert_eq!(p3["bookmark"], "");
    // Composite keys.
    peer.invoke("fixture", &["Composite", "color", "red", "1"], &[])
        .ok();
    peer.invoke("fixture", &["Composite", "color", "blue", "2"], &[])
        .ok();
    let c = json(&peer.query("fixture", &["ListComposite", "color"], &[]).ok());
    assert_eq!(c, serde_json::json!(["blue=2", "red=1"]));
    // Simple ranges exclude composite keys.
    let all = json(&peer.query("fixture", &["Range", "", ""], &[]).ok());
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .all(|k| !k.as_str().unwrap().starts_with('\u{0}')));

    // History, newest first, with deletes.
    peer.invoke("fixture", &["Put", "h", "one"], &[]).ok();
    peer.invoke("fixture", &["Put", "h", "two"], &[]).ok();
    peer.invoke("fixture", &["Del", "h"], &[]).ok();
    let h = json(&peer.query("fixture", &["History", "h"], &[]).ok());
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[0]["isDelete"], true);
    assert_eq!(h[1]["value"], "two");
    assert_eq!(h[2]["value"], "one");

    // Proposal fields: timestamp, creator MSP, tx id, channel, local MSP.
    let info = json(
        &peer
            .query(
                "fixture",
                &["TxInfo"],
                &["--msp", "Org2MSP", "--timestamp", "2024-05-01T12:00:00Z"],
            )
            .ok(),
    );
    assert_eq!(info["seconds"], 1_714_564_800);
    assert_eq!(info["creatorMsp"], "Org2MSP");
    assert_eq!(info["channel"], "mychannel");
    assert_eq!(info["localMsp"], "Org1MSP");
    assert_eq!(info["txId"].as_str().unwrap().len(), 64);

    // _lifecycle QueryChaincodeDefinition, found and not found.
    let d = json(&peer.query("fixture", &["Definition", "fixture"], &[]).ok());
    assert_eq!(d["status"], 200);
    let res = QueryChaincodeDefinitionResult::decode(
        hex::decode(d["payload"].as_str().unwrap())
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(res.version, V1);
    assert_eq!(res.sequence, 1);
    assert_eq!(res.approvals.get("Org1MSP"), Some(&true));
    let d = json(&peer.query("fixture", &["Definition", "nosuch"], &[]).ok());
    assert_eq!(d["status"], 404);
    assert_eq!(d["message"], "namespace nosuch is not defined");

    // Chaincode-to-chaincode, to a second chaincode (its own package: Fabric refuses a call
    // back into the same process with the same transaction id).
    let other = peer.install("other.tgz", &node_package("other"));
    peer.define("other", V1, 1, &other).ok();
    peer.invoke("other", &["Put", "a", "from-other"], &[]).ok();
    let call = json(
        &peer
            .query("fixture", &["Call", "other", "Get", "a"], &[])
            .ok(),
    );
    assert_eq!(call["status"], 200);
    assert_eq!(call["payload"], "from-other");
    // Namespaces are separate.
    assert_eq!(peer.query("fixture", &["Get", "a"], &[]).ok(), "alpha");

    // A failing transaction: status and message on stderr, non-zero exit, nothing committed.
    let e = peer.invoke("fixture", &["Fail", "boom"], &[]).err();
    assert!(e.contains("status: 500") && e.contains("boom"), "{e}");

    // A chaincode that crashes: the transaction fails, the next one relaunches it.
    let e = peer.invoke("fixture", &["Crash"], &[]).err();
    assert!(e.contains("500"), "{e}");
    assert_eq!(peer.query("fixture", &["Get", "a"], &[]).ok(), "alpha");

    // Unknown chaincode and bad -c.
    let e = peer.query("nosuch", &["Get", "a"], &[]).err();
    assert!(e.contains("nosuch"), "{e}");
    let e = peer.cli(&["query", "fixture", "-c", "{"]).err();
    assert!(e.contains("JSON"), "{e}");

    // Restart: state, definitions and installs survive; the chaincode is relaunched.
    peer.restart();
    assert_eq!(peer.query("fixture", &["Get", "a"], &[]).ok(), "alpha");
    assert_eq!(peer.query("other", &["Get", "a"], &[]).ok(), "from-other");
    let keys = json(&peer.query("fixture", &["Range", "k", "l"], &[]).ok());
    assert_eq!(keys.as_array().unwrap().len(), 250);
    peer.invoke("fixture", &["Put", "after", "restart"], &[])
        .ok();
    assert_eq!(
        peer.query("fixture", &["Get", "after"], &[]).ok(),
        "restart"
    );
}
