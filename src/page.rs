//! The browser page (`page/`, see docs/browser.md) embedded in the binary:
//! `trakt-doctor open` serves it, and the live web view serves it under
//! [`PREFIX`]. The files are the committed ones (page/pkg/ is built by
//! tools/build-page), so building trakt-doctor needs no wasm tools.

/// Where the live web view serves the page.
pub(crate) const PREFIX: &str = "/page/";

/// The web view's stylesheet and rendering code, shared with the page.
pub(crate) const APP_CSS: &str = include_str!("../page/app.css");
pub(crate) const RENDER_JS: &str = include_str!("../page/render.js");

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the page: its path under the page's root, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../page/index.html"),
    ),
    ("app.js", JS, include_bytes!("../page/app.js")),
    ("render.js", JS, include_bytes!("../page/render.js")),
    ("worker.js", JS, include_bytes!("../page/worker.js")),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../page/app.css"),
    ),
    (
        "page.css",
        "text/css; charset=utf-8",
        include_bytes!("../page/page.css"),
    ),
    (
        "pkg/trakt_doctor_wasm.js",
        JS,
        include_bytes!("../page/pkg/trakt_doctor_wasm.js"),
    ),
    (
        "pkg/trakt_doctor_wasm_bg.wasm",
        "application/wasm",
        include_bytes!("../page/pkg/trakt_doctor_wasm_bg.wasm"),
    ),
];

/// The page's file at `path` (relative to its root; `""` is the index):
/// its content type and bytes.
pub(crate) fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    let path = if path.is_empty() { "index.html" } else { path };
    FILES
        .iter()
        .find(|(name, _, _)| *name == path)
        .map(|(_, kind, bytes)| (*kind, *bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_found_with_its_type_and_nothing_else() {
        assert_eq!(
            file("").map(|(kind, _)| kind),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(
            file("pkg/trakt_doctor_wasm_bg.wasm").map(|(kind, bytes)| (kind, &bytes[..4])),
            Some(("application/wasm", &b"\0asm"[..]))
        );
        assert!(file("../Cargo.toml").is_none());
        assert!(file("pkg/SOURCE-HASH").is_none());
    }
}
