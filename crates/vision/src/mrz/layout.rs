//! Per-position character classes and check-digit coverage of the five ICAO 9303 layouts.
//!
//! The `mrz` crate parses a finished zone; OCR repair needs to know, before that, which
//! characters each cell may hold and which cells each check digit covers, so that it can
//! propose look-alike substitutions only where the layout allows them.

use std::ops::Range;

use super::fields::MrzFormat;

/// What one cell of the zone may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// First character of the document code: a letter.
    DocCode,
    /// Letters or filler: the document code's second cell, country codes, names.
    Letter,
    /// A digit (check digits that are never filler).
    Digit,
    /// A digit or filler: dates (unknown parts), check digits that may be `<`.
    DigitOrFiller,
    /// Any MRZ character: document numbers, optional data.
    Alnum,
    /// The sex cell: `M`, `F`, `X` or `<`.
    Sex,
}

impl Slot {
    /// Whether `c` may appear in this cell.
    pub fn admits(self, c: char) -> bool {
        match self {
            Slot::DocCode => c.is_ascii_uppercase(),
            Slot::Letter => c.is_ascii_uppercase() || c == '<',
            Slot::Digit => c.is_ascii_digit(),
            Slot::DigitOrFiller => c.is_ascii_digit() || c == '<',
            Slot::Alnum => c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<',
            Slot::Sex => matches!(c, 'M' | 'F' | 'X' | '<'),
        }
    }

    /// Whether a filler is a normal content of this cell (names, padding).
    pub fn takes_filler(self) -> bool {
        matches!(self, Slot::Letter | Slot::DigitOrFiller | Slot::Alnum | Slot::Sex)
    }
}

/// Which kind of field a check digit guards (selects the `mrz` crate's structural rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedKind {
    /// Document number.
    DocumentNumber,
    /// `YYMMDD` date.
    Date,
    /// TD3 personal number.
    PersonalNumber,
}

/// A field with its own check digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedField {
    /// Zone line of the field and of its check digit.
    pub line: usize,
    /// Columns of the field.
    pub cells: Range<usize>,
    /// Column of its check digit.
    pub check: usize,
    /// Field kind.
    pub kind: CheckedKind,
}

/// The composite check digit: the concatenated spans it covers and its own cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composite {
    /// `(line, columns)` spans in order.
    pub spans: Vec<(usize, Range<usize>)>,
    /// `(line, column)` of the composite digit.
    pub check: (usize, usize),
}

/// Cell class of `(line, column)` in `format`; `None` outside the zone.
pub fn slot(format: MrzFormat, line: usize, col: usize) -> Option<Slot> {
    if line >= format.line_count() || col >= format.line_length() {
        return None;
    }
    use Slot::*;
    let two_line_top = |col: usize| match col {
        0 => DocCode,
        _ => Letter,
    };
    // Line 2 of TD3/TD2/MRV-A/MRV-B share everything up to the expiry check digit.
    let two_line_bottom_head = |col: usize| match col {
        0..=8 => Some(Alnum),
        9 => Some(DigitOrFiller),
        10..=12 => Some(Letter),
        13..=18 => Some(DigitOrFiller),
        19 => Some(Digit),
        20 => Some(Sex),
        21..=26 => Some(DigitOrFiller),
        27 => Some(Digit),
        _ => None,
    };
    Some(match (format, line) {
        (MrzFormat::Td1, 0) => match col {
            0 => DocCode,
            1..=4 => Letter,
            5..=13 => Alnum,
            14 => DigitOrFiller,
            _ => Alnum,
        },
        (MrzFormat::Td1, 1) => match col {
            0..=5 => DigitOrFiller,
            6 => Digit,
            7 => Sex,
            8..=13 => DigitOrFiller,
            14 => Digit,
            15..=17 => Letter,
            18..=28 => Alnum,
            _ => Digit,
        },
        (MrzFormat::Td1, _) => Letter,
        (_, 0) => two_line_top(col),
        (MrzFormat::Td3, _) => two_line_bottom_head(col).unwrap_or(match col {
            42 => DigitOrFiller,
            43 => Digit,
            _ => Alnum,
        }),
        (MrzFormat::Td2, _) => two_line_bottom_head(col).unwrap_or(match col {
            35 => Digit,
            _ => Alnum,
        }),
        (_, _) => two_line_bottom_head(col).unwrap_or(Alnum),
    })
}

