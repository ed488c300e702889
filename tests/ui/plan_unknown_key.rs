// Code written for the plan as meant: only the plan's errors show, no type errors here.
trackplan::plan!("tests/ui/plans/unknown_key.toml");

fn main() {
    let tracker = trackplan::Tracker::builder(&PLAN).build().unwrap();
    tracker
        .subject("user-1", trackplan::Consent::none())
        .track(Signup {
            newsletter: true,
            email: trackplan::Personal::new("alice@example.com".to_owned()),
        });
}
