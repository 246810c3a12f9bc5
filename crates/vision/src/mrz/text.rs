//! From recognised lines to a parsed zone.
//!
//! OCR text is close to an MRZ but rarely exactly one: filler runs collapse (`<<<<` read as
//! `<<`), look-alikes swap (`O`/`0`, `B`/`8`), and the recogniser may pick up a line of the
//! visual zone above the MRZ. This module turns candidate lines into zone lines of the exact
//! length, proposes substitutions where the layout or the model's own second choice suggests
//! them, lets the check digits (verified with the `mrz` crate) choose among them, and hands the
//! result to the crate's parser. Nothing here parses fields itself.

use std::collections::HashSet;

use super::fields::{CalendarDate, CheckDigits, MrzDate, MrzFields, MrzFormat, MrzZone, Repair, RepairReason};
use super::layout::{
    CheckedField, CheckedKind, Slot, checked_fields, composite, country_fields, formats_for_code, name_field, slot,
};
use super::recognize::OcrLine;

/// Why no zone came out of the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpretError {
    /// No line is long enough to be part of an MRZ.
    #[error("no MRZ-like line in the text")]
    NoCandidateLines,
    /// Lines were found but no format's parser accepted them.
    #[error("MRZ-like lines found but none could be parsed as a zone")]
    Unparsable,
}

/// Most candidate lines considered (the bottom-most ones; the MRZ ends a document).
const MAX_LINES: usize = 6;
/// Most restorations kept per line.
const MAX_RESTORATIONS: usize = 6;
/// Most per-field readings carried into the composite search.
const MAX_FIELD_READINGS: usize = 4;
/// Most total cost of the substitutions accepted for one check digit; beyond it the field is
/// left as read (and its check digit fails).
const MAX_FIELD_REPAIR_COST: f32 = 4.0;
/// Candidate characters for a cell with their costs, the read character first.
type Options = Vec<(char, f32)>;
/// Readings of one checked field (its cells then its check digit) with their costs.
type Readings = Vec<(Vec<char>, f32)>;
/// `(line, column)` of a cell.
type CellAt = (usize, usize);

/// Character used internally for a cell whose content is unknown.
const UNKNOWN: char = '?';

/// A line after normalisation, with per-character evidence when the recogniser gave it.
#[derive(Debug, Clone)]
struct ReadLine {
    chars: Vec<char>,
    conf: Vec<f32>,
    x: Vec<f32>,
    alt: Vec<Option<(char, f32)>>,
    has_geometry: bool,
}

/// One cell of a zone line under construction.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    ch: char,
    /// Character the recogniser emitted here (`None` when the cell was inserted).
    read: Option<char>,
    conf: f32,
    alt: Option<(char, f32)>,
}

impl Cell {
    fn inserted(ch: char) -> Self {
        Self { ch, read: None, conf: 0.0, alt: None }
    }
}

/// A zone line of the exact length, how it was obtained and what that assumed.
#[derive(Debug, Clone)]
struct Restored {
    cells: Vec<Cell>,
    cost: f32,
    /// Characters dropped to fit the length: `(column of the next cell, char)`.
    dropped: Vec<(usize, char)>,
}

/// The best interpretation found so far, with its ranking.
#[derive(Debug, Clone)]
struct Scored {
    zone: MrzZone,
    rank: (bool, usize, bool, i64),
}

/// Interprets recognised lines (top to bottom) as an MRZ.
///
/// Tries every run of 2 or 3 consecutive candidate lines against the formats their first
/// character allows, restores each line to the format's length, repairs it under the
/// check digits, parses it with the `mrz` crate, and keeps the reading with the most
/// verified check digits (then the fewest and cheapest repairs). `today` resolves two-digit
/// years.
pub fn interpret(lines: &[OcrLine], today: CalendarDate) -> Result<MrzZone, InterpretError> {
    let mut read: Vec<ReadLine> =
        lines.iter().map(normalise).filter(|l| l.chars.len() >= 12 && l.chars.len() <= 52).collect();
    if read.is_empty() {
        return Err(InterpretError::NoCandidateLines);
    }
    if read.len() > MAX_LINES {
        read.drain(..read.len() - MAX_LINES);
    }
    let mut best: Option<Scored> = None;
    for count in [2usize, 3] {
        if read.len() < count {
            continue;
        }
        for start in 0..=read.len() - count {
            let window = &read[start..start + count];
            for &format in &MrzFormat::ALL {
                if format.line_count() != count || !plausible(window, format) {
                    continue;
                }
                if let Some(scored) = evaluate(window, format, today) {
                    // Later windows are lower on the page: prefer them on equal rank.
                    if best.as_ref().is_none_or(|b| scored.rank >= b.rank) {
                        best = Some(scored);
                    }
                }
            }
            if let Some(scored) = crate_reading(window, today)
                && best.as_ref().is_none_or(|b| scored.rank > b.rank)
            {
                best = Some(scored);
            }
        }
    }
    best.map(|b| b.zone).ok_or(InterpretError::Unparsable)
}

/// Interprets plain text lines (no recogniser evidence), e.g. typed or from another OCR.
pub fn interpret_text(text: &str, today: CalendarDate) -> Result<MrzZone, InterpretError> {
    let lines: Vec<OcrLine> = text.lines().map(OcrLine::from_text).collect();
    interpret(&lines, today)
}

/// Upper-cases, maps filler look-alikes to `<`, and drops everything outside the alphabet.
fn normalise(line: &OcrLine) -> ReadLine {
    let evidence = line.chars.len() == line.text.chars().count() && !line.chars.is_empty();
    let mut out =
        ReadLine { chars: Vec::new(), conf: Vec::new(), x: Vec::new(), alt: Vec::new(), has_geometry: evidence };
    for (i, c) in line.text.chars().enumerate() {
        let c = match c {
            '«' | '‹' | '〈' | '＜' => '<',
            c => c.to_ascii_uppercase(),
        };
        if !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<') {
            continue;
        }
        out.chars.push(c);
        if evidence {
            let e = &line.chars[i];
            out.conf.push(if e.confidence.is_finite() { e.confidence.clamp(0.0, 1.0) } else { 0.0 });
            out.x.push(if e.x.is_finite() { e.x } else { 0.0 });
            out.alt.push(e.alternative.filter(|(a, p)| *a != c && p.is_finite()));
        } else {
            // Typed or foreign text carries no doubt to weigh: it is taken as written.
            out.conf.push(1.0);
            out.x.push(0.0);
            out.alt.push(None);
        }
    }
    out
}

/// Whether the window's line lengths and document code fit `format`.
fn plausible(window: &[ReadLine], format: MrzFormat) -> bool {
    let len = format.line_length();
    if !window.iter().all(|l| l.chars.len() + 16 >= len && l.chars.len() <= len + 4) {
        return false;
    }
    let first = window[0].chars[0];
    let first = letter_for_digit(first).unwrap_or(first);
    formats_for_code(first).contains(&format)
}

