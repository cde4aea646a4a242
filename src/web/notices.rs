//! What the web view says about the proxy itself, beside the exchanges: a
//! client that refused trakt-doctor's certificate. Its requests never reach
//! the list (the TLS handshake failed before any was read), so without a
//! notice the page would only look empty. The proxy reports each refusal
//! through [`super::WebContext::untrusted_ca`]; the page reads the notices
//! in `/api/state` and gets new ones on its event stream.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;

/// Distinct notices kept (a client and a host each): enough for every
/// client a person sets up at once, bounded against one that varies.
const MAX_NOTICES: usize = 8;

/// Characters of a client's User-Agent shown.
const MAX_AGENT: usize = 120;

/// One thing the page shows in a banner until the person dismisses it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Notice {
    /// `untrusted-ca`.
    pub(crate) kind: &'static str,
    /// The refusing client's User-Agent (shortened), when it sent one.
    pub(crate) client: Option<String>,
    pub(crate) host: String,
    /// The TLS alert the client sent (`UnknownCA`, `BadCertificate`…).
    pub(crate) alert: String,
    /// What happened, in words.
    pub(crate) message: String,
    /// The fix for browsers and the Stremio apps.
    pub(crate) fix: String,
    /// The programs `ca trust` cannot help, and what they need instead.
    pub(crate) own_trust_stores: &'static str,
}

impl Notice {
    fn untrusted_ca(host: &str, agent: Option<&str>, alert: &str) -> Notice {
        // A User-Agent is the client's text: control characters made
        // visible, and not at any length (the page shows it as text).
        let client = agent.map(|a| {
            let shown: String = a.chars().take(MAX_AGENT).collect();
            crate::log::terminal::visible(&shown).into_owned()
        });
        let who = client
            .as_deref()
            .map_or_else(|| "A client".to_string(), |c| format!("A client ({c})"));
        Notice {
            kind: "untrusted-ca",
            message: format!(
                "{who} refused trakt-doctor's certificate for {host} (its TLS said {alert}): it \
                 does not trust the trakt-doctor CA, so none of its requests to {host} reach \
                 this list."
            ),
            fix: "Browsers and the Stremio apps: run `trakt-doctor ca trust` (or download the \
                  CA from /ca and trust it), then restart the client."
                .to_string(),
            own_trust_stores: crate::guide::OWN_TRUST_STORES,
            client,
            host: host.to_string(),
            alert: alert.to_string(),
        }
    }
}

/// The notices of this run, and a broadcast of each new one.
pub(crate) struct Notices {
    held: Mutex<Vec<Notice>>,
    live: broadcast::Sender<Arc<String>>,
}

impl Default for Notices {
    fn default() -> Notices {
        Notices {
            held: Mutex::new(Vec::new()),
            live: broadcast::channel(16).0,
        }
    }
}

impl Notices {
    /// A client (by its User-Agent) refused the certificate for `host`:
    /// noted once per client and host, and told to the open pages.
    pub(crate) fn untrusted_ca(&self, host: &str, agent: Option<&str>, alert: &str) {
        let notice = Notice::untrusted_ca(host, agent, alert);
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            let known = held.iter().any(|n| {
                n.kind == notice.kind && n.host == notice.host && n.client == notice.client
            });
            if known || held.len() >= MAX_NOTICES {
                return;
            }
            held.push(notice.clone());
        }
        if let Ok(json) = serde_json::to_string(&notice) {
            // No page open: nobody to tell now; `/api/state` has it.
            let _ = self.live.send(Arc::new(json));
        }
    }

    /// Every notice, oldest first.
    pub(crate) fn all(&self) -> Vec<Notice> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// New notices as they come (JSON), for the event stream.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<String>> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_noted_once_per_client_and_host_and_says_the_fix() {
        let notices = Notices::default();
        let mut live = notices.subscribe();
        notices.untrusted_ca("api.trakt.tv", Some("curl/8.5.0"), "UnknownCA");
        notices.untrusted_ca("api.trakt.tv", Some("curl/8.5.0"), "UnknownCA");
        notices.untrusted_ca(
            "api.trakt.tv",
            Some("Stremio/4.4\u{1b}[31m"),
            "BadCertificate",
        );
        let all = notices.all();
        assert_eq!(all.len(), 2);
        let first = &all[0];
        assert!(first.message.starts_with(
            "A client (curl/8.5.0) refused trakt-doctor's certificate for api.trakt.tv"
        ));
        assert!(first.fix.contains("`trakt-doctor ca trust`"));
        for words in [
            "--cacert",
            "NODE_EXTRA_CA_CERTS",
            "REQUESTS_CA_BUNDLE",
            "SSL_CERT_FILE",
            "security.enterprise_roots.enabled",
        ] {
            assert!(first.own_trust_stores.contains(words), "{words}");
        }
        assert!(!all[1].message.contains('\u{1b}'), "{}", all[1].message);
        let told: serde_json::Value = serde_json::from_str(&live.try_recv().unwrap()).unwrap();
        assert_eq!(told["kind"], "untrusted-ca");
        assert_eq!(told["host"], "api.trakt.tv");
        assert!(live.try_recv().is_ok(), "the second client is told");
        assert!(live.try_recv().is_err(), "the repeat is not");
        for i in 0..20 {
            notices.untrusted_ca(&format!("h{i}.example"), None, "UnknownCA");
        }
        assert_eq!(notices.all().len(), MAX_NOTICES);
        assert!(notices.all()[2].message.starts_with("A client refused"));
    }
}
