//! The MRZ reader: finds the zone's lines in a document image, recognises them, and
//! interprets them, with a second attempt when the first finds nothing valid.

use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::OcrError;
use super::detect::{DetectParams, LineBox, merge_collinear};
use super::engine::OcrEngine;
use super::fields::{CalendarDate, MrzScoreChecks, MrzZone};
use super::recognize::OcrLine;
use super::text::interpret;

/// Tunables of the reader; the defaults are the measured recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderConfig {
    /// Long side of the detector input on the first attempt.
    pub detect_side: u32,
    /// Long side of the detector input on the second attempt.
    pub retry_detect_side: u32,
    /// Width lines are resampled to for recognition. Below ~2048 the recogniser runs out of
    /// time steps for 44 characters and merges filler runs.
    pub recognize_width: usize,
    /// Stretch the image's contrast before the second attempt.
    pub retry_stretch: bool,
    /// Boxes at least this many times longer than high are MRZ line candidates.
    pub min_aspect: f32,
    /// Most candidate lines recognised per attempt (bottom-most first).
    pub max_lines: usize,
    /// Detector thresholds.
    pub detect: DetectParams,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        Self {
            detect_side: 640,
            retry_detect_side: 960,
            retry_stretch: false,
            recognize_width: 2048,
            min_aspect: 10.0,
            max_lines: 4,
            detect: DetectParams::default(),
        }
    }
}

/// How a read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOutcome {
    /// A zone was parsed (see its check digits for how trustworthy it is).
    Parsed,
    /// Lines shaped like an MRZ were found but could not be parsed.
    Unparsable,
    /// Nothing shaped like an MRZ line was found.
    NotFound,
}

/// Wall-clock time spent per stage, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadTimings {
    /// Text detection (all attempts).
    pub detect_ms: f64,
    /// Line recognition (all attempts).
    pub recognize_ms: f64,
    /// Line assembly, repair and parsing.
    pub interpret_ms: f64,
    /// Everything.
    pub total_ms: f64,
}

/// One recognised candidate line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawLine {
    /// Text as recognised (MRZ alphabet only).
    pub text: String,
    /// Mean recogniser probability of its characters.
    pub confidence: f32,
    /// Where it was found, in image pixels.
    pub region: LineBox,
}

/// The result of reading a document image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MrzReading {
    /// How it ended.
    pub outcome: ReadOutcome,
    /// The parsed zone.
    pub zone: Option<MrzZone>,
    /// The candidate lines recognised in the attempt that produced the result, top to bottom.
    pub raw_lines: Vec<RawLine>,
    /// Which attempt produced the result: 1, 2 (larger detector input) or 3 (turned half a
    /// turn).
    pub attempt: u8,
    /// Stage timings.
    pub timings: ReadTimings,
}

impl MrzReading {
    /// Incode's MRZ score checks for this reading as of `today`.
    pub fn score_checks(&self, today: CalendarDate) -> MrzScoreChecks {
        match &self.zone {
            Some(zone) => zone.score_checks(today),
            None => MrzScoreChecks::unreadable(false),
        }
    }

    /// Every printed check digit of a parsed zone agrees.
    pub fn is_valid(&self) -> bool {
        self.zone.as_ref().is_some_and(|z| z.check_digits.all_valid())
    }
}

/// Reads MRZs. Load once (models are parsed and optimised at load) and share across threads.
#[derive(Debug)]
pub struct MrzReader {
    engine: OcrEngine,
    config: ReaderConfig,
}

/// What one attempt produced.
struct Attempt {
    zone: Option<MrzZone>,
    lines: Vec<RawLine>,
    found_lines: bool,
}

impl MrzReader {
    /// Loads the OCR models from `models_dir` with the default configuration.
    pub fn load(models_dir: &Path) -> Result<Self, OcrError> {
        Ok(Self::new(OcrEngine::load(models_dir)?, ReaderConfig::default()))
    }

    /// A reader over an already loaded engine.
    pub fn new(engine: OcrEngine, config: ReaderConfig) -> Self {
        Self { engine, config }
    }

    /// The OCR engine, for callers that need detection alone (capture feedback).
    pub fn engine(&self) -> &OcrEngine {
        &self.engine
    }

    /// The configuration in use.
    pub fn config(&self) -> &ReaderConfig {
        &self.config
    }

    /// Reads the MRZ of a document image, resolving two-digit years against today (UTC).
    pub fn read(&self, image: &RgbImage) -> Result<MrzReading, OcrError> {
        self.read_at(image, CalendarDate::today_utc())
    }

