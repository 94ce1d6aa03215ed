//! TLS details a Go peer insists on, checked on the wire with a bare rustls endpoint:
//! ALPN `h2` in both directions and SNI taken from the host of `peer.address`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{start_caas, truthful_label, Pki, TestCc};
use fabric_chaincode::config::{ClientTls, NormalConfig, DEFAULT_DIAL_TIMEOUT};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caas_server_negotiates_h2() {
    let pki = Pki::new("ca");
    let caas = start_caas(Arc::new(TestCc::default()), Some(pki.server_tls(None))).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(caas.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    drop(tls);
    caas.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_mode_client_offers_h2_and_sends_the_peer_host_as_sni() {
    let pki = Pki::new("ca");
    let server = pki.server();
    let client = pki.client();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(server.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(truthful_label(&server.key_pem).as_bytes()).unwrap(),
        )
        .unwrap();
    let mut config = config;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let handshake = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let conn = tls.get_ref().1;
        (
            conn.server_name().map(str::to_owned),
            conn.alpn_protocol().map(<[u8]>::to_vec),
        )
    });
    let cfg = NormalConfig {
        peer_address: format!("localhost:{port}"),
        chaincode_name: "cc:1".into(),
        tls: Some(ClientTls {
            root_cert_pem: pki.ca_pem().into_bytes(),
            client_cert_pem: client.cert_pem.into_bytes(),
            client_key_pem: client.key_pem.into_bytes(),
        }),
        msp_id: None,
        dial_timeout: DEFAULT_DIAL_TIMEOUT,
    };
    let run = tokio::spawn(fabric_chaincode::run_normal(
        Arc::new(TestCc::default()),
        cfg,
        std::future::pending(),
    ));
    let (sni, alpn) = tokio::time::timeout(Duration::from_secs(10), handshake)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sni.as_deref(), Some("localhost"));
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    run.abort();
}