/// Restores, repairs and parses one window as `format`.
fn evaluate(window: &[ReadLine], format: MrzFormat, today: CalendarDate) -> Option<Scored> {
    let per_line: Vec<Vec<Restored>> = window.iter().enumerate().map(|(i, l)| restorations(l, format, i)).collect();
    if per_line.iter().any(Vec::is_empty) {
        return None;
    }
    let mut best: Option<Scored> = None;
    let mut combo = vec![0usize; per_line.len()];
    loop {
        let lines: Vec<&Restored> = combo.iter().enumerate().map(|(i, &k)| &per_line[i][k]).collect();
        if let Some(scored) = repair_and_parse(&lines, format, today) {
            let settled = scored.rank.0 && scored.rank.3 > -500;
            if best.as_ref().is_none_or(|b| scored.rank > b.rank) {
                best = Some(scored);
            }
            // Every check digit agrees at almost no repair cost: later (costlier) line
            // restorations cannot do better.
            if settled {
                return best;
            }
        }
        // next combination (odometer)
        let mut i = 0;
        loop {
            if i == combo.len() {
                return best;
            }
            combo[i] += 1;
            if combo[i] < per_line[i].len() {
                break;
            }
            combo[i] = 0;
            i += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Length restoration
// ---------------------------------------------------------------------------------------

/// Candidate zone lines of exactly the format's length for one read line, cheapest first.
fn restorations(line: &ReadLine, format: MrzFormat, index: usize) -> Vec<Restored> {
    let len = format.line_length();
    // No MRZ line starts with a filler: a leading `<` means the first glyph was lost (the
    // detector's box clipped it). Put an unknown cell in front of it.
    let clipped;
    let line = if line.chars.first() == Some(&'<') {
        clipped = with_lost_first(line);
        &clipped
    } else {
        line
    };
    let mut out: Vec<Restored> = Vec::new();
    if line.has_geometry
        && let Some(r) = by_geometry(line, format, index)
    {
        out.push(r);
    }
    // Where the recogniser placed the characters, that placement beats guessing which
    // filler run lost the missing cells.
    let text_penalty = if out.is_empty() { 0.0 } else { 1.0 };
    for mut r in by_text(line, format, index, len) {
        r.cost += text_penalty;
        out.push(r);
    }
    let mut seen = HashSet::new();
    out.retain(|r| seen.insert(r.cells.iter().map(|c| c.ch).collect::<String>()));
    out.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    out.truncate(MAX_RESTORATIONS);
    out
}

/// `line` with an unknown cell in front, one pitch to the left of the first character.
fn with_lost_first(line: &ReadLine) -> ReadLine {
    let mut diffs: Vec<f32> = line.x.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0.0).collect();
    diffs.sort_by(f32::total_cmp);
    let pitch = diffs.get(diffs.len() / 2).copied().unwrap_or(0.0);
    let mut out = line.clone();
    out.chars.insert(0, UNKNOWN);
    out.conf.insert(0, 0.0);
    out.x.insert(0, line.x.first().copied().unwrap_or(0.0) - pitch);
    out.alt.insert(0, None);
    out
}

fn cell_of(line: &ReadLine, k: usize) -> Cell {
    if line.chars[k] == UNKNOWN {
        return Cell::inserted(UNKNOWN);
    }
    Cell { ch: line.chars[k], read: Some(line.chars[k]), conf: line.conf[k], alt: line.alt[k] }
}

/// Places characters in columns from their horizontal positions.
///
/// The MRZ font is monospaced, so a character's position in the crop tells its column once
/// the pitch is known. The pitch comes from the median spacing of neighbours, refined by a
/// least-squares fit; a gap of several pitches is a collapsed filler run (or a lost
/// character) and is filled accordingly.
fn by_geometry(line: &ReadLine, format: MrzFormat, index: usize) -> Option<Restored> {
    let n = line.chars.len();
    let len = format.line_length();
    if n < 10 {
        return None;
    }
    let mut diffs: Vec<f32> = line.x.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0.0).collect();
    if diffs.len() < 5 {
        return None;
    }
    diffs.sort_by(f32::total_cmp);
    let mut pitch = diffs[diffs.len() / 2];
    if !(pitch.is_finite() && pitch > 0.0) {
        return None;
    }
    let mut offset = line.x[0];
    let mut cols = vec![0usize; n];
    for _ in 0..3 {
        let mut prev: Option<usize> = None;
        for (col, &x) in cols.iter_mut().zip(&line.x) {
            let c = ((x - offset) / pitch).round();
            // A column far outside the line means the positions are nonsense.
            if !(c.is_finite() && c < (4 * len) as f32) {
                return None;
            }
            let mut c = if c > 0.0 { c as usize } else { 0 };
            if let Some(p) = prev
                && c <= p
            {
                c = p + 1;
            }
            *col = c;
            prev = Some(c);
        }
        // Least-squares fit of x = offset + pitch * column.
        let (mut sc, mut sx, mut scc, mut scx) = (0f64, 0f64, 0f64, 0f64);
        for (&col, &x) in cols.iter().zip(&line.x) {
            let (c, x) = (col as f64, f64::from(x));
            sc += c;
            sx += x;
            scc += c * c;
            scx += c * x;
        }
        let nn = n as f64;
        let den = nn * scc - sc * sc;
        if den.abs() < 1e-9 {
            return None;
        }
        let p = (nn * scx - sc * sx) / den;
        let o = (sx - p * sc) / nn;
        if !(p.is_finite() && p > 0.0) {
            return None;
        }
        pitch = p as f32;
        offset = o as f32;
    }
    // The first character is the first column (no MRZ line starts with a filler).
    let shift = cols[0];
    let last = cols[n - 1] - shift;
    if last >= len {
        return None;
    }
    let mut cells: Vec<Cell> = Vec::with_capacity(len);
    let mut cost = 0.0;
    for (k, &at) in cols.iter().enumerate() {
        let col = at - shift;
        if k > 0 {
            let gap_from = cells.len();
            let prev_filler = filler_like(line, k - 1);
            let next_filler = filler_like(line, k);
            for c in gap_from..col {
                let filler = (prev_filler || next_filler) && slot(format, index, c).is_some_and(Slot::takes_filler);
                cells.push(Cell::inserted(if filler { '<' } else { UNKNOWN }));
                // A gap between glyphs is evidence of a lost glyph: cheaper than pretending
                // the cells went missing in some filler run.
                cost += if filler { 0.02 } else { 0.3 };
            }
        }
        cells.push(cell_of(line, k));
    }
    // Trailing cells the recogniser never reached.
    let last_filler = filler_like(line, n - 1);
    while cells.len() < len {
        let c = cells.len();
        let filler = slot(format, index, c).is_some_and(Slot::takes_filler)
            && (last_filler || matches!(slot(format, index, c), Some(Slot::Letter)));
        cells.push(Cell::inserted(if filler { '<' } else { UNKNOWN }));
        cost += if filler { 0.01 } else { 0.3 };
    }
    Some(Restored { cells, cost, dropped: Vec::new() })
}

/// A filler, or a `K` whose second choice was a filler (see [`fix_filler_lookalikes`]).
fn filler_like(line: &ReadLine, k: usize) -> bool {
    line.chars[k] == '<' || line.chars[k] == 'K' && line.alt[k].is_some_and(|(a, _)| a == '<')
}

/// Text-only restorations: grow or shrink filler runs, pad or trim the end, or mark one or
/// two characters as unknown for the check digits to solve.
fn by_text(line: &ReadLine, format: MrzFormat, index: usize, len: usize) -> Vec<Restored> {
    let n = line.chars.len();
    let cells: Vec<Cell> = (0..n).map(|k| cell_of(line, k)).collect();
    let runs = filler_runs(&line.chars);
    let mut out = Vec::new();
    let from_parts = |cells: Vec<Cell>, cost: f32, dropped: Vec<(usize, char)>| Restored { cells, cost, dropped };
    match n.cmp(&len) {
        std::cmp::Ordering::Equal => out.push(from_parts(cells, 0.0, Vec::new())),
        std::cmp::Ordering::Less => {
            let d = len - n;
            // One run absorbs the whole deficit; the last run (name padding) first.
            for (rank, &(start, run_len)) in runs.iter().rev().enumerate() {
                let mut v = cells.clone();
                let at = start + run_len;
                for _ in 0..d {
                    v.insert(at, Cell::inserted('<'));
                }
                out.push(from_parts(v, 0.2 + 0.05 * rank as f32, Vec::new()));
            }
            // Two runs share it.
            if d >= 2 && runs.len() >= 2 {
                let mut pairs = 0;
                'pairs: for i in 0..runs.len() {
                    for j in i + 1..runs.len() {
                        for k in 1..d {
                            pairs += 1;
                            if pairs > 24 {
                                break 'pairs;
                            }
                            let mut v = cells.clone();
                            let (si, li) = runs[i];
                            let (sj, lj) = runs[j];
                            for _ in 0..(d - k) {
                                v.insert(sj + lj, Cell::inserted('<'));
                            }
                            for _ in 0..k {
                                v.insert(si + li, Cell::inserted('<'));
                            }
                            out.push(from_parts(v, 0.6, Vec::new()));
                        }
                    }
                }
            }
            // Padding at the end: names are left-aligned, so their trailing fillers are the
            // likeliest to be lost.
            let mut v = cells.clone();
            let filler = (n..len).all(|c| slot(format, index, c).is_some_and(Slot::takes_filler));
            for _ in 0..d {
                v.push(Cell::inserted(if filler { '<' } else { UNKNOWN }));
            }
            out.push(from_parts(v, if filler { 0.15 } else { 1.5 }, Vec::new()));
            // Unknown characters anywhere (a glyph the recogniser skipped).
            if d <= 2 {
                for at in 0..=n {
                    let mut v = cells.clone();
                    for _ in 0..d {
                        v.insert(at, Cell::inserted(UNKNOWN));
                    }
                    out.push(from_parts(v, 1.2 * d as f32, Vec::new()));
                }
            }
        }
        std::cmp::Ordering::Greater => {
            let e = n - len;
            for &(start, run_len) in runs.iter().rev() {
                if run_len > e {
                    let mut v = cells.clone();
                    let dropped = v.drain(start..start + e).map(|c| (start, c.ch)).collect();
                    out.push(from_parts(v, 0.3, dropped));
                }
            }
            let mut v = cells.clone();
            let dropped = v.drain(len..).map(|c| (len, c.ch)).collect();
            out.push(from_parts(v, 1.0, dropped));
            if e == 1 {
                for at in 0..n {
                    let mut v = cells.clone();
                    let c = v.remove(at);
                    out.push(from_parts(v, 1.3, vec![(at, c.ch)]));
                }
            }
        }
    }
    out
}

