//! The fake upstream: a loopback HTTPS server standing in for
//! api.trakt.tv, with a CA of its own made for the run. It answers a
//! scrobble as Trakt does, `/big` with 1 MiB, and the 1 MiB JSON answer
//! plain or coded (bench/compressed.rs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

use crate::compressed;

/// The answer to a scrobble, as Trakt gives it.
pub(crate) const ANSWER: &str = r#"{"id":3373536619,"action":"start","progress":1.25,"sharing":{"twitter":false},"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28}}}"#;

/// The crypto provider of every TLS side in the harness.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    pub(crate) ca_der: CertificateDer<'static>,
    pub(crate) ca_pem_path: PathBuf,
}

pub(crate) async fn start_upstream(dir: &Path) -> Upstream {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "bench upstream CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let ca_pem_path = dir.join("upstream-ca.pem");
    std::fs::write(&ca_pem_path, ca_cert.pem()).expect("write ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["api.trakt.tv".to_string(), "localhost".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    std::fs::write(dir.join("upstream-leaf.pem"), leaf.pem()).expect("write leaf");
    std::fs::write(dir.join("upstream-leaf.key"), leaf_key.serialize_pem()).expect("write key");
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("cert");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let big = Bytes::from(vec![b'x'; 1024 * 1024]);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            let big = big.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let big = big.clone();
                        async move {
                            if req.uri().path() == compressed::PATH {
                                let accept = req.headers().get(http::header::ACCEPT_ENCODING);
                                return Ok(compressed::answer(accept));
                            }
                            let is_big = req.uri().path() == "/big";
                            let _ = req.into_body().collect().await;
                            let body = if is_big {
                                big
                            } else {
                                Bytes::from_static(ANSWER.as_bytes())
                            };
                            let mut response = http::Response::new(Full::new(body));
                            *response.status_mut() = if is_big {
                                http::StatusCode::OK
                            } else {
                                http::StatusCode::CREATED
                            };
                            response.headers_mut().insert(
                                "content-type",
                                http::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Upstream {
        addr,
        ca_der: ca_cert.der().clone(),
        ca_pem_path,
    }
}
