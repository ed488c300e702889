//! Spool records: any bytes as a segment's contents. Decoding stops at the first torn or
//! corrupt record and never panics; the records it reads lie within the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trackplan_runtime::__fuzz;

fuzz_target!(|data: &[u8]| {
    let (records, taken) = __fuzz::spool_records(data);
    assert!(
        taken <= data.len(),
        "{records} records take {taken} of {} bytes",
        data.len()
    );
    assert!(
        records == 0 || taken >= records * 11,
        "{records} records in {taken} bytes"
    );
});
