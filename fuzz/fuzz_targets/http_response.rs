//! HTTP responses: `Retry-After` values, and Mixpanel `/import` answers (status and body) to a
//! request of a few events. Parsing never panics, and the failed records a body names are
//! always events of the request.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use trackplan_runtime::__fuzz;

trackplan::plan!("plans/mixpanel.toml");

/// Ids as the runtime makes them, and some it would not.
const IDS: &[&str] = &[
    "0d1f8c2e-6d2a-4f4e-9b7a-3c1e2f4a5b6c",
    "a",
    "",
    "$insert_id",
    "0d1f8c2e-6d2a-4f4e-9b7a-3c1e2f4a5b6d",
];

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(header) = <&str>::arbitrary(&mut u) else {
        return;
    };
    let now = u.arbitrary::<u64>().unwrap_or(0);
    let after = __fuzz::retry_after(header, now);
    let status = u.arbitrary::<u16>().unwrap_or(400);
    __fuzz::segment_batch(status, after);
    let count = u.choose_index(IDS.len() + 1).unwrap_or(0);
    let body = u.take_rest();
    for (n, status) in [(count, status), (count, 400)] {
        let failed = __fuzz::mixpanel_import(&PLAN, status, body, &IDS[..n]);
        assert!(failed.iter().all(|&i| i < n), "{failed:?} of {n} events");
    }
});
