//! Recogniser output with arbitrary characters, confidences, positions and second choices
//! (NaN and infinities included) never panics the interpretation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veriframe_vision::mrz::{CalendarDate, OcrChar, OcrLine, interpret};

fuzz_target!(|data: &[u8]| {
    // Layout: per character 10 bytes: char, confidence (f32), x (f32), alternative char;
    // a 0xFF char byte ends a line.
    let mut lines = vec![OcrLine::default()];
    for chunk in data.chunks_exact(10) {
        if chunk[0] == 0xFF {
            lines.push(OcrLine::default());
            continue;
        }
        let ch = char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"[usize::from(chunk[0]) % 37]);
        let f = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let alt = char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"[usize::from(chunk[9]) % 37]);
        let line = lines.last_mut().expect("at least one line");
        line.text.push(ch);
        line.chars.push(OcrChar {
            ch,
            confidence: f(&chunk[1..5]),
            x: f(&chunk[5..9]),
            alternative: (chunk[9] % 2 == 0).then_some((alt, f(&chunk[1..5]) / 2.0)),
        });
    }
    let today = CalendarDate { year: 2026, month: 5, day: 1 };
    if let Ok(zone) = interpret(&lines, today) {
        assert!(zone.lines.iter().all(|l| l.len() == zone.format.line_length()));
    }
});
