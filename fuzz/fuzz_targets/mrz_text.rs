//! OCR text of any shape goes through line assembly, repair and parsing without panicking,
//! and whatever zone comes out has the shape of its format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veriframe_vision::mrz::{CalendarDate, interpret_text};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let today = CalendarDate { year: 2026, month: 5, day: 1 };
    if let Ok(zone) = interpret_text(&text, today) {
        assert_eq!(zone.lines.len(), zone.format.line_count());
        assert!(zone.lines.iter().all(|l| l.len() == zone.format.line_length()));
        let _ = zone.assess_dates(today);
        let _ = zone.score_checks(today);
    }
});
