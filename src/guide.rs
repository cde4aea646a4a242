//! How-to text for people: trusting the CA and routing each Stremio app
//! through the proxy, per operating system. Used by the start-up banner,
//! `trakt-doctor stremio` and the `/ca` page. Pure: text in, text out.

/// An operating system the guide has steps for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Os {
    Windows,
    Macos,
    Linux,
}

impl Os {
    /// The system this binary runs on (Linux steps for other Unixes).
    pub fn current() -> Os {
        match std::env::consts::OS {
            "windows" => Os::Windows,
            "macos" => Os::Macos,
            _ => Os::Linux,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Os::Windows => "Windows",
            Os::Macos => "macOS",
            Os::Linux => "Linux",
        }
    }

    pub const ALL: [Os; 3] = [Os::Windows, Os::Macos, Os::Linux];
}

/// The command (or clicks) that make this OS trust the CA.
pub(crate) fn trust_step(os: Os, ca: &str) -> String {
    match os {
        Os::Windows => format!(
            "certutil -user -addstore Root \"{ca}\"   (or double-click the file → Install Certificate → Current User → Trusted Root Certification Authorities)"
        ),
        Os::Macos => format!(
            "security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db \"{ca}\"   (or open it in Keychain Access and set \"Always Trust\")"
        ),
        Os::Linux => format!(
            "mkdir -p ~/.pki/nssdb; certutil -d sql:$HOME/.pki/nssdb -N --empty-password (only if it has no database yet); \
             certutil -d sql:$HOME/.pki/nssdb -A -t \"C,,\" -n trakt-doctor -i \"{ca}\"   (Chromium and Stremio; package libnss3-tools)"
        ),
    }
}

/// The one command that trusts the CA for this user (`certs_flag` names a
/// CA folder other than the default), then the same by hand.
/// What `ca trust` cannot do: programs that read no system store.
pub(crate) const OWN_TRUST_STORES: &str = "Programs with trust stores of their own need the CA \
    too: curl --cacert \"$(trakt-doctor ca path)\"; Node NODE_EXTRA_CA_CERTS; Python \
    REQUESTS_CA_BUNDLE or SSL_CERT_FILE (a bundle of certifi's roots plus the CA); Firefox: set \
    security.enterprise_roots.enabled in about:config, or import the CA.";

pub(crate) fn trust_line(os: Os, ca: &str, certs_flag: &str) -> String {
    format!(
        "`trakt-doctor ca trust{certs_flag}`   (by hand: {})",
        trust_step(os, ca)
    )
}

/// Step-by-step routing of the Stremio apps on `os` through the proxy at
/// `addr`, trusting the CA first.
pub(crate) fn stremio_steps(os: Os, addr: &str, ca: &str) -> String {
    numbered(
        std::iter::once(format!("Trust the CA: {}", trust_line(os, ca, "")))
            .chain(routing(os, addr, ca))
            .collect(),
    )
}

/// [`stremio_steps`] without the trust step (the banner says it above them).
pub(crate) fn route_steps(os: Os, addr: &str, ca: &str) -> String {
    numbered(routing(os, addr, ca))
}

fn routing(os: Os, addr: &str, ca: &str) -> Vec<String> {
    let mut steps = Vec::new();
    match os {
        Os::Windows => {
            steps.push(format!(
                "Stremio 5 (WebView2): Settings → Network & Internet → Proxy → \"Use setup script\" = http://{addr}/proxy.pac \
                 (only the Trakt and Stremio hosts go through trakt-doctor), then restart Stremio."
            ));
            steps.push(format!(
                "   Alternative (untested): set WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS=--proxy-server=http://{addr} in a Command Prompt and start Stremio from it."
            ));
            steps.push(format!(
                "Stremio 4 (Qt desktop, untested): stremio.exe --proxy-server=http://{addr}"
            ));
        }
        Os::Macos => {
            steps.push(format!(
                "System Settings → Network → your network → Details → Proxies → \"Automatic proxy configuration\" = http://{addr}/proxy.pac, then restart Stremio."
            ));
            steps.push(format!(
                "Stremio 4 (untested): open -a Stremio --args --proxy-server=http://{addr}"
            ));
        }
        Os::Linux => {
            steps.push(format!(
                "Stremio 4 (Qt, untested): stremio --proxy-server=http://{addr}   (or the desktop's proxy setting / PAC http://{addr}/proxy.pac)"
            ));
            steps.push(
                "   Flatpak: flatpak run com.stremio.Stremio --proxy-server=... (untested)"
                    .to_string(),
            );
        }
    }
    steps.push(format!(
        "Stremio Web: start a browser with --proxy-server=http://{addr} (Chromium/Chrome/Edge), open web.stremio.com."
    ));
    steps.push(format!(
        "Addons and scripts (Node 18 to 24): npm install global-agent@3.0.0, then GLOBAL_AGENT_HTTP_PROXY=http://{addr} NODE_EXTRA_CA_CERTS=\"{ca}\" node -r global-agent/bootstrap addon.js (for fetch: undici's ProxyAgent, see the README; HTTPS_PROXY alone is ignored before Node 24)."
    ));
    steps.push(
        "Reproduce the Trakt problem (link, play, sync) and read the explanation under each exchange.".to_string(),
    );
    steps
}

fn numbered(steps: Vec<String>) -> String {
    // Numbered here, so a step that only some systems have leaves no gap.
    let mut number = 0;
    steps
        .iter()
        .map(|step| {
            if step.starts_with(' ') {
                step.clone()
            } else {
                number += 1;
                format!("{number}. {step}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_os_gets_trust_and_routing_steps_with_the_address() {
        for os in Os::ALL {
            let text = stremio_steps(os, "127.0.0.1:8080", "/x/ca.pem");
            assert!(text.contains("/x/ca.pem"), "{}", os.name());
            assert!(text.contains("http://127.0.0.1:8080"), "{}", os.name());
            assert!(
                text.contains("untested"),
                "untested steps must say so: {}",
                os.name()
            );
            // Steps are numbered 1, 2, 3, ... without a gap.
            let numbers: Vec<usize> = text
                .lines()
                .filter_map(|l| l.split_once(". ")?.0.parse().ok())
                .collect();
            assert_eq!(numbers, (1..=numbers.len()).collect::<Vec<_>>(), "{text}");
            assert!(numbers.len() >= 5, "{text}");
        }
    }
}
