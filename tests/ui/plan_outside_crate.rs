// A plan path must stay inside the crate's workspace, and name a TOML file: the compiler shows
// the lines of a plan that does not parse, so nothing else may be read.
mod climbs_out {
    trackplan::plan!("../../../../../../../../../../etc/shop.toml");
}

mod not_a_plan {
    trackplan::plan!("../../../../../../../../../../etc/hostname");
}

fn main() {}
