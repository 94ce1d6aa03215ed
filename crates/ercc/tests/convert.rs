//! `ercc convert` against a local HTTP server (a std `TcpListener` thread) that speaks the PCS v4
//! API and serves the real collateral from the `dcap` vectors of `test-vectors` (or the DCAP test PKI's):
//! the converted credentials carry evidence that `dcap::verify` accepts; unreachable and wrong
//! services and non-dcap credentials fail with clear errors.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use enclave_attestation::dcap::test_pki::{DcapTestPki, QuoteParams};
use enclave_attestation::dcap::{self, Collateral, DcapEvidence};
use ercc::convert::{run, ConvertArgs, ConvertError};
use ercc_registry::proto::Credentials;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use prost::Message as _;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn vectors() -> PathBuf {
    test_vectors::path("dcap/dcap-qvl-0.7.1-sample")
}

fn real_sample() -> (Vec<u8>, Collateral) {
    let quote = test_vectors::read(vectors().join("sgx_quote"));
    let col = Collateral::parse_json(&test_vectors::read(
        vectors().join("sgx_quote_collateral.json"),
    ))
    .unwrap();
    (quote, col)
}

#[derive(Clone, Copy, PartialEq)]
enum Service {
    /// A PCCS: everything including `/rootcacrl` (as hex text).
    Pccs,
    /// Like Intel PCS: no `/rootcacrl`; the root CA CRL (DER) is at `/root-ca.crl`, the root
    /// certificate's CRL distribution point.
    Pcs,
    /// Answers 200 with an HTML page to everything.
    NotPcs,
    /// Answers 404 to everything.
    NotFound,
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn respond(col: &Collateral, service: Service, path: &str) -> Response {
    let ok = |headers, body| Response {
        status: 200,
        headers,
        body,
    };
    let chain = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    match service {
        Service::NotFound => {
            return Response {
                status: 404,
                headers: vec![],
                body: b"not found".to_vec(),
            }
        }
        Service::NotPcs => {
            return ok(
                vec![("Content-Type", "text/html".into())],
                b"<html>hello</html>".to_vec(),
            );
        }
        Service::Pccs | Service::Pcs => {}
    }
    if path == "/root-ca.crl" && service == Service::Pcs {
        return ok(vec![], col.root_ca_crl.clone());
    }
    let v4 = "/sgx/certification/v4/";
    let Some(rest) = path.strip_prefix(v4) else {
        return Response {
            status: 404,
            headers: vec![],
            body: vec![],
        };
    };
    if rest.starts_with("pckcrl?") {
        ok(
            vec![("SGX-PCK-CRL-Issuer-Chain", chain(&col.pck_crl_issuer_chain))],
            col.pck_crl.clone(),
        )
    } else if rest.starts_with("tcb?fmspc=") {
        let body = format!(
            "{{\"tcbInfo\":{},\"signature\":\"{}\"}}",
            col.tcb_info,
            hex::encode(&col.tcb_info_signature)
        );
        ok(
            vec![("TCB-Info-Issuer-Chain", chain(&col.tcb_info_issuer_chain))],
            body.into_bytes(),
        )
    } else if rest == "qe/identity" {
        let body = format!(
            "{{\"enclaveIdentity\":{},\"signature\":\"{}\"}}",
            col.qe_identity,
            hex::encode(&col.qe_identity_signature)
        );
        ok(
            vec![(
                "SGX-Enclave-Identity-Issuer-Chain",
                chain(&col.qe_identity_issuer_chain),
            )],
            body.into_bytes(),
        )
    } else if rest == "rootcacrl" && service == Service::Pccs {
        ok(vec![], hex::encode(&col.root_ca_crl).into_bytes())
    } else {
        Response {
            status: 404,
            headers: vec![],
            body: vec![],
        }
    }
}

/// Serves at most `max` requests on 127.0.0.1; returns the base URL and the paths requested.
fn serve(col: Collateral, service: Service, max: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (base, serve_on(listener, col, service, max))
}

fn serve_on(
    listener: TcpListener,
    col: Collateral,
    service: Service,
    max: usize,
) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push(path.clone());
            let r = respond(&col, service, &path);
            let mut head = format!(
                "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                r.status,
                r.body.len()
            );
            for (k, v) in &r.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&r.body);
        }
    });
    seen
}

fn credentials(attestation_type: &str, quote: &[u8]) -> String {
    let att = serde_json::json!({"attestation_type": attestation_type, "attestation": b64(quote)})
        .to_string();
    let creds = Credentials {
        serialized_attested_data: Some(prost_types::Any {
            type_url: "github.com/fpc/fpc.AttestedData".into(),
            value: vec![1, 2, 3],
        }),
        attestation: att.into_bytes(),
        evidence: vec![],
    };
    b64(&creds.encode_to_vec())
}

