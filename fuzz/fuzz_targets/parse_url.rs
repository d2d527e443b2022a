//! No-panic target for the SQLAlchemy URL parser, the redactor and the target builders.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_url` (cargo-fuzz needs nightly flags).
#![no_main]

use hangar_probe::dburl::{DbUrl, redact};
use hangar_probe::target::{BrokerOverrides, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(url) = DbUrl::parse(s) {
        let _ = url.redacted();
        let _ = (url.backend(), url.driver(), url.query_value("host"));
        let _ = Target::for_database(&url).map(|t| t.describe());
    }
    let _ = redact(s);
    let _ = Target::from_url(s);
    let _ = Target::for_broker(s, &BrokerOverrides::default());
});