/// Country-code cells as `(line, columns)`: issuing state, then nationality.
pub fn country_fields(format: MrzFormat) -> [(usize, Range<usize>); 2] {
    match format {
        MrzFormat::Td1 => [(0, 2..5), (1, 15..18)],
        _ => [(0, 2..5), (1, 10..13)],
    }
}

/// Name cells as `(line, columns)`.
pub fn name_field(format: MrzFormat) -> (usize, Range<usize>) {
    match format {
        MrzFormat::Td1 => (2, 0..30),
        f => (0, 5..f.line_length()),
    }
}

/// Fields with their own check digit.
pub fn checked_fields(format: MrzFormat) -> Vec<CheckedField> {
    let field = |line, cells, check, kind| CheckedField { line, cells, check, kind };
    match format {
        MrzFormat::Td1 => vec![
            field(0, 5..14, 14, CheckedKind::DocumentNumber),
            field(1, 0..6, 6, CheckedKind::Date),
            field(1, 8..14, 14, CheckedKind::Date),
        ],
        _ => {
            let mut v = vec![
                field(1, 0..9, 9, CheckedKind::DocumentNumber),
                field(1, 13..19, 19, CheckedKind::Date),
                field(1, 21..27, 27, CheckedKind::Date),
            ];
            if format == MrzFormat::Td3 {
                v.push(field(1, 28..42, 42, CheckedKind::PersonalNumber));
            }
            v
        }
    }
}

/// The composite check digit, where the format prints one.
pub fn composite(format: MrzFormat) -> Option<Composite> {
    match format {
        MrzFormat::Td3 => Some(Composite { spans: vec![(1, 0..10), (1, 13..20), (1, 21..43)], check: (1, 43) }),
        MrzFormat::Td2 => Some(Composite { spans: vec![(1, 0..10), (1, 13..20), (1, 21..35)], check: (1, 35) }),
        MrzFormat::Td1 => {
            Some(Composite { spans: vec![(0, 5..30), (1, 0..7), (1, 8..15), (1, 18..29)], check: (1, 29) })
        }
        MrzFormat::MrvA | MrzFormat::MrvB => None,
    }
}

/// Document codes (first cell) that select a format.
pub fn formats_for_code(first: char) -> &'static [MrzFormat] {
    match first {
        'P' => &[MrzFormat::Td3],
        'V' => &[MrzFormat::MrvA, MrzFormat::MrvB],
        'I' | 'A' | 'C' => &[MrzFormat::Td2, MrzFormat::Td1],
        _ => &MrzFormat::ALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every cell of a real zone is admitted by its slot, for every format.
    #[test]
    fn specimens_fit_their_slots() {
        let zones: [(MrzFormat, &[&str]); 5] = [
            (
                MrzFormat::Td3,
                &["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"],
            ),
            (MrzFormat::Td2, &["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"]),
            (
                MrzFormat::Td1,
                &["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"],
            ),
            (
                MrzFormat::MrvA,
                &["V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L8988901C4XXX4009078F96121096ZE184226B<<<<<<"],
            ),
            (MrzFormat::MrvB, &["V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "L8988901C4XXX4009078F9612109<<<<<<<<"]),
        ];
        for (format, lines) in zones {
            assert_eq!(lines.len(), format.line_count());
            for (l, line) in lines.iter().enumerate() {
                assert_eq!(line.len(), format.line_length());
                for (c, ch) in line.chars().enumerate() {
                    let s = slot(format, l, c).unwrap();
                    assert!(s.admits(ch), "{format} line {l} col {c} {ch:?} {s:?}");
                }
            }
            for f in checked_fields(format) {
                let line = lines[f.line];
                assert!(mrz::verify(&line[f.cells.clone()], line.as_bytes()[f.check] as char));
            }
            if let Some(comp) = composite(format) {
                let text: String = comp.spans.iter().map(|(l, r)| &lines[*l][r.clone()]).collect();
                let digit = lines[comp.check.0].as_bytes()[comp.check.1] as char;
                assert!(mrz::verify(&text, digit), "{format} composite");
            }
        }
        assert_eq!(slot(MrzFormat::Td3, 2, 0), None);
        assert_eq!(slot(MrzFormat::Td1, 0, 30), None);
    }
}
