//! Fuzzes the HAR and JSON Lines readers used by `trakt-doctor lint`:
//! any file must read or fail with an error, never panic, and replaying it
//! must not trip the inspector's guard (an `internal.*` finding).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(exchanges) = trakt_doctor::log::read::exchanges(&text) {
        let inspector = trakt_doctor::inspect::Inspector::new();
        for mut exchange in exchanges {
            inspector.replay(&mut exchange);
            if let Some(failed) = exchange
                .findings
                .iter()
                .find(|f| f.is(&trakt_doctor::lint::internal::INTERNAL))
            {
                panic!("{}", failed.message);
            }
        }
    }
});
