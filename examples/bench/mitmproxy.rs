//! The comparison with mitmproxy: mitmdump, when installed (or installed
//! on request, `--mitmproxy`, into target/bench-venv), as one more route.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rustls_pki_types::CertificateDer;

use crate::proxies::{free_loopback_addr, wait_for_listener};
use crate::upstream::Upstream;

/// mitmdump, when installed (or installed on request into target/bench-venv).
pub(crate) fn spawn_mitmdump(
    upstream: &Upstream,
    dir: &Path,
    install: bool,
) -> Option<(Child, SocketAddr, CertificateDer<'static>)> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-venv");
    let venv_bin = venv.join(if cfg!(windows) {
        "Scripts/mitmdump.exe"
    } else {
        "bin/mitmdump"
    });
    let program = if venv_bin.exists() {
        venv_bin.clone()
    } else if Command::new("mitmdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        PathBuf::from("mitmdump")
    } else if install {
        eprintln!("installing mitmproxy into {} (pip)...", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join(if cfg!(windows) {
                "Scripts/pip.exe"
            } else {
                "bin/pip"
            }))
            .args(["install", "--quiet", "mitmproxy"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("could not install mitmproxy; skipping the comparison");
            return None;
        }
        venv_bin
    } else {
        return None;
    };
    let addr = free_loopback_addr();
    let confdir = dir.join("mitmproxy");
    let child = Command::new(program)
        .args([
            "-q",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &addr.port().to_string(),
        ])
        .args(["--set", &format!("confdir={}", confdir.display())])
        .args([
            "--set",
            &format!(
                "ssl_verify_upstream_trusted_ca={}",
                upstream.ca_pem_path.display()
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let ca_path = confdir.join("mitmproxy-ca-cert.pem");
    if !wait_for_listener(addr) || !ca_path.exists() {
        return None;
    }
    use rustls_pki_types::pem::PemObject;
    let ca = CertificateDer::from_pem_file(&ca_path).ok()?;
    Some((child, addr, ca))
}
