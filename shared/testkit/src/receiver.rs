//! A webhook and SIEM receiver on loopback, over HTTPS with the test-only certificate of
//! `tests/fixtures/certs/receiver.crt` (for `localhost` and 127.0.0.1, issued by
//! `receiver-ca.crt`): it records every request (path, the auditlake headers, the body) and can be
//! told to fail the next requests, or to answer with a redirect, so delivery retries and refusals
//! are tested against a real TLS peer. The notifier and the forwarder reach it only with the
//! local-only switches (`AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK`, `AUDITLAKE_DESTINATIONS_CA_FILE`).
//! A plain-HTTP variant stands for an SNS subscriber (moto posts published messages to it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub delivery: Option<String>,
    pub signature: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Requests still to fail with 503 (recorded as attempts, not as received).
    fail_next: usize,
    attempts: usize,
    redirect_to: Option<String>,
}

/// The running receiver; it stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
    scheme: &'static str,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The repository's test certificates directory.
pub fn certs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/certs")
}

/// The CA file a sender must trust to reach the receiver.
pub fn ca_file() -> PathBuf {
    certs_dir().join("receiver-ca.crt")
}

struct TlsListener {
    tcp: TcpListener,
    tls: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A failed handshake (a client that does not trust the CA) is that client's error.
            if let Ok(tls) = self.tls.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut i = inner.lock().expect("receiver lock");
    i.attempts += 1;
    if let Some(to) = &i.redirect_to {
        return (StatusCode::TEMPORARY_REDIRECT, [("location", to.clone())]).into_response();
    }
    if i.fail_next > 0 {
        i.fail_next -= 1;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    i.received.push(Received {
        path: uri.path().to_owned(),
        delivery: header(&headers, "auditlake-delivery"),
        signature: header(&headers, "auditlake-signature"),
        authorization: header(&headers, "authorization"),
        content_type: header(&headers, "content-type"),
        body: body.to_vec(),
    });
    StatusCode::OK.into_response()
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 (any port).
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(receive).with_state(inner.clone());
        let (addr, task) = serve_tls(app).await;
        Receiver {
            addr,
            inner,
            task,
            scheme: "https",
        }
    }

    /// Starts a plain-HTTP receiver on 127.0.0.1: an SNS subscription endpoint for moto, which
    /// posts each published message to it (never a destination of the notifier's, which
    /// reaches HTTPS only).
    pub async fn start_plain() -> Receiver {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(receive).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(tcp, app).await;
        });
        Receiver {
            addr,
            inner,
            task,
            scheme: "http",
        }
    }

    /// `https://localhost:<port><path>` (`http://127.0.0.1:...` for a plain receiver).
    pub fn url(&self, path: &str) -> String {
        match self.scheme {
            "https" => format!("https://localhost:{}{path}", self.addr.port()),
            _ => format!("http://127.0.0.1:{}{path}", self.addr.port()),
        }
    }

    /// The allow-list entry for it.
    pub fn allow_entry(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("receiver lock").received.clone()
    }

    /// Every request that reached it, failed ones included.
    pub fn attempts(&self) -> usize {
        self.inner.lock().expect("receiver lock").attempts
    }

    /// Fails the next `n` requests with 503.
    pub fn fail_next(&self, n: usize) {
        self.inner.lock().expect("receiver lock").fail_next = n;
    }

    /// Answers every request with a 307 to `to` (or stops, with `None`).
    pub fn redirect(&self, to: Option<String>) {
        self.inner.lock().expect("receiver lock").redirect_to = to;
    }
}

/// Serves `app` over HTTPS on 127.0.0.1 (any port) with the test-only certificate of
/// `tests/fixtures/certs/receiver.crt` (for `localhost`): the receiver's and the chat-completions
/// stand-in's transport (`llm_sim`).
pub async fn serve_tls(app: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let dir = certs_dir();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("receiver.crt"))
            .expect("receiver.crt")
            .collect::<Result<_, _>>()
            .expect("receiver.crt parses");
    let key = PrivateKeyDer::from_pem_file(dir.join("receiver.key")).expect("receiver.key");
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the receiver's certificate and key match");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let listener = TlsListener {
        tcp,
        tls: TlsAcceptor::from(Arc::new(config)),
    };
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}