/// `(start, length)` of each maximal `<` run.
fn filler_runs(chars: &[char]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '<' {
            let start = i;
            while i < chars.len() && chars[i] == '<' {
                i += 1;
            }
            runs.push((start, i - start));
        } else {
            i += 1;
        }
    }
    runs
}

// ---------------------------------------------------------------------------------------
// Character repair
// ---------------------------------------------------------------------------------------

/// Digit a letter is commonly misread for.
fn digit_for_letter(c: char) -> Option<char> {
    Some(match c {
        'O' | 'D' | 'Q' | 'U' => '0',
        'I' | 'L' | 'J' => '1',
        'Z' => '2',
        'A' => '4',
        'S' => '5',
        'G' | 'b' => '6',
        'T' => '7',
        'B' => '8',
        'g' => '9',
        _ => return None,
    })
}

/// Letter a digit is commonly misread for.
fn letter_for_digit(c: char) -> Option<char> {
    Some(match c {
        '0' => 'O',
        '1' => 'I',
        '2' => 'Z',
        '4' => 'A',
        '5' => 'S',
        '6' => 'G',
        '7' => 'T',
        '8' => 'B',
        _ => return None,
    })
}

/// Look-alike alternatives for `c` within an alphanumeric or digit field, both directions,
/// from the `mrz` crate's table plus a few OCR-B specifics.
fn lookalikes(c: char) -> Vec<char> {
    let mut v: Vec<char> = Vec::new();
    for &(key, group) in mrz::CONFUSABLES {
        if key == c {
            v.extend(group.chars());
        } else if group.contains(c) {
            v.push(key);
        }
    }
    let extra: &[(char, &str)] = &[('8', "3"), ('3', "8"), ('5', "6"), ('6', "5"), ('0', "U"), ('<', "K"), ('K', "<")];
    for &(key, group) in extra {
        if key == c {
            v.extend(group.chars());
        }
    }
    v.sort_unstable();
    v.dedup();
    v.retain(|a| *a != c);
    v
}

/// Letter look-alikes for country codes.
fn letter_lookalikes(c: char) -> &'static str {
    match c {
        'O' => "DQCG0",
        'D' => "O0",
        'Q' => "O",
        'C' => "OG",
        'G' => "CO6",
        'I' => "LJT1",
        'L' => "I1",
        'J' => "I",
        'T' => "I",
        'E' => "FB",
        'F' => "EP",
        'B' => "ER8",
        'R' => "BP",
        'P' => "RF",
        'M' => "NH",
        'N' => "MH",
        'H' => "NM",
        'U' => "VO",
        'V' => "UY",
        'Y' => "V",
        'K' => "X",
        'X' => "K",
        'S' => "5",
        'Z' => "2",
        _ => "",
    }
}

/// Working state: zone lines plus the repairs made so far.
#[derive(Debug, Clone)]
struct Work {
    format: MrzFormat,
    lines: Vec<Vec<Cell>>,
    repairs: Vec<Repair>,
    cost: f32,
}

impl Work {
    fn set(&mut self, line: usize, col: usize, to: char, reason: RepairReason, cost: f32) {
        let cell = &mut self.lines[line][col];
        if cell.ch == to {
            return;
        }
        cell.ch = to;
        self.cost += cost;
        let from = cell.read;
        let existing = self.repairs.iter().position(|r| r.line == line && r.column == col && r.to.is_some());
        if from == Some(to) {
            if let Some(i) = existing {
                self.repairs.remove(i);
            }
            return;
        }
        match existing {
            Some(i) => {
                self.repairs[i].to = Some(to);
                self.repairs[i].reason = reason;
            }
            None => self.repairs.push(Repair { line, column: col, from, to: Some(to), reason }),
        }
    }

    /// The lines as text, unknown cells shown as fillers.
    fn texts(&self) -> Vec<String> {
        self.lines.iter().map(|l| l.iter().map(|c| if c.ch == UNKNOWN { '<' } else { c.ch }).collect()).collect()
    }

    fn text(&self, line: usize, cols: std::ops::Range<usize>) -> String {
        self.lines[line][cols].iter().map(|c| c.ch).collect()
    }
}

/// Forces every cell into its slot's class: digits where digits belong, letters where
/// letters belong; an impossible character becomes unknown.
fn force_classes(work: &mut Work) {
    let format = work.format;
    for line in 0..work.lines.len() {
        for col in 0..work.lines[line].len() {
            let Some(s) = slot(format, line, col) else {
                continue;
            };
            let cell = work.lines[line][col];
            if cell.ch == UNKNOWN && s == Slot::DocCode {
                // The format fixes the first letter of the document code where it has one.
                match format {
                    MrzFormat::Td3 => work.set(line, col, 'P', RepairReason::DocumentCode, 0.5),
                    MrzFormat::MrvA | MrzFormat::MrvB => {
                        work.set(line, col, 'V', RepairReason::DocumentCode, 0.5);
                    }
                    _ => {}
                }
                continue;
            }
            if cell.ch == UNKNOWN || s.admits(cell.ch) {
                continue;
            }
            // Country codes are letterised only when that yields a registered code (see
            // `fix_country_codes`): some issuers print digits there.
            if country_fields(format).iter().any(|(l, r)| *l == line && r.contains(&col)) {
                continue;
            }
            // The second cell of an ID card's document code is the issuer's choice (a digit
            // is seen in practice); passports and visas use letters.
            if line == 0 && col == 1 && matches!(format, MrzFormat::Td1 | MrzFormat::Td2) {
                continue;
            }
            // The model's second choice, when the layout admits it, beats a static table.
            if let Some((alt, _)) = cell.alt.filter(|(a, _)| s.admits(*a)) {
                work.set(line, col, alt, RepairReason::CharacterClass, 0.1);
                continue;
            }
            let mapped = match s {
                Slot::Digit | Slot::DigitOrFiller => digit_for_letter(cell.ch),
                Slot::DocCode | Slot::Letter => letter_for_digit(cell.ch),
                Slot::Sex => match cell.ch {
                    'N' | 'H' => Some('M'),
                    'E' | 'P' => Some('F'),
                    'K' => Some('<'),
                    _ => None,
                },
                Slot::Alnum => None,
            };
            let mapped = mapped.or(match s {
                Slot::DigitOrFiller if cell.ch == 'K' => Some('<'),
                _ => None,
            });
            match mapped {
                Some(to) => work.set(line, col, to, RepairReason::CharacterClass, 0.2),
                None => work.set(line, col, UNKNOWN, RepairReason::CharacterClass, 0.5),
            }
        }
    }
}

