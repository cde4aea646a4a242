//! TLS and certificate failures in words a person reads. rustls and webpki
//! print several of their errors as Rust debug output (`invalid peer
//! certificate: Other(OtherError(CaUsedAsEndEntity))`); these functions say
//! the same in a sentence instead. Pure.

use rustls::CertificateError;

/// What is wrong with a certificate, as "it ...".
pub(crate) fn certificate_problem(error: &CertificateError) -> String {
    use CertificateError as E;
    match error {
        E::Expired => "it has expired".into(),
        E::ExpiredContext { not_after, .. } => {
            format!("it expired on {}", date(not_after.as_secs()))
        }
        E::NotValidYet => "it is not valid yet (check this machine's clock)".into(),
        E::NotValidYetContext { not_before, .. } => format!(
            "it is not valid before {} (check this machine's clock)",
            date(not_before.as_secs())
        ),
        E::NotValidForName => "it is for another host name".into(),
        E::NotValidForNameContext {
            expected,
            presented,
        } => match presented.as_slice() {
            [] => format!("it names no host, so not {}", expected.to_str()),
            names => format!(
                "it is for {}, not {} (wrong host name)",
                names
                    .iter()
                    .map(|n| unwrap_name(n))
                    .collect::<Vec<_>>()
                    .join(", "),
                expected.to_str()
            ),
        },
        E::UnknownIssuer => {
            "it is signed by an unknown issuer (a CA this machine does not trust)".into()
        }
        E::BadSignature => "its signature does not verify".into(),
        E::Revoked => "it has been revoked".into(),
        E::InvalidPurpose | E::InvalidPurposeContext { .. } => {
            "it is not meant for identifying servers (its extended key usage)".into()
        }
        E::BadEncoding => "it is malformed".into(),
        E::UnhandledCriticalExtension => {
            "it carries a critical extension that cannot be checked".into()
        }
        E::Other(other) => webpki_problem(&other.to_string()),
        // The remaining variants (signature algorithms, revocation data) are rare:
        // their name, spelled out, says enough.
        other => format!("it failed the check: {}", words(&format!("{other:?}"))),
    }
}

/// `DnsName("a.example")` → `a.example`: rustls lists the names a
/// certificate presents in their debug form.
fn unwrap_name(name: &str) -> &str {
    match (name.find('('), name.rfind(')')) {
        (Some(open), Some(close)) if open < close => name[open + 1..close].trim_matches('"'),
        _ => name,
    }
}

/// webpki's reasons, which reach rustls as text like `CaUsedAsEndEntity`.
fn webpki_problem(reason: &str) -> String {
    let name: String = reason
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    match name.as_str() {
        "CaUsedAsEndEntity" => {
            "it is a CA certificate, used as the server's own certificate (CA used as end entity)"
                .into()
        }
        "EndEntityUsedAsCa" => "it was issued by a certificate that is not a CA".into(),
        "NameConstraintViolation" => {
            "it names a host outside what its CA may sign for (name constraints)".into()
        }
        "UnknownIssuer" => {
            "it is signed by an unknown issuer (a CA this machine does not trust)".into()
        }
        "CertExpired" => "it has expired".into(),
        "CertNotValidYet" => "it is not valid yet (check this machine's clock)".into(),
        "CertNotValidForName" => "it is for another host name".into(),
        "RequiredEkuNotFound" | "RequiredEkuNotFoundContext" => {
            "it is not meant for identifying servers (its extended key usage)".into()
        }
        "" => format!("it failed the check: {reason}"),
        _ => format!("it failed the check: {}", words(&name)),
    }
}

/// A TLS failure that is not about the certificate, in words.
pub(crate) fn handshake_problem(error: &rustls::Error) -> String {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(certificate) => certificate_problem(certificate),
        E::AlertReceived(alert) => format!(
            "the server ended the handshake with the alert \"{}\"",
            words(&format!("{alert:?}"))
        ),
        E::PeerIncompatible(why) => format!(
            "the server and trakt-doctor share no TLS version or cipher ({})",
            words(&format!("{why:?}"))
        ),
        E::PeerMisbehaved(why) => format!(
            "the server broke the TLS protocol ({})",
            words(&format!("{why:?}"))
        ),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the server did not answer in TLS (is this an HTTPS port?)".into()
        }
        E::InappropriateHandshakeMessage { .. } => {
            "the server sent an unexpected handshake message".into()
        }
        E::NoCertificatesPresented => "the server sent no certificate".into(),
        E::NoApplicationProtocol => "the server speaks neither HTTP/2 nor HTTP/1.1 over TLS".into(),
        E::DecryptError => "the server's messages could not be decrypted".into(),
        E::General(text) => text.clone(),
        other => words(&format!("{other:?}")),
    }
}

/// `CaUsedAsEndEntity` → `ca used as end entity`: a Rust name spelled out
/// (only the leading identifier; anything after it is dropped).
pub(crate) fn words(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_') {
            break;
        }
        if c == '_' {
            out.push(' ');
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            out.push(' ');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `2026-07-30` for a Unix time.
fn date(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} (Unix time)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{CertificateError as E, OtherError};
    use rustls_pki_types::{ServerName, UnixTime};
    use std::sync::Arc;

    fn webpki(reason: &str) -> E {
        #[derive(Debug)]
        struct Reason(String);
        impl std::fmt::Display for Reason {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::error::Error for Reason {}
        E::Other(OtherError(Arc::new(Reason(reason.into()))))
    }

    #[test]
    fn each_certificate_problem_is_named_in_words() {
        let cases = [
            (E::Expired, "expired"),
            (
                E::ExpiredContext {
                    time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
                    not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                        1_700_000_000,
                    )),
                },
                "expired on 2023-11-14",
            ),
            (
                E::NotValidForNameContext {
                    expected: ServerName::try_from("api.trakt.tv").unwrap(),
                    presented: vec!["DnsName(\"not-trakt.example\")".into(), "b.example".into()],
                },
                "it is for not-trakt.example, b.example, not api.trakt.tv (wrong host name)",
            ),
            (E::UnknownIssuer, "unknown issuer"),
            (webpki("CaUsedAsEndEntity"), "CA used as end entity"),
            (webpki("NameConstraintViolation"), "name constraints"),
            (webpki("SomethingNew"), "it failed the check: something new"),
        ];
        for (error, words) in cases {
            let text = certificate_problem(&error);
            assert!(text.contains(words), "{error:?}: {text}");
            assert!(
                !text.contains("Other(") && !text.contains("Error("),
                "{text}"
            );
        }
    }

    #[test]
    fn handshake_failures_are_named_in_words() {
        let alert = handshake_problem(&rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        ));
        assert_eq!(
            alert,
            "the server ended the handshake with the alert \"handshake failure\""
        );
        let plain = handshake_problem(&rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert!(plain.contains("HTTPS port"), "{plain}");
        assert_eq!(words("CaUsedAsEndEntity"), "ca used as end entity");
        assert_eq!(words("Other(OtherError(X))"), "other");
    }
}
