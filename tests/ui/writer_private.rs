// Reading raw values through a hand-made property writer: the writer cannot be built outside
// trackplan, so `Value::write` and `write_properties` never run without the tracker.
fn main() {
    let (mut shared, mut first_party) = (Vec::new(), Vec::new());
    let _writer = trackplan::__private::PropertyWriter::new(&mut shared, &mut first_party);
}