/// Fillers read as `K`. `K` and `<` are equal modulo 10, so no check digit can tell them
/// apart; the evidence is the recogniser's: a filler read as `K` comes with low confidence
/// and `<` as second choice, while a printed `K` is read with near certainty.
fn fix_filler_lookalikes(work: &mut Work) {
    let format = work.format;
    let takes_filler = |line: usize, col: usize| {
        col > 0 || line > 0 || format == MrzFormat::Td1 && line == 2
    } && slot(format, line, col).is_some_and(Slot::takes_filler);
    for line in 0..work.lines.len() {
        // The recogniser's second choice was a filler with some weight. (A printed `K`, even
        // one read with little confidence, leaves `<` next to no probability.)
        for col in 0..work.lines[line].len() {
            let cell = work.lines[line][col];
            if cell.ch == 'K'
                && cell.conf < 0.95
                && cell.alt.is_some_and(|(a, p)| a == '<' && p >= 0.05)
                && takes_filler(line, col)
            {
                work.set(line, col, '<', RepairReason::FillerLookalike, 0.2);
            }
        }
        // Uncertain `K`s enclosed by fillers (or a filler and the line's end) are fillers:
        // no name has a component made only of `K`s.
        let len = work.lines[line].len();
        let mut col = 0;
        while col < len {
            let uncertain_k = |c: &Cell| c.ch == 'K' && c.read.is_some() && c.conf < 0.95 && c.alt.is_some();
            if !uncertain_k(&work.lines[line][col]) {
                col += 1;
                continue;
            }
            let start = col;
            while col < len && uncertain_k(&work.lines[line][col]) {
                col += 1;
            }
            let cells = &work.lines[line];
            let left = start.checked_sub(1).is_none_or(|l| cells[l].ch == '<');
            let right = col == len || cells[col].ch == '<';
            if left && right && (start..col).all(|c| takes_filler(line, c)) {
                for c in start..col {
                    work.set(line, c, '<', RepairReason::FillerLookalike, 0.3);
                }
            }
        }
    }
    // A TD3 document code has no `K` second letter (Part 4 §4.4): `PK` is `P<`.
    if format == MrzFormat::Td3 && work.lines[0][1].ch == 'K' && mrz::passport_type("PK").is_none() {
        work.set(0, 1, '<', RepairReason::FillerLookalike, 0.2);
    }
    // A name field must separate primary and secondary identifiers with `<<`; without one,
    // the least certain `K` touching a filler (or another such `K`) is the lost separator.
    let (line, cols) = name_field(format);
    let text = work.text(line, cols.clone());
    let trimmed = text.trim_end_matches('<');
    if !trimmed.contains("<<") {
        let cells = &work.lines[line];
        let candidate = cols
            .clone()
            .filter(|&c| {
                c < cols.start + trimmed.len()
                    && cells[c].ch == 'K'
                    && cells[c].read.is_some()
                    // a separator has a name after it (a surname may end in K)
                    && cells[c + 1..cols.start + trimmed.len()]
                        .iter()
                        .any(|x| x.ch.is_ascii_uppercase() && x.ch != 'K')
                    && cells[c].conf < 0.8
                    && [c.checked_sub(1), Some(c + 1)]
                        .into_iter()
                        .flatten()
                        .any(|n| cells.get(n).is_some_and(|x| x.ch == '<' || x.ch == 'K'))
            })
            .min_by(|&a, &b| cells[a].conf.total_cmp(&cells[b].conf));
        if let Some(col) = candidate {
            work.set(line, col, '<', RepairReason::FillerLookalike, 0.5);
            // `KK` read for `<<`: its partner too.
            for n in [col.checked_sub(1), Some(col + 1)].into_iter().flatten() {
                if cols.contains(&n) && work.lines[line][n].ch == 'K' && work.lines[line][n].conf < 0.8 {
                    work.set(line, n, '<', RepairReason::FillerLookalike, 0.5);
                    break;
                }
            }
        }
    }
    // Without recogniser evidence: a tail of the name field made only of `K` and `<`, that
    // begins with a filler and holds at least as many fillers as `K`s, is padding.
    if work.lines[line][cols.clone()].iter().all(|c| c.alt.is_none()) {
        let mut start = cols.end;
        while start > cols.start && matches!(work.lines[line][start - 1].ch, 'K' | '<') {
            start -= 1;
        }
        let tail: Vec<char> = work.lines[line][start..cols.end].iter().map(|c| c.ch).collect();
        let k = tail.iter().filter(|c| **c == 'K').count();
        let fillers = tail.len() - k;
        if k > 0 && fillers >= k.max(2) && tail.first() == Some(&'<') {
            for col in start..cols.end {
                if work.lines[line][col].ch == 'K' {
                    work.set(line, col, '<', RepairReason::FillerLookalike, 0.3);
                }
            }
        }
    }
}

/// Country codes not in the registry get one look-alike substitution when exactly one
/// makes them a registered code.
fn fix_country_codes(work: &mut Work) {
    for (line, cols) in country_fields(work.format) {
        let code = work.text(line, cols.clone());
        if known_country(&code) {
            continue;
        }
        // Digits read for letters (`UT0`): letterised, if that makes a registered code.
        let letters: Vec<char> = cols
            .clone()
            .map(|col| {
                let cell = work.lines[line][col];
                if cell.ch.is_ascii_digit() {
                    cell.alt
                        .map(|(a, _)| a)
                        .filter(char::is_ascii_uppercase)
                        .or_else(|| letter_for_digit(cell.ch))
                        .unwrap_or(cell.ch)
                } else {
                    cell.ch
                }
            })
            .collect();
        if known_country(&letters.iter().collect::<String>()) {
            for (col, c) in cols.clone().zip(letters) {
                work.set(line, col, c, RepairReason::CharacterClass, 0.2);
            }
            continue;
        }
        let mut found: Vec<(f32, usize, char)> = Vec::new();
        for col in cols.clone() {
            let cell = work.lines[line][col];
            let mut options: Vec<(char, f32)> = Vec::new();
            if cell.ch == UNKNOWN {
                options.extend(('A'..='Z').map(|c| (c, 1.0)));
            } else {
                if let Some((a, p)) = cell.alt {
                    options.push((a, substitution_cost(cell.conf, p)));
                }
                options.extend(letter_lookalikes(cell.ch).chars().map(|c| (c, 2.0 + cell.conf)));
            }
            for (c, cost) in options {
                let c = letter_for_digit(c).unwrap_or(c);
                if !c.is_ascii_uppercase() {
                    continue;
                }
                let mut candidate: Vec<char> = code.chars().collect();
                candidate[col - cols.start] = c;
                let candidate: String = candidate.into_iter().collect();
                if known_country(&candidate) && !found.iter().any(|f| f.1 == col && f.2 == c) {
                    found.push((cost, col, c));
                }
            }
        }
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        let unique = match found.as_slice() {
            [only] => Some(*only),
            [first, second, ..] if second.0 - first.0 > 0.5 => Some(*first),
            _ => None,
        };
        if let Some((cost, col, c)) = unique {
            work.set(line, col, c, RepairReason::CountryCode, cost);
        }
    }
}

