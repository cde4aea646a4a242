//! HTTP Basic credentials, as `--proxy-auth` requires them from proxy
//! clients and from readers of the web view, and the constant-time
//! comparison of secrets (also the web view's token and unlock secret).

/// Whether an `Authorization` or `Proxy-Authorization` value is `Basic`
/// with exactly the `user:password` credentials `expected`.
pub(crate) fn basic_credentials_match(value: Option<&str>, expected: &str) -> bool {
    use base64::Engine as _;
    let given = value
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        });
    given.is_some_and(|g| same_secret(&g, expected.as_bytes()))
}

/// Whether `given` equals `expected`, compared without an early exit, so
/// timing does not reveal a matching prefix (only the length may show).
pub(crate) fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
