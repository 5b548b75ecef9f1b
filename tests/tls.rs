//! HTTPS through the function's own HTTP client (`sdk::http_client`): rustls with ring, verifying
//! the server's certificate. A TLS-terminating proxy on 127.0.0.1, with a certificate from a test CA,
//! forwards to the local Connect double.
//!
//! - Trusting the Amazon Trust Services roots only, the client refuses the test CA's certificate:
//!   the call fails as ConnectUnavailable and nothing reaches the double.
//! - With `SSL_CERT_FILE` naming the test CA (the documented way to trust another root), the same
//!   request completes over HTTPS.
//!
//! This file holds one test on purpose: it sets `SSL_CERT_FILE` for its whole process.

mod support;

use std::sync::Arc;
use std::time::Duration;

use monitor_contact::metrics::Sink;
use monitor_contact::runtime::invocation;
use monitor_contact::{App, Config, ConnectApi, ErrorKind, Outcome, Response, handle, sdk};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use support::connect_double::{ConnectDouble, Scenario};
use tokio::net::{TcpListener, TcpStream};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A test CA (PEM) and a server certificate for 127.0.0.1 signed by it.
fn certificates() -> Result<(String, CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "monitor-contact test CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate()?;
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])?.signed_by(&server_key, &issuer)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    Ok((ca_cert.pem(), server_cert.der().clone(), key))
}

/// Terminates TLS on 127.0.0.1 and forwards the plaintext to `target`. Returns the proxy's port.
async fn tls_proxy(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    target: std::net::SocketAddr,
) -> Result<u16> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    Ok(port)
}

#[tokio::test]
async fn https_verifies_the_server_against_the_trusted_roots() -> Result<()> {
    let (ca_pem, cert, key) = certificates()?;
    let ca_file = std::env::temp_dir().join(format!("monitor-contact-test-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca_pem)?;
    // SAFETY: this test binary runs this one test; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("SSL_CERT_FILE", &ca_file) };

    let double = ConnectDouble::start(Scenario::open()).await?;
    let port = tls_proxy(cert, key, double.addr).await?;
    let endpoint = format!("https://127.0.0.1:{port}");
    let config = Config::from_lookup("us-east-1", |n| {
        (n == "DEFAULT_SUPERVISOR_USER_ID").then(|| "3f8a2c1e-6d4b-4a9e-b7c5-0d1e2f3a4b5c".to_owned())
    })?;
    let sample = std::fs::read_to_string(format!("{}/events/direct.json", env!("CARGO_MANIFEST_DIR")))?;
    let app_with = |system_roots: bool| -> Result<App<ConnectApi>> {
        let sdk = double
            .sdk_config(Duration::from_millis(5))
            .into_builder()
            .http_client(sdk::http_client(system_roots)?)
            .endpoint_url(endpoint.clone())
            .build();
        Ok(App::new(config.clone(), ConnectApi::new(&sdk)).with_metrics(Sink::Memory(Default::default())))
    };

    // The Amazon Trust Services roots only: the test CA is not trusted.
    assert!(!sdk::system_roots_requested(|_| None));
    let untrusting = app_with(false)?;
    let refused = handle(&untrusting, invocation(&sample, "tls-1", Duration::from_secs(8))).await;
    assert_eq!(
        refused.as_ref().err().map(|e| e.kind),
        Some(ErrorKind::ConnectUnavailable),
        "{refused:?}"
    );
    assert!(double.requests().is_empty(), "nothing reached the service");

    // SSL_CERT_FILE names the test CA: the system roots, read from there, are trusted as well.
    assert!(sdk::system_roots_requested(|n| std::env::var(n).ok()));
    let trusting = app_with(true)?;
    let started = handle(&trusting, invocation(&sample, "tls-2", Duration::from_secs(8))).await;
    assert!(
        matches!(started, Ok(Response::Single(Outcome::Started { .. }))),
        "{started:?}"
    );
    assert_eq!(double.requests().len(), 1);
    let _ = std::fs::remove_file(&ca_file);
    Ok(())
}