fn known_country(code: &str) -> bool {
    let trimmed = code.trim_end_matches('<');
    !trimmed.is_empty() && mrz::country_name(trimmed).is_some()
}

/// Cost of replacing a read character of probability `conf` by the model's alternative of
/// probability `alt`: the log-odds between them.
fn substitution_cost(conf: f32, alt: f32) -> f32 {
    (conf.max(1e-4) / alt.max(1e-4)).ln().clamp(0.05, 6.0)
}

/// Options for one cell of a check-digit-guarded field: `(char, cost)`, the read char first.
fn cell_options(cell: &Cell, s: Slot) -> Options {
    if cell.ch == UNKNOWN {
        return mrz::MRZ_ALPHABET.chars().filter(|c| s.admits(*c)).map(|c| (c, 1.0)).collect();
    }
    let mut v = vec![(cell.ch, 0.0)];
    if let Some((a, p)) = cell.alt.filter(|(a, _)| s.admits(*a)) {
        let cost = substitution_cost(cell.conf, p);
        if cost <= MAX_FIELD_REPAIR_COST {
            v.push((a, cost));
        }
    }
    // A look-alike the model did not propose is only considered where the read itself was
    // uncertain; otherwise a misprinted (or forged) check digit could always be "repaired".
    if cell.conf < 0.75 {
        for c in lookalikes(cell.ch) {
            if s.admits(c) && !v.iter().any(|(x, _)| *x == c) {
                v.push((c, 3.0 + 3.0 * cell.conf));
            }
        }
    }
    v
}

/// Readings of one checked field (its cells and its check digit) that satisfy the check
/// digit under the `mrz` crate, cheapest first. At most two cells change; unknown cells
/// must be filled and count as changes.
fn field_readings(work: &Work, field: &CheckedField) -> Readings {
    let format = work.format;
    let cols: Vec<usize> = field.cells.clone().chain(std::iter::once(field.check)).collect();
    let options: Vec<Options> = cols
        .iter()
        .map(|&c| cell_options(&work.lines[field.line][c], slot(format, field.line, c).unwrap_or(Slot::Alnum)))
        .collect();
    let base: Vec<char> = cols.iter().map(|&c| work.lines[field.line][c].ch).collect();
    let unknown: Vec<usize> = (0..cols.len()).filter(|&i| base[i] == UNKNOWN).collect();
    if unknown.len() > 2 {
        return Vec::new();
    }
    let ok = |v: &[char]| -> bool {
        let (f, c) = v.split_at(v.len() - 1);
        let f: String = f.iter().collect();
        mrz::verify(&f, c[0]) && structurally_ok(&f, field.kind)
    };
    let mut found: Readings = Vec::new();
    let mut push = |v: Vec<char>, cost: f32| {
        if ok(&v) && !found.iter().any(|(w, _)| *w == v) {
            found.push((v, cost));
        }
    };
    let changeable: Vec<usize> = (0..cols.len()).filter(|&i| options[i].len() > 1).collect();
    match unknown.len() {
        0 => {
            push(base.clone(), 0.0);
            for &i in &changeable {
                for &(c, ci) in &options[i][1..] {
                    let mut v = base.clone();
                    v[i] = c;
                    push(v.clone(), ci);
                    for &j in changeable.iter().filter(|&&j| j > i) {
                        for &(d, cj) in &options[j][1..] {
                            let mut w = v.clone();
                            w[j] = d;
                            // A second change is weaker evidence: only cheap pairs.
                            if ci + cj <= 4.0 {
                                push(w, ci + cj + 0.5);
                            }
                        }
                    }
                }
            }
        }
        1 => {
            let u = unknown[0];
            for &(c, cu) in &options[u] {
                let mut v = base.clone();
                v[u] = c;
                push(v.clone(), cu);
                for &i in changeable.iter().filter(|&&i| i != u) {
                    for &(d, ci) in &options[i][1..] {
                        let mut w = v.clone();
                        w[i] = d;
                        if ci <= 2.0 {
                            push(w, cu + ci + 0.5);
                        }
                    }
                }
            }
        }
        _ => {
            let (u, w) = (unknown[0], unknown[1]);
            for &(c, cu) in &options[u] {
                for &(d, cw) in &options[w] {
                    let mut v = base.clone();
                    v[u] = c;
                    v[w] = d;
                    push(v, cu + cw);
                }
            }
        }
    }
    found.retain(|(_, cost)| *cost <= MAX_FIELD_REPAIR_COST);
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    // Two different repairs the evidence cannot tell apart (the check digit's blind spot):
    // repair nothing rather than guess.
    if let [first, second, ..] = found.as_slice()
        && first.1 > 0.0
        && second.1 - first.1 < 0.05
    {
        return Vec::new();
    }
    found
}

/// The `mrz` crate's structural rules for a repaired field: dates must be real days (or
/// filler-unknown), numbers must not start with a filler.
fn structurally_ok(field: &str, kind: CheckedKind) -> bool {
    match kind {
        CheckedKind::Date => {
            let b = field.as_bytes();
            if b.iter().all(u8::is_ascii_digit) {
                let n = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
                (1..=12).contains(&n(2)) && (1..=31).contains(&n(4))
            } else {
                b.iter().all(|c| c.is_ascii_digit() || *c == b'<')
            }
        }
        CheckedKind::DocumentNumber => !field.starts_with('<'),
        CheckedKind::PersonalNumber => true,
    }
}