    /// Reads the MRZ of a document image, resolving two-digit years against `today`.
    pub fn read_at(&self, image: &RgbImage, today: CalendarDate) -> Result<MrzReading, OcrError> {
        let started = Instant::now();
        let mut timings = ReadTimings::default();
        let first = self.attempt(image, self.config.detect_side, false, today, &mut timings)?;
        let mut result = (first, 1u8);
        if !result.0.zone.as_ref().is_some_and(settled) {
            // Second attempt: a larger detector input finds the small or faint zones, and
            // fits the boxes of thin lines, that the first missed.
            let stretched;
            let retry_image = if self.config.retry_stretch {
                stretched = stretch_contrast(image);
                &stretched
            } else {
                image
            };
            let second = self.attempt(retry_image, self.config.retry_detect_side, false, today, &mut timings)?;
            if rank(&second) > rank(&result.0) {
                result = (second, 2);
            }
        }
        if !result.0.zone.as_ref().is_some_and(|z| z.check_digits.all_valid()) {
            // Third attempt: the same lines turned half a turn, for a page held upside down
            // (or turned a quarter turn counter-clockwise).
            let third = self.attempt(image, self.config.detect_side, true, today, &mut timings)?;
            if rank(&third) > rank(&result.0) {
                result = (third, 3);
            }
        }
        let (best, attempt) = result;
        timings.total_ms = ms(started);
        let outcome = match (&best.zone, best.found_lines) {
            (Some(_), _) => ReadOutcome::Parsed,
            (None, true) => ReadOutcome::Unparsable,
            (None, false) => ReadOutcome::NotFound,
        };
        Ok(MrzReading { outcome, zone: best.zone, raw_lines: best.lines, attempt, timings })
    }

    /// Detects candidate lines, then recognises them bottom-up, interpreting after each
    /// addition so that a clean two-line zone costs two recognitions.
    fn attempt(
        &self,
        image: &RgbImage,
        side: u32,
        flip: bool,
        today: CalendarDate,
        timings: &mut ReadTimings,
    ) -> Result<Attempt, OcrError> {
        let t = Instant::now();
        let boxes = self.engine.detect(image, side, &self.config.detect)?;
        let candidates = mrz_line_candidates(boxes, self.config.min_aspect, self.config.max_lines, flip);
        timings.detect_ms += ms(t);
        let mut recognised: Vec<(LineBox, OcrLine)> = Vec::new();
        let mut best: Option<MrzZone> = None;
        let width = self.config.recognize_width;
        let mut pending = candidates.iter().rev();
        // Every zone has at least two lines: recognise the bottom two, then add lines above
        // one at a time while the reading is not settled.
        let t = Instant::now();
        let first: Vec<LineBox> = pending.by_ref().take(2).copied().collect();
        for line in &first {
            let ocr = self.engine.recognize(image, line, width)?;
            recognised.insert(0, (*line, ocr));
        }
        timings.recognize_ms += ms(t);
        let mut next = pending.next();
        while recognised.len() >= 2 {
            let t = Instant::now();
            let lines: Vec<OcrLine> = recognised.iter().map(|(_, l)| l.clone()).collect();
            let zone = interpret(&lines, today).ok();
            timings.interpret_ms += ms(t);
            if zone_rank(zone.as_ref()) > zone_rank(best.as_ref()) {
                best = zone;
            }
            let Some(line) = next.filter(|_| !best.as_ref().is_some_and(settled)) else {
                break;
            };
            let t = Instant::now();
            let ocr = self.engine.recognize(image, line, width)?;
            timings.recognize_ms += ms(t);
            recognised.insert(0, (*line, ocr));
            next = pending.next();
        }
        let lines = recognised
            .into_iter()
            .map(|(region, l)| RawLine { confidence: l.mean_confidence().unwrap_or(0.0), text: l.text, region })
            .collect();
        Ok(Attempt { zone: best, lines, found_lines: candidates.len() >= 2 })
    }
}

