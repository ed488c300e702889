// A custom sink must say what it is (in process, or which plan kind it delivers and to whom),
// so the tracker builder can refuse it for a destination the plan keeps first party.
use trackplan::{Envelope, Outcome, Sink};

struct Collector;

impl Sink for Collector {
    fn deliver(&mut self, _batch: &[Envelope]) -> Outcome {
        Outcome::Delivered
    }
}

fn main() {}