/// Chooses readings for every checked field and the composite digit at the lowest total
/// cost that satisfies the most check digits.
fn repair_check_digits(work: &mut Work) {
    let fields = checked_fields(work.format);
    let comp = composite(work.format);
    let mut per_field: Vec<Readings> = Vec::new();
    for f in &fields {
        let mut readings = field_readings(work, f);
        if readings.is_empty() {
            // Keep the read text, failing its check honestly.
            let v: Vec<char> =
                f.cells.clone().chain(std::iter::once(f.check)).map(|c| work.lines[f.line][c].ch).collect();
            readings.push((v, 100.0));
        }
        readings.truncate(MAX_FIELD_READINGS);
        per_field.push(readings);
    }
    // Composite-only cells (TD1/TD2 optional data and the composite digit itself): at most
    // one substitution among them.
    let mut comp_options: Vec<(CellAt, Options)> = Vec::new();
    if let Some(c) = &comp {
        let covered = |line: usize, col: usize| {
            fields.iter().any(|f| f.line == line && (f.cells.contains(&col) || f.check == col))
        };
        let mut cells: Vec<(usize, usize)> = c
            .spans
            .iter()
            .flat_map(|(l, r)| r.clone().map(move |col| (*l, col)))
            .filter(|&(l, col)| !covered(l, col))
            .collect();
        cells.push(c.check);
        for (l, col) in cells {
            let s = slot(work.format, l, col).unwrap_or(Slot::Alnum);
            comp_options.push(((l, col), cell_options(&work.lines[l][col], s)));
        }
    }
    // Cheapest readings first: when they already satisfy the composite, nothing to search.
    let cheapest = vec![0usize; per_field.len()];
    if composite_holds(work, &fields, &per_field, &cheapest, comp.as_ref()) {
        apply_choice(work, &fields, &per_field, &cheapest, None);
        return;
    }
    let mut best: Option<Choice> = None;
    let mut choice = vec![0usize; per_field.len()];
    let mut trial = work.clone();
    loop {
        let mut cost = 0.0;
        let mut valid = 0;
        for (fi, f) in fields.iter().enumerate() {
            let (reading, c) = &per_field[fi][choice[fi]];
            cost += c;
            if *c < 100.0 {
                valid += 1;
            }
            for (k, col) in f.cells.clone().chain(std::iter::once(f.check)).enumerate() {
                trial.lines[f.line][col].ch = reading[k];
            }
        }
        let mut consider = |valid: usize, cost: f32, sub: Option<(CellAt, char)>| {
            let better = match &best {
                None => true,
                Some(b) => valid > b.valid || (valid == b.valid && cost < b.cost - 1e-6),
            };
            if better {
                best = Some(Choice { valid, cost, picks: choice.clone(), sub });
            }
        };
        match &comp {
            None => consider(valid, cost, None),
            Some(c) => {
                let text = |t: &Work| -> (String, char) {
                    let s: String = c.spans.iter().map(|(l, r)| t.text(*l, r.clone())).collect();
                    (s, t.lines[c.check.0][c.check.1].ch)
                };
                let (s, d) = text(&trial);
                if mrz::verify(&s, d) {
                    consider(valid + 1, cost, None);
                } else {
                    consider(valid, cost, None);
                    for ((l, col), opts) in &comp_options {
                        let read = trial.lines[*l][*col].ch;
                        for &(ch, cc) in opts.iter().filter(|(ch, cost)| *ch != read && *cost <= MAX_FIELD_REPAIR_COST)
                        {
                            trial.lines[*l][*col].ch = ch;
                            let (s, d) = text(&trial);
                            if mrz::verify(&s, d) && !s.contains(UNKNOWN) {
                                consider(valid + 1, cost + cc, Some(((*l, *col), ch)));
                            }
                        }
                        trial.lines[*l][*col].ch = read;
                    }
                }
            }
        }
        let mut i = 0;
        loop {
            if i == choice.len() {
                let Some(Choice { picks: picked, sub, .. }) = best else {
                    return;
                };
                // A repair has to be confirmed by every check digit covering it: when the
                // composite still disagrees, the substitutions are guesses, and the zone is
                // reported as read (its check digits failing) rather than half-repaired.
                let mut chosen = work.clone();
                apply_choice(&mut chosen, &fields, &per_field, &picked, sub);
                let confirmed = comp.as_ref().is_none_or(|c| {
                    let s: String = c.spans.iter().map(|(l, r)| chosen.text(*l, r.clone())).collect();
                    mrz::verify(&s, chosen.lines[c.check.0][c.check.1].ch)
                });
                if confirmed {
                    *work = chosen;
                }
                return;
            }
            choice[i] += 1;
            if choice[i] < per_field[i].len() {
                break;
            }
            choice[i] = 0;
            i += 1;
        }
    }
}

/// One combination of field readings (indices into each field's readings) and at most one
/// substitution among the composite-only cells, with how many check digits it satisfies.
struct Choice {
    valid: usize,
    cost: f32,
    picks: Vec<usize>,
    sub: Option<(CellAt, char)>,
}

/// Whether the chosen field readings satisfy every field check and the composite.
fn composite_holds(
    work: &Work,
    fields: &[CheckedField],
    per_field: &[Readings],
    choice: &[usize],
    comp: Option<&super::layout::Composite>,
) -> bool {
    let mut trial = work.clone();
    for (fi, f) in fields.iter().enumerate() {
        let (reading, cost) = &per_field[fi][choice[fi]];
        if *cost >= 100.0 {
            return false;
        }
        for (k, col) in f.cells.clone().chain(std::iter::once(f.check)).enumerate() {
            trial.lines[f.line][col].ch = reading[k];
        }
    }
    comp.is_none_or(|c| {
        let s: String = c.spans.iter().map(|(l, r)| trial.text(*l, r.clone())).collect();
        mrz::verify(&s, trial.lines[c.check.0][c.check.1].ch)
    })
}

fn apply_choice(
    work: &mut Work,
    fields: &[CheckedField],
    per_field: &[Readings],
    picked: &[usize],
    sub: Option<(CellAt, char)>,
) {
    for (fi, f) in fields.iter().enumerate() {
        let (reading, cost) = &per_field[fi][picked[fi]];
        if *cost >= 100.0 {
            continue;
        }
        for (k, col) in f.cells.clone().chain(std::iter::once(f.check)).enumerate() {
            if work.lines[f.line][col].ch != reading[k] {
                let c = work.lines[f.line][col];
                let cost = if c.alt.is_some_and(|(a, _)| a == reading[k]) { 0.3 } else { 1.0 };
                work.set(f.line, col, reading[k], RepairReason::CheckDigit, cost);
            }
        }
    }
    if let Some(((l, col), ch)) = sub {
        work.set(l, col, ch, RepairReason::CheckDigit, 1.0);
    }
}

/// Restores, repairs and parses one combination of restored lines.
fn repair_and_parse(lines: &[&Restored], format: MrzFormat, today: CalendarDate) -> Option<Scored> {
    let mut work = Work {
        format,
        lines: lines.iter().map(|r| r.cells.clone()).collect(),
        repairs: Vec::new(),
        cost: lines.iter().map(|r| r.cost).sum(),
    };
    for (i, r) in lines.iter().enumerate() {
        for (col, cell) in r.cells.iter().enumerate() {
            if cell.read.is_none() {
                work.repairs.push(Repair {
                    line: i,
                    column: col,
                    from: None,
                    to: Some(cell.ch),
                    reason: if cell.ch == UNKNOWN { RepairReason::Unreadable } else { RepairReason::FillerRestored },
                });
            }
        }
        for &(col, ch) in &r.dropped {
            work.repairs.push(Repair { line: i, column: col, from: Some(ch), to: None, reason: RepairReason::Removed });
        }
    }
    force_classes(&mut work);
    fix_filler_lookalikes(&mut work);
    fix_country_codes(&mut work);
    let as_read = parse(format, &work.texts(), today).map(|d| check_digits_of(&d.checks));
    repair_check_digits(&mut work);
    // Whatever is still unknown cannot be parsed; a filler keeps the zone parseable and the
    // check digits honest.
    for line in 0..work.lines.len() {
        for col in 0..work.lines[line].len() {
            if work.lines[line][col].ch == UNKNOWN {
                work.set(line, col, '<', RepairReason::Unreadable, 1.0);
            }
        }
    }
    let texts: Vec<String> = work.lines.iter().map(|l| l.iter().map(|c| c.ch).collect()).collect();
    let data = parse(format, &texts, today)?;
    let mut zone = build_zone(format, texts, &data, work.repairs.clone(), confidence(&work), today);
    zone.check_digits_as_read = as_read;
    let (verified, _) = zone.check_digits.tally();
    let rank = (zone.check_digits.all_valid(), verified, zone.line_format_ok, -((work.cost * 1000.0) as i64));
    Some(Scored { zone, rank })
}

/// Mean evidence over the zone: the recogniser's probability for cells kept as read, the
/// alternative's probability where the model's second choice was taken, 0.5 for restored
/// fillers and 0.25 for other changes.
fn confidence(work: &Work) -> f32 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for line in &work.lines {
        for cell in line {
            n += 1;
            sum += match cell.read {
                Some(r) if r == cell.ch => cell.conf,
                Some(_) => match cell.alt {
                    Some((a, p)) if a == cell.ch => p,
                    _ => 0.25,
                },
                None if cell.ch == '<' => 0.5,
                None => 0.25,
            };
        }
    }
    if n == 0 { 0.0 } else { (sum / n as f32).clamp(0.0, 1.0) }
}

/// The `mrz` crate's parser for `format`, with the birth-year pivot set from `today`.
fn parse(format: MrzFormat, lines: &[String], today: CalendarDate) -> Option<mrz::MrzData> {
    let opts = mrz::ParseOptions::default().with_pivot_yy(today.year.rem_euclid(100) as u32);
    let l = |i: usize| lines.get(i).map_or("", String::as_str);
    match format {
        MrzFormat::Td3 => mrz::parse_td3_with(l(0), l(1), &opts),
        MrzFormat::Td2 => mrz::parse_td2_with(l(0), l(1), &opts),
        MrzFormat::Td1 => mrz::parse_td1_with(l(0), l(1), l(2), &opts),
        MrzFormat::MrvA => mrz::parse_mrv_a_with(l(0), l(1), &opts),
        MrzFormat::MrvB => mrz::parse_mrv_b_with(l(0), l(1), &opts),
    }
    .ok()
}

