//! Property tests of the OCR-text-to-fields path (no models): zones emitted by the `mrz`
//! crate come back exactly, typical OCR damage is undone, and no input panics.

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use veriframe_vision::mrz::{CalendarDate, MrzFormat, OcrChar, OcrLine, RepairReason, interpret, interpret_text};

use veriframe_synth::document::{self as support, Layout};

const TODAY: CalendarDate = CalendarDate { year: 2026, month: 5, day: 1 };

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![Just(Layout::Td3), Just(Layout::Td2), Just(Layout::Td1), Just(Layout::MrvA), Just(Layout::MrvB),]
}

fn zone(seed: u64, layout: Layout) -> Vec<String> {
    support::random_zone(&mut StdRng::seed_from_u64(seed), layout)
}

fn format_of(layout: Layout) -> MrzFormat {
    match layout {
        Layout::Td3 => MrzFormat::Td3,
        Layout::Td2 => MrzFormat::Td2,
        Layout::Td1 => MrzFormat::Td1,
        Layout::MrvA => MrzFormat::MrvA,
        Layout::MrvB => MrzFormat::MrvB,
    }
}

/// Zone line holding the name, whose trailing fillers nothing checks.
fn name_line(layout: Layout) -> usize {
    if layout == Layout::Td1 { 2 } else { 0 }
}

/// Columns of `line` that hold a date or a check digit (digits only).
fn digit_columns(layout: Layout, line: usize) -> Vec<usize> {
    match (layout, line) {
        (Layout::Td1, 1) => (0..7).chain(8..15).collect(),
        (Layout::Td1, _) => Vec::new(),
        (_, 1) => (13..20).chain(21..28).collect(),
        _ => Vec::new(),
    }
}

fn digit_lookalike(c: char) -> Option<char> {
    Some(match c {
        '0' => 'O',
        '1' => 'I',
        '2' => 'Z',
        '5' => 'S',
        '8' => 'B',
        _ => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn emitted_zones_come_back_exactly(seed in any::<u64>(), layout in layout()) {
        let lines = zone(seed, layout);
        let read = interpret_text(&lines.join("\n"), TODAY).unwrap();
        prop_assert_eq!(read.format, format_of(layout));
        prop_assert_eq!(&read.lines, &lines);
        prop_assert!(read.check_digits.all_valid());
        prop_assert!(read.repairs.is_empty(), "{:?}", read.repairs);
        prop_assert!(read.line_format_ok);
        prop_assert_eq!(read.check_digits_as_read, Some(read.check_digits));
    }

    #[test]
    fn collapsed_trailing_fillers_are_restored(seed in any::<u64>(), layout in layout(), cut in 1usize..12) {
        let lines = zone(seed, layout);
        let n = name_line(layout);
        let trailing = lines[n].len() - lines[n].trim_end_matches('<').len();
        // Keep at least one filler so that the end of the name is still visible.
        prop_assume!(trailing > cut);
        // Shorter than that, a line is indistinguishable from visual-zone text.
        prop_assume!(lines[n].len() - cut >= 12);
        let mut damaged = lines.clone();
        damaged[n].truncate(lines[n].len() - cut);
        let read = interpret_text(&damaged.join("\n"), TODAY).unwrap();
        prop_assert_eq!(&read.lines, &lines);
        prop_assert_eq!(
            read.repairs.iter().filter(|r| r.reason == RepairReason::FillerRestored).count(),
            cut
        );
    }

    #[test]
    fn letters_read_in_digit_cells_are_put_back(seed in any::<u64>(), layout in layout(), pick in any::<prop::sample::Index>()) {
        let lines = zone(seed, layout);
        let line = 1;
        let candidates: Vec<usize> = digit_columns(layout, line)
            .into_iter()
            .filter(|&c| digit_lookalike(lines[line].as_bytes()[c] as char).is_some())
            .collect();
        prop_assume!(!candidates.is_empty());
        let col = candidates[pick.index(candidates.len())];
        let mut damaged = lines.clone();
        let letter = digit_lookalike(lines[line].as_bytes()[col] as char).unwrap();
        damaged[line].replace_range(col..=col, &letter.to_string());
        let read = interpret_text(&damaged.join("\n"), TODAY).unwrap();
        prop_assert_eq!(&read.lines, &lines);
        prop_assert!(read.check_digits.all_valid());
        prop_assert_eq!(read.repairs.len(), 1);
        prop_assert_eq!(read.repairs[0].reason, RepairReason::CharacterClass);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[A-Z0-9<KO \\n«a-z.,-]{0,200}") {
        if let Ok(zone) = interpret_text(&text, TODAY) {
            prop_assert_eq!(zone.lines.len(), zone.format.line_count());
            prop_assert!(zone.lines.iter().all(|l| l.len() == zone.format.line_length()));
            prop_assert!(zone.confidence.is_finite());
        }
    }

    #[test]
    fn arbitrary_recogniser_evidence_never_panics(
        lines in prop::collection::vec(
            prop::collection::vec(
                (prop::sample::select(b"ABKO0158<".to_vec()), any::<f32>(), any::<f32>(), any::<Option<(u8, f32)>>()),
                0..50,
            ),
            0..5,
        )
    ) {
        let ocr: Vec<OcrLine> = lines
            .into_iter()
            .map(|chars| OcrLine {
                text: chars.iter().map(|c| c.0 as char).collect(),
                chars: chars
                    .iter()
                    .map(|&(ch, confidence, x, alt)| OcrChar {
                        ch: ch as char,
                        confidence,
                        x,
                        alternative: alt.map(|(a, p)| ((b'0' + a % 75) as char, p)),
                    })
                    .collect(),
            })
            .collect();
        if let Ok(zone) = interpret(&ocr, TODAY) {
            prop_assert!(zone.lines.iter().all(|l| l.len() == zone.format.line_length()));
        }
    }
}
