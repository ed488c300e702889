// Forging plan data with a struct literal: the info types are `#[non_exhaustive]`.
static PLAN: trackplan::info::PlanInfo = trackplan::info::PlanInfo {
    name: "forged",
    version: 1,
    label: "forged@1",
    hash: "0",
    identity: trackplan::info::IdentityTransform::None,
    purposes: &[],
    destinations: &[],
    events: &[],
};

fn main() {
    let _ = &PLAN;
}