/// A reading that needs no second attempt: every check digit agrees, every cell was read,
/// and the recogniser was reasonably sure (line 1 of most formats has no check digit, so
/// confidence is its only guard).
fn settled(zone: &MrzZone) -> bool {
    zone.check_digits.all_valid() && zone.unreadable_cells() == 0 && zone.confidence >= 0.8
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Orders readings: parsed, then every check digit valid, then more verified digits, then
/// fewer unreadable cells, then confidence (in thousandths).
fn zone_rank(zone: Option<&MrzZone>) -> (bool, bool, usize, i64, i64) {
    match zone {
        None => (false, false, 0, 0, 0),
        Some(z) => (
            true,
            z.check_digits.all_valid(),
            z.check_digits.tally().0,
            -(z.unreadable_cells() as i64),
            (z.confidence * 1000.0) as i64,
        ),
    }
}

fn rank(a: &Attempt) -> ((bool, bool, usize, i64, i64), bool) {
    let (parsed, valid, verified, unreadable, confidence) = zone_rank(a.zone.as_ref());
    ((valid, parsed, verified, unreadable, confidence), a.found_lines)
}

/// MRZ line candidates among detector boxes: long thin boxes (after joining pieces of one
/// line), the last `max` of those at least half as long as the longest, in reading order
/// (top to bottom in the text's own frame, so a page photographed sideways works too).
///
/// With `flip`, every box is turned half a turn first: an upside-down page (or one turned a
/// quarter turn counter-clockwise) then reads the right way round.
pub fn mrz_line_candidates(boxes: Vec<LineBox>, min_aspect: f32, max: usize, flip: bool) -> Vec<LineBox> {
    let mut long: Vec<LineBox> = merge_collinear(boxes).into_iter().filter(|b| b.aspect() >= min_aspect).collect();
    let widest = long.iter().map(|b| b.width).fold(0.0f32, f32::max);
    long.retain(|b| b.width >= 0.5 * widest);
    if flip {
        for b in &mut long {
            b.angle += std::f32::consts::PI;
        }
    }
    let (nx, ny) = text_down(&long);
    long.sort_by(|a, b| (a.cx * nx + a.cy * ny).total_cmp(&(b.cx * nx + b.cy * ny)));
    if long.len() > max {
        long.drain(..long.len() - max);
    }
    long
}

/// Unit vector pointing "down" in the text's frame: the normal of the lines' mean reading
/// direction (angles averaged on the doubled circle, so ±90° do not cancel out), turned by
/// a half turn when the lines themselves point leftwards.
pub fn text_down(lines: &[LineBox]) -> (f32, f32) {
    let (c, s) = lines
        .iter()
        .fold((0.0f32, 0.0f32), |(c, s), b| (c + (2.0 * b.angle).cos() * b.width, s + (2.0 * b.angle).sin() * b.width));
    if c == 0.0 && s == 0.0 {
        return (0.0, 1.0);
    }
    let mut theta = 0.5 * s.atan2(c);
    // Keep the reading direction the lines carry (a flipped set points left).
    if let Some(first) = lines.first()
        && (first.angle - theta).cos() < 0.0
    {
        theta += std::f32::consts::PI;
    }
    (-theta.sin(), theta.cos())
}

/// Linear contrast stretch of each channel between its 1st and 99th percentile of
/// luminance, so faint or washed-out print reaches the detector's full range.
pub fn stretch_contrast(image: &RgbImage) -> RgbImage {
    let mut hist = [0usize; 256];
    for p in image.pixels() {
        hist[luma(p.0) as usize] += 1;
    }
    let total: usize = hist.iter().sum();
    let pick = |fraction: f64| -> u8 {
        let target = (total as f64 * fraction) as usize;
        let mut acc = 0;
        for (v, n) in hist.iter().enumerate() {
            acc += n;
            if acc > target {
                return v as u8;
            }
        }
        255
    };
    let (lo, hi) = (pick(0.01), pick(0.99));
    if hi <= lo.saturating_add(8) {
        return image.clone();
    }
    let scale = 255.0 / f32::from(hi - lo);
    let mut out = image.clone();
    for p in out.pixels_mut() {
        for c in &mut p.0 {
            *c = ((f32::from(*c) - f32::from(lo)) * scale).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Rec. 601 luma.
pub(crate) fn luma(p: [u8; 3]) -> u8 {
    ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cy: f32, width: f32) -> LineBox {
        LineBox { cx: 500.0, cy, width, height: 30.0, angle: 0.0, score: 0.9 }
    }

    #[test]
    fn candidates_are_the_bottom_long_lines() {
        let boxes =
            vec![line(100.0, 900.0), line(300.0, 200.0), line(700.0, 950.0), line(740.0, 950.0), line(780.0, 400.0)];
        let c = mrz_line_candidates(boxes.clone(), 10.0, 2, false);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].cy, c[1].cy), (700.0, 740.0));
        // Turned half a turn, the page's top is the text's bottom: the line at the top of
        // the image comes last.
        let f = mrz_line_candidates(boxes, 10.0, 2, true);
        assert_eq!((f[0].cy, f[1].cy), (700.0, 100.0));
        assert!((f[0].angle - std::f32::consts::PI).abs() < 1e-6);
    }

    #[test]
    fn sideways_lines_are_ordered_in_their_own_frame() {
        // A page turned a quarter turn clockwise: lines run downwards, line 1 rightmost.
        let vertical = |cx: f32| LineBox {
            cx,
            cy: 500.0,
            width: 900.0,
            height: 30.0,
            angle: std::f32::consts::FRAC_PI_2,
            score: 0.9,
        };
        let c = mrz_line_candidates(vec![vertical(100.0), vertical(140.0)], 10.0, 2, false);
        assert_eq!((c[0].cx, c[1].cx), (140.0, 100.0));
    }

    #[test]
    fn contrast_stretch_spans_the_range() {
        let mut img = RgbImage::from_pixel(20, 20, image::Rgb([100, 100, 100]));
        for x in 0..20 {
            img.put_pixel(x, 0, image::Rgb([140, 140, 140]));
        }
        let out = stretch_contrast(&img);
        assert_eq!(out.get_pixel(0, 5).0, [0, 0, 0]);
        assert_eq!(out.get_pixel(0, 0).0, [255, 255, 255]);
        let flat = RgbImage::from_pixel(4, 4, image::Rgb([9, 9, 9]));
        assert_eq!(stretch_contrast(&flat), flat);
    }
}