fn format_of(data: &mrz::MrzData) -> Option<MrzFormat> {
    Some(match data.format {
        mrz::Format::Td3 => MrzFormat::Td3,
        mrz::Format::Td2 => MrzFormat::Td2,
        mrz::Format::Td1 => MrzFormat::Td1,
        mrz::Format::MrvA => MrzFormat::MrvA,
        mrz::Format::MrvB => MrzFormat::MrvB,
        _ => return None,
    })
}

/// Builds our zone from the crate's parse; dates get our century rules.
fn build_zone(
    format: MrzFormat,
    lines: Vec<String>,
    data: &mrz::MrzData,
    repairs: Vec<Repair>,
    confidence: f32,
    today: CalendarDate,
) -> MrzZone {
    let date_raw =
        |line: usize, start: usize| lines.get(line).and_then(|l| l.get(start..start + 6)).unwrap_or("").to_string();
    let (birth_raw, expiry_raw) = match format {
        MrzFormat::Td1 => (date_raw(1, 0), date_raw(1, 8)),
        _ => (date_raw(1, 13), date_raw(1, 21)),
    };
    let sex = match data.sex.zone_char() {
        '<' | 'X' => "X".to_string(),
        c => c.to_string(),
    };
    let personal_number = data.personal_number().map(str::to_string);
    let optional_data = if format == MrzFormat::Td3 { None } else { data.optional_data_1.clone() };
    let fields = MrzFields {
        document_type: data.document_type.clone(),
        issuing_country: data.issuing_country.clone(),
        surname: data.surname.clone(),
        given_names: data.given_names.clone(),
        document_number: data.full_document_number().to_string(),
        nationality: data.nationality.clone(),
        birth_date: MrzDate::from_field(&birth_raw, true, today),
        sex,
        expiry_date: MrzDate::from_field(&expiry_raw, false, today),
        personal_number,
        optional_data,
        optional_data_2: data.optional_data_2.clone(),
    };
    let check_digits = check_digits_of(&data.checks);
    let line_format_ok = lines.len() == format.line_count()
        && lines.iter().enumerate().all(|(l, text)| {
            text.chars().count() == format.line_length()
                && text.chars().enumerate().all(|(c, ch)| slot(format, l, c).is_some_and(|s| s.admits(ch)))
        });
    MrzZone { format, lines, fields, check_digits, check_digits_as_read: None, repairs, line_format_ok, confidence }
}

/// The `mrz` crate's own search (`find_and_parse`) over the window's raw text, as a
/// competing reading: it knows repairs this module does not (shifted line-1 prefixes,
/// overflowed document numbers).
fn crate_reading(window: &[ReadLine], today: CalendarDate) -> Option<Scored> {
    let raw: Vec<String> = window.iter().map(|l| l.chars.iter().collect()).collect();
    let opts = mrz::ParseOptions::default().with_pivot_yy(today.year.rem_euclid(100) as u32);
    let data = mrz::find_and_parse_with(&raw.join("\n"), &opts).ok()?;
    let format = format_of(&data)?;
    let lines: Vec<String> = data.mrz_lines.lines().map(str::to_string).collect();
    if lines.len() != format.line_count() {
        return None;
    }
    let mut repairs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(read) = raw
            .iter()
            .find(|r| r.len() == line.len() && similar(r, line))
            .or(raw.get(i + raw.len().saturating_sub(lines.len())))
        else {
            continue;
        };
        if read.len() == line.len() {
            for (col, (a, b)) in read.chars().zip(line.chars()).enumerate() {
                if a != b {
                    repairs.push(Repair {
                        line: i,
                        column: col,
                        from: Some(a),
                        to: Some(b),
                        reason: RepairReason::Crate,
                    });
                }
            }
        } else if read != line {
            repairs.push(Repair { line: i, column: 0, from: None, to: None, reason: RepairReason::Crate });
        }
    }
    let confidence = {
        let all: Vec<f32> = window.iter().flat_map(|l| l.conf.iter().copied()).collect();
        if all.is_empty() { 0.0 } else { all.iter().sum::<f32>() / all.len() as f32 * 0.9 }
    };
    let mut zone = build_zone(format, lines, &data, repairs, confidence, today);
    zone.check_digits_as_read = (raw.len() == zone.lines.len())
        .then(|| parse(format, &raw, today).map(|d| check_digits_of(&d.checks)))
        .flatten();
    let (verified, _) = zone.check_digits.tally();
    // Ranked after an equally good reading of our own: its repairs are less explained.
    let rank = (zone.check_digits.all_valid(), verified, zone.line_format_ok, -1_000_000);
    Some(Scored { zone, rank })
}

fn check_digits_of(checks: &mrz::Checks) -> CheckDigits {
    CheckDigits {
        document_number: checks.document_number == Some(true),
        birth_date: checks.date_of_birth == Some(true),
        expiry_date: checks.date_of_expiry == Some(true),
        personal_number: checks.personal_number,
        composite: checks.composite,
    }
}

