//! Mixpanel's GDPR API allows one request per second per project: the pacing holds across
//! every Mixpanel sink of the process (two trackers, or two sinks of one project), not per sink
//! instance.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;
mod support;

use std::time::Duration;
use support::server::TestServer;
use trackplan_runtime::sinks::Mixpanel;

const TOKEN: &str = "fedcba9876543210fedcba9876543210";

fn sink(server: &TestServer) -> Mixpanel {
    Mixpanel::new(TOKEN)
        .base_url(server.url())
        .gdpr_api_token("gdpr-oauth-token")
        .timeout(Duration::from_secs(5))
}

#[test]
fn two_sinks_of_one_project_share_its_pacing() {
    let server = TestServer::mixpanel(TOKEN);
    let (mut first, mut second) = (sink(&server), sink(&server));
    first.request_deletion(&["d1"]).expect("accepted");
    second.request_deletion(&["d2"]).expect("accepted");
    first.request_retrieval(&["d3"]).expect("accepted");
    // The stand-in flags two GDPR API requests less than a second apart.
    server.assert_no_violations();
    assert_eq!(server.seen().len(), 3);
}