/// Runs `ercc convert` with files in a temporary directory; returns the output credentials.
fn convert(base: &str, input: &str, tag: &str) -> Result<Credentials, ConvertError> {
    let dir = std::env::temp_dir().join(format!("ercc-convert-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (inp, out) = (dir.join("in.b64"), dir.join("out.b64"));
    std::fs::write(&inp, input).unwrap();
    let args = ConvertArgs {
        pccs_url: base.to_string(),
        input: Some(inp),
        output: Some(out.clone()),
        timeout_secs: 10,
        pccs_ca_cert: None,
    };
    let result = run(args);
    let text = std::fs::read_to_string(&out);
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.unwrap().trim())
        .unwrap();
    Ok(Credentials::decode(raw.as_slice()).unwrap())
}

fn evidence_of(creds: &Credentials) -> DcapEvidence {
    let outer: serde_json::Value = serde_json::from_slice(&creds.evidence).unwrap();
    assert_eq!(outer["attestation_type"], "dcap");
    DcapEvidence::parse(outer["evidence"].as_str().unwrap().as_bytes()).unwrap()
}

#[test]
fn converts_real_quote_with_real_collateral_from_a_pccs() {
    let (quote, col) = real_sample();
    let (base, seen) = serve(col.clone(), Service::Pccs, 10);
    let input = credentials("dcap", &quote);
    let out = convert(&format!("{base}/"), &input, "real").unwrap();
    // Attested data and attestation are kept; evidence is added.
    let before = Credentials::decode(
        base64::engine::general_purpose::STANDARD
            .decode(&input)
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        out.serialized_attested_data,
        before.serialized_attested_data
    );
    assert_eq!(out.attestation, before.attestation);
    let ev = evidence_of(&out);
    assert_eq!(ev.quote, quote);
    assert_eq!(
        ev.collateral, col,
        "the fetched collateral is byte for byte what the service served"
    );
    let v = dcap::verify(&ev, dcap::INTEL_SGX_ROOT_CA_DER, 1_751_624_924).unwrap();
    assert_eq!(v.tcb_status, "ConfigurationAndSWHardeningNeeded");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
            "/sgx/certification/v4/tcb?fmspc=00A067110000",
            "/sgx/certification/v4/qe/identity",
            "/sgx/certification/v4/rootcacrl",
        ]
    );
}

#[test]
fn converts_test_pki_quote_for_a_registration() {
    let pki = DcapTestPki::new("convert", 1_780_000_000).unwrap();
    let quote = pki.quote(&QuoteParams::for_statement([9; 32], b"attested data"));
    let (base, _) = serve(pki.collateral().unwrap(), Service::Pccs, 10);
    let out = convert(&base, &credentials("dcap", &quote), "pki").unwrap();
    let v = dcap::verify(&evidence_of(&out), &pki.root_ca_der(), 1_780_000_000).unwrap();
    assert_eq!((v.mrenclave, v.tcb_status.as_str()), ([9; 32], "UpToDate"));
}

#[test]
fn unreachable_service() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: connections are refused
    let (quote, _) = real_sample();
    let e = convert(
        &format!("http://127.0.0.1:{port}"),
        &credentials("dcap", &quote),
        "unreachable",
    )
    .unwrap_err();
    assert!(matches!(e, ConvertError::Unreachable { .. }), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "cannot reach the collateral service at http://127.0.0.1:{port}/sgx/"
        )),
        "{e}"
    );
}

#[test]
fn wrong_services() {
    let (quote, col) = real_sample();
    let (base, _) = serve(col.clone(), Service::NotPcs, 5);
    let e = convert(&base, &credentials("dcap", &quote), "html").unwrap_err();
    assert!(matches!(e, ConvertError::WrongService { .. }), "{e}");
    assert!(e.to_string().ends_with("does not look like a PCCS or Intel PCS v4 response: no SGX-PCK-CRL-Issuer-Chain header"), "{e}");

    let (base, _) = serve(col, Service::NotFound, 5);
    let e = convert(&base, &credentials("dcap", &quote), "404").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{base}/sgx/certification/v4/pckcrl?ca=processor&encoding=der answered HTTP 404: is {base} a PCCS or Intel PCS (v4 API) base URL?")
    );

    let e = convert("ftp://example", &credentials("dcap", &quote), "url").unwrap_err();
    assert!(matches!(e, ConvertError::BadUrl(_)), "{e}");
}

#[test]
fn refuses_non_dcap_credentials() {
    let (quote, col) = real_sample();
    let (base, seen) = serve(col, Service::Pccs, 5);
    let e = convert(&base, &credentials("epid-linkable", &quote), "epid").unwrap_err();
    assert_eq!(
        e.to_string(),
        "credentials do not hold a dcap attestation: attestation_type is \"epid-linkable\""
    );
    let e = convert(&base, "not base64!", "garbage").unwrap_err();
    assert!(matches!(e, ConvertError::InvalidCredentials(_)), "{e}");
    let e = convert(&base, &credentials("dcap", &quote[..100]), "short").unwrap_err();
    assert!(matches!(e, ConvertError::Quote(_)), "{e}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing fetched for bad input"
    );
}

#[test]
fn bad_pccs_ca_cert_file() {
    let dir = std::env::temp_dir().join(format!("ercc-convert-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    for (path, tag) in [(dir.join("missing.pem"), "missing"), (not_pem, "not pem")] {
        let args = ConvertArgs {
            pccs_url: "https://127.0.0.1:1".into(),
            input: Some(dir.join("unused")),
            output: None,
            timeout_secs: 1,
            pccs_ca_cert: Some(path),
        };
        let e = run(args).unwrap_err();
        assert!(matches!(e, ConvertError::CaCert(..)), "{tag}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn intel_pcs_root_crl_from_the_distribution_point() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let pki = DcapTestPki::new("pcs", 1_780_000_000)
        .unwrap()
        .with_root_crl_url(&format!("{base}/root-ca.crl"))
        .unwrap();
    let seen = serve_on(listener, pki.collateral().unwrap(), Service::Pcs, 10);
    let quote = pki.quote(&QuoteParams::for_statement([5; 32], b"pcs"));
    let out = convert(&base, &credentials("dcap", &quote), "pcs").unwrap();
    let ev = evidence_of(&out);
    assert_eq!(ev.collateral.root_ca_crl, pki.root_ca_crl().unwrap());
    dcap::verify(&ev, &pki.root_ca_der(), 1_780_000_000).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[seen.len() - 2..],
        ["/sgx/certification/v4/rootcacrl", "/root-ca.crl"]
    );
}