fn similar(a: &str, b: &str) -> bool {
    let same = a.chars().zip(b.chars()).filter(|(x, y)| x == y).count();
    same * 10 >= a.len().max(b.len()) * 7
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrz::recognize::OcrChar;

    const TODAY: CalendarDate = CalendarDate { year: 2026, month: 5, day: 1 };
    const L1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
    const L2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

    fn read(text: &str) -> MrzZone {
        interpret_text(text, TODAY).unwrap()
    }

    #[test]
    fn exact_zone_needs_no_repair() {
        let z = read(&format!("{L1}\n{L2}"));
        assert_eq!(z.format, MrzFormat::Td3);
        assert_eq!(z.lines, vec![L1, L2]);
        assert!(z.repairs.is_empty(), "{:?}", z.repairs);
        assert!(z.check_digits.all_valid());
        assert_eq!(z.fields.surname, "ERIKSSON");
        assert_eq!(z.fields.given_names, "ANNA MARIA");
        assert_eq!(z.fields.document_number, "L898902C3");
        assert_eq!(z.fields.birth_date.date, "1974-08-12".parse().ok());
        assert_eq!(z.fields.expiry_date.date, "2012-04-15".parse().ok());
        assert_eq!(z.fields.personal_number.as_deref(), Some("ZE184226B"));
        assert!(z.line_format_ok);
        let d = z.assess_dates(TODAY);
        assert_eq!(d.expired, Some(true));
        assert_eq!(d.age_years, Some(51));
    }

    #[test]
    fn a_name_line_without_its_trailing_fillers_is_padded_at_the_end() {
        let z = read("I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA");
        assert_eq!(z.lines[2], "ERIKSSON<<ANNA<MARIA<<<<<<<<<<");
    }

    #[test]
    fn letter_digit_confusions_are_repaired_by_class() {
        // UT0 nationality, O in a date, S in a check digit.
        let l2 = "L898902C36UT07408I22F12O4159ZE184226B<<<<<10";
        let z = read(&format!("{L1}\n{l2}"));
        assert_eq!(z.lines[1], L2);
        assert!(z.check_digits.all_valid());
        assert!(z.repairs.iter().all(|r| r.reason == RepairReason::CharacterClass), "{:?}", z.repairs);
        assert_eq!(z.repairs.len(), 3);
    }

    #[test]
    fn collapsed_fillers_are_restored() {
        let l1 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        let l2 = "L898902C36UTO7408122F1204159ZE184226B<<10";
        let z = read(&format!("{l1}\n{l2}"));
        assert_eq!(z.lines, vec![L1, L2]);
        assert!(z.check_digits.all_valid());
        assert!(z.repairs.iter().any(|r| r.reason == RepairReason::FillerRestored));
    }

    /// `(column, confidence, second choice)` of a weakly read character.
    type Weak = (usize, f32, Option<(char, f32)>);

    /// A recognised line with evenly spaced characters of confidence 0.95, except `weak`
    /// (column, confidence, second choice).
    fn ocr(text: &str, weak: &[Weak]) -> OcrLine {
        let n = text.chars().count() as f32;
        OcrLine {
            text: text.to_string(),
            chars: text
                .chars()
                .enumerate()
                .map(|(c, ch)| {
                    let w = weak.iter().find(|w| w.0 == c);
                    OcrChar {
                        ch,
                        confidence: w.map_or(0.95, |w| w.1),
                        x: (c as f32 + 0.5) / n,
                        alternative: w.and_then(|w| w.2),
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn document_number_lookalike_is_chosen_by_its_check_digit() {
        // '2' read as 'Z' (weakly) inside the alphanumeric document number.
        let l2 = "L89890ZC36UTO7408122F1204159ZE184226B<<<<<10";
        let lines = [ocr(L1, &[]), ocr(l2, &[(6, 0.6, Some(('2', 0.3)))])];
        let z = interpret(&lines, TODAY).unwrap();
        assert_eq!(z.lines[1], L2, "{:?}", z.repairs);
        assert!(z.check_digits.all_valid());
        assert_eq!(z.repairs.len(), 1);
        assert_eq!(z.repairs[0].reason, RepairReason::CheckDigit);
        // The same misread as plain text is ambiguous (several look-alikes fit): left alone.
        let plain = read(&format!("{L1}\n{l2}"));
        assert!(!plain.check_digits.document_number);
    }

    #[test]
    fn fillers_read_as_k_are_told_from_printed_ks() {
        let truth = "P<UTOHAEKKINEN<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<";
        let read = "P<UTOHAEKKINENK<ANNAK<<<<<<KK<<<<<<<<<<<<<<<";
        let weak = [
            // printed K: unsure, but a filler is not its second choice
            (8, 0.6, Some(('R', 0.2))),
            (9, 0.7, Some(('<', 0.001))),
            // fillers read as K: a filler is the second choice, or they are enclosed by fillers
            (14, 0.6, Some(('<', 0.3))),
            (20, 0.7, Some(('<', 0.2))),
            (27, 0.8, Some(('R', 0.01))),
            (28, 0.8, Some(('<', 0.01))),
        ];
        let lines = [ocr(read, &weak), ocr(L2, &[])];
        let z = interpret(&lines, TODAY).unwrap();
        assert_eq!(z.lines[0], truth, "{:?}", z.repairs);
        assert_eq!(z.fields.surname, "HAEKKINEN");
    }

    #[test]
    fn a_repair_the_composite_refutes_is_not_made() {
        // A misprinted document-number check digit (6 -> 3): some one-cell change fixes the
        // field, but the composite (printed for the true digit) refutes it.
        let l2 = "L898902C33UTO7408122F1204159ZE184226B<<<<<10";
        let fix = (0..9)
            .flat_map(|col| mrz::MRZ_ALPHABET.chars().map(move |c| (col, c)))
            .find(|&(col, c)| {
                let mut f: Vec<char> = l2[..9].chars().collect();
                f[col] = c;
                f[col] != l2.as_bytes()[col] as char && mrz::verify(&f.iter().collect::<String>(), '3')
            })
            .unwrap();
        let lines = [ocr(L1, &[]), ocr(l2, &[(fix.0, 0.5, Some((fix.1, 0.45)))])];
        let z = interpret(&lines, TODAY).unwrap();
        assert_eq!(z.lines[1], l2, "{:?}", z.repairs);
        assert!(!z.check_digits.document_number);
        assert_eq!(z.check_digits.composite, Some(false));
    }

    #[test]
    fn blind_spot_ties_are_not_guessed() {
        // 'B' at position 3 and '8' at position 1 of `L89B902C3` fix the check digit equally
        // well (3·3 ≡ 7·3 mod 10): without recogniser evidence nothing is changed.
        let l2 = "L89B902C36UTO7408122F1204159ZE184226B<<<<<10";
        let z = read(&format!("{L1}\n{l2}"));
        assert!(!z.check_digits.document_number);
        assert_eq!(&z.lines[1][..9], "L89B902C3");
    }

    #[test]
    fn td2_td1_and_visas() {
        let td2 = read("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6");
        assert_eq!(td2.format, MrzFormat::Td2);
        assert!(td2.check_digits.all_valid());
        let td1 =
            read("I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<");
        assert_eq!(td1.format, MrzFormat::Td1);
        assert!(td1.check_digits.all_valid());
        assert_eq!(td1.fields.document_number, "D23145890");
        let visa = read("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL8988901C4XXX4009078F96121096ZE184226B<<<<<<");
        assert_eq!(visa.format, MrzFormat::MrvA);
        assert_eq!(visa.check_digits.composite, None);
        assert!(visa.check_digits.all_valid());
    }

    #[test]
    fn visual_zone_lines_above_are_ignored() {
        let text = format!("PASSPORTPASSEPORTUTOPIAREPUBLIC\nSURNAMEERIKSSONGIVENNAMESANNA\n{L1}\n{L2}");
        let z = read(&text);
        assert_eq!(z.lines, vec![L1, L2]);
    }

    #[test]
    fn digits_printed_in_a_country_field_are_kept() {
        // A non-conforming issuer prints digits where the nationality belongs; letterising
        // them would invent a code that is not on the document.
        let l2 = "L898902C361327408122F1204159ZE184226B<<<<<10";
        let z = read(&format!("{L1}\n{l2}"));
        assert_eq!(z.fields.nationality, "132");
        assert_eq!(z.lines[1], l2);
        assert!(z.check_digits.all_valid());
        assert!(!z.line_format_ok);
    }

    #[test]
    fn a_clipped_document_code_is_restored_from_the_format() {
        let z = read(&format!("{}\n{L2}", &L1[1..]));
        assert_eq!(z.lines, vec![L1, L2]);
        assert!(z.repairs.iter().any(|r| r.reason == RepairReason::DocumentCode && r.column == 0));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(interpret_text("", TODAY), Err(InterpretError::NoCandidateLines));
        assert_eq!(interpret_text("hello", TODAY), Err(InterpretError::NoCandidateLines));
        let junk = interpret_text("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ\nQWERTYUIOPASDFGHJKLZXCVBNMQWERTYUIOP", TODAY);
        assert!(junk.is_err() || !junk.unwrap().check_digits.all_valid());
    }

    #[test]
    fn geometry_places_collapsed_runs() {
        // 44 columns at pitch 1/44; the run of five fillers at 37..42 was emitted once, spanning it.
        let mut chars = Vec::new();
        let mut text = String::new();
        for (col, ch) in L2.chars().enumerate() {
            if (38..42).contains(&col) {
                continue;
            }
            let x = if col == 37 { (37.0 + 41.0) / 2.0 } else { col as f32 } / 44.0 + 0.5 / 44.0;
            chars.push(OcrChar { ch, confidence: 0.9, x, alternative: None });
            text.push(ch);
        }
        let line2 = OcrLine { text, chars };
        let line1 = OcrLine {
            text: L1.to_string(),
            chars: L1
                .chars()
                .enumerate()
                .map(|(c, ch)| OcrChar { ch, confidence: 0.9, x: (c as f32 + 0.5) / 44.0, alternative: None })
                .collect(),
        };
        let z = interpret(&[line1, line2], TODAY).unwrap();
        assert_eq!(z.lines, vec![L1, L2]);
        assert_eq!(z.repairs.iter().filter(|r| r.reason == RepairReason::FillerRestored).count(), 4);
    }
}
