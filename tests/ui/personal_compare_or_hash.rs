// A wrapped personal value cannot be compared, ordered or hashed: each would hand the raw value
// to code of the caller's choosing (a spy `Hasher`, `== guess` in a loop).
use std::collections::HashSet;

use trackplan::Personal;

fn main() {
    let email = Personal::new("alice@example.com".to_owned());
    let _ = email == Personal::new("bob@example.com".to_owned());
    let _ = email < Personal::new("bob@example.com".to_owned());
    let mut seen = HashSet::new();
    seen.insert(email);
}
