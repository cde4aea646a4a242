//! Who the records are about: the account identifiers a shared report must
//! not carry (issue 31). A report is for a support thread; the Stremio
//! account's email and user id (which also forms the user's Trakt-addon URL,
//! `www.strem.io/trakt/addon/<user id>/…`) and the user's own Trakt username
//! identify a person as surely as a token does.
//!
//! They are learnt from the records themselves: Stremio's sign-in and
//! getUser answers and saveUser bodies, Trakt's `/users/settings` answer,
//! and any `email` field. Each value then becomes a placeholder wherever it
//! appears: URL, headers, bodies, findings and diagnoses.

use std::borrow::Cow;

use serde_json::Value;

use crate::exchange::Exchange;
use crate::spec::stremio::{API_HOST, SIGN_IN_CALLS};
use crate::spec::trakt::API_HOSTS;
use crate::text::host_and_path;

/// Values shorter than this are not hidden: they would match everywhere.
const SHORTEST: usize = 4;

/// The account identifiers found so far, each with its placeholder.
#[derive(Debug, Default, Clone)]
pub(crate) struct Accounts(Vec<(String, &'static str)>);

impl Accounts {
    /// Learns the identifiers one exchange shows.
    pub(crate) fn learn(&mut self, ex: &Exchange) {
        let (host, path) = host_and_path(&ex.request.url);
        let request = ex.request.body.json();
        let response = ex.response.as_ref().and_then(|r| r.body.json());
        for body in request.iter().chain(response.iter()) {
            self.emails(body);
        }
        if host == API_HOST {
            let user = match path {
                "/api/getUser" => response
                    .as_ref()
                    .and_then(|r| r.pointer("/result").cloned()),
                p if SIGN_IN_CALLS.contains(&p) => response
                    .as_ref()
                    .and_then(|r| r.pointer("/result/user").cloned()),
                "/api/saveUser" => request.clone(),
                _ => None,
            };
            if let Some(id) = user
                .as_ref()
                .and_then(|u| u.get("_id"))
                .and_then(Value::as_str)
            {
                self.add(id, "<Stremio user id>");
            }
        }
        if API_HOSTS.contains(&host.as_ref()) && path == "/users/settings" {
            for pointer in ["/user/username", "/user/ids/slug"] {
                if let Some(name) = response
                    .as_ref()
                    .and_then(|r| r.pointer(pointer))
                    .and_then(Value::as_str)
                {
                    self.add(name, "<Trakt username>");
                }
            }
        }
    }

    /// Every `email` string anywhere in `value`.
    fn emails(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match inner {
                        Value::String(email) if key.eq_ignore_ascii_case("email") => {
                            self.add(email, "<email>")
                        }
                        other => self.emails(other),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| self.emails(item)),
            _ => {}
        }
    }

    fn add(&mut self, value: &str, placeholder: &'static str) {
        let value = value.trim();
        if value.len() >= SHORTEST && !self.0.iter().any(|(v, _)| v == value) {
            self.0.push((value.to_string(), placeholder));
            // Longest first: a value inside another is replaced after it.
            self.0
                .sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every identifier replaced by its placeholder (also
    /// percent-encoded, as an email in a URL is).
    pub(crate) fn hide<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for (value, placeholder) in &self.0 {
            let encoded = crate::resend::percent_encode(value);
            for form in [value.as_str(), encoded.as_str()] {
                if out.contains(form) {
                    out = Cow::Owned(out.replace(form, placeholder));
                }
            }
        }
        out
    }

    /// Hides the identifiers in every text of `ex`.
    pub(crate) fn hide_in(&self, ex: &mut Exchange) {
        if self.is_empty() {
            return;
        }
        let edit = |text: &mut String| {
            if let Cow::Owned(done) = self.hide(text) {
                *text = done;
            }
        };
        edit(&mut ex.request.url);
        let mut bodies = vec![&mut ex.request.body];
        let mut headers = vec![&mut ex.request.headers];
        if let Some(response) = ex.response.as_mut() {
            bodies.push(&mut response.body);
            headers.push(&mut response.headers);
        }
        for headers in headers {
            headers.0.iter_mut().for_each(|(_, value)| edit(value));
        }
        for body in bodies {
            let hidden = match body.text().map(|t| self.hide(t)) {
                Some(Cow::Owned(done)) => done,
                _ => continue,
            };
            let cut = body.size.saturating_sub(body.bytes.len() as u64);
            body.size = (hidden.len() as u64).saturating_add(cut);
            body.bytes = bytes::Bytes::from(hidden);
        }
        ex.edit_prose(edit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{testing, Headers, Request};

    fn post(url: &str, body: &str, answer: &str) -> Exchange {
        let request = Request {
            method: "POST".into(),
            url: url.into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::default(),
            body: crate::exchange::Body::complete(bytes::Bytes::from(body.to_string())),
        };
        testing::answered(request, answer)
    }

    #[test]
    fn the_accounts_the_records_show_become_placeholders_everywhere() {
        let mut accounts = Accounts::default();
        accounts.learn(&post(
            "https://api.strem.io/api/login",
            r#"{"type":"Login","email":"core-test@example.com","password":"x"}"#,
            r#"{"result":{"authKey":"k","user":{"_id":"5e1f00d15ea5e0000000cafe","email":"core-test@example.com"}}}"#,
        ));
        let mut settings = post(
            "https://api.trakt.tv/users/settings",
            "",
            r#"{"user":{"username":"sean","ids":{"slug":"sean-rivera"}}}"#,
        );
        settings.request.method = "GET".into();
        accounts.learn(&settings);
        let mut addon = post(
            "https://www.strem.io/trakt/addon/5e1f00d15ea5e0000000cafe/manifest.json",
            r#"{"email":"core-test%40example.com"}"#,
            "{}",
        );
        addon
            .request
            .url
            .push_str("?u=https://api.trakt.tv/users/sean-rivera/lists");
        addon.findings.push(
            crate::lint::stremio::TOKEN_ABSENT.finding("/", "core-test@example.com has no link"),
        );
        accounts.hide_in(&mut addon);
        let all = serde_json::to_string(&addon).unwrap();
        for secret in [
            "5e1f00d15ea5e0000000cafe",
            "core-test@example.com",
            "core-test%40example.com",
            "sean-rivera",
        ] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        assert!(addon
            .request
            .url
            .contains("/trakt/addon/<Stremio user id>/manifest.json"));
        assert!(addon.request.url.contains("/users/<Trakt username>/lists"));
        assert!(all.contains("<email> has no link"));
    }

    #[test]
    fn short_values_and_other_ids_are_left_alone() {
        let mut accounts = Accounts::default();
        accounts.learn(&post(
            "https://api.strem.io/api/datastorePut",
            r#"{"changes":[{"_id":"tt0111161"}],"email":"a@b"}"#,
            "{}",
        ));
        assert!(accounts.is_empty());
    }
}
