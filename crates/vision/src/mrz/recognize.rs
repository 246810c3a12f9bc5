//! Line crops for the recogniser and greedy CTC decoding restricted to the MRZ alphabet.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::charset::{MRZ_ALPHABET, MrzClasses};
use super::detect::LineBox;

/// Height the PP-OCRv4 recogniser was trained on.
pub const REC_HEIGHT: usize = 48;

/// One character emitted by the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OcrChar {
    /// The character, always in the MRZ alphabet.
    pub ch: char,
    /// Highest probability the model gave this character over its time steps.
    pub confidence: f32,
    /// Horizontal centre of the character in the line crop, 0 (left) to 1 (right).
    pub x: f32,
    /// The best other MRZ character at the same time step and its probability, so that
    /// repair can try the model's own second choice before generic look-alikes.
    pub alternative: Option<(char, f32)>,
}

/// One recognised line: its text and the evidence behind each character.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OcrLine {
    /// The decoded text (MRZ alphabet only).
    pub text: String,
    /// Per-character detail, same order as `text`.
    pub chars: Vec<OcrChar>,
}

impl OcrLine {
    /// A line known only by its text (no positions or confidences), e.g. typed or from
    /// another OCR engine.
    pub fn from_text(text: &str) -> Self {
        Self { text: text.to_string(), chars: Vec::new() }
    }

    /// Mean per-character confidence, or `None` for a text-only line.
    pub fn mean_confidence(&self) -> Option<f32> {
        if self.chars.is_empty() {
            return None;
        }
        Some(self.chars.iter().map(|c| c.confidence).sum::<f32>() / self.chars.len() as f32)
    }
}

/// Samples the rotated rectangle `line` from `image` into a `width × REC_HEIGHT` tensor in
/// the recogniser's layout (CHW, BGR, scaled to [-1, 1]).
///
/// Bilinear sampling with up to 4×4 sub-samples per output pixel when the crop is shrunk,
/// so that a high-resolution photo does not alias its thin MRZ strokes.
pub fn crop_for_recognition(image: &RgbImage, line: &LineBox, width: usize) -> Vec<f32> {
    let height = REC_HEIGHT;
    let mut out = vec![0f32; 3 * height * width];
    let (iw, ih) = (image.width() as usize, image.height() as usize);
    if iw == 0 || ih == 0 || width == 0 {
        return out;
    }
    let (ux, uy) = line.axis();
    let (vx, vy) = (-uy, ux);
    let step_u = line.width / width as f32;
    let step_v = line.height / height as f32;
    let taps_u = (step_u.ceil() as usize).clamp(1, 4);
    let taps_v = (step_v.ceil() as usize).clamp(1, 4);
    let norm = 1.0 / (taps_u * taps_v) as f32;
    let raw = image.as_raw();
    let plane = height * width;
    for j in 0..height {
        for i in 0..width {
            let mut acc = [0f32; 3];
            for sv in 0..taps_v {
                let fv = (j as f32 + (sv as f32 + 0.5) / taps_v as f32) * step_v - line.height / 2.0;
                for su in 0..taps_u {
                    let fu = (i as f32 + (su as f32 + 0.5) / taps_u as f32) * step_u - line.width / 2.0;
                    let sx = line.cx + fu * ux + fv * vx - 0.5;
                    let sy = line.cy + fu * uy + fv * vy - 0.5;
                    let px = bilinear(raw, iw, ih, sx, sy);
                    acc[0] += px[0];
                    acc[1] += px[1];
                    acc[2] += px[2];
                }
            }
            let idx = j * width + i;
            // BGR order, (x / 255 - 0.5) / 0.5
            out[idx] = acc[2] * norm / 127.5 - 1.0;
            out[plane + idx] = acc[1] * norm / 127.5 - 1.0;
            out[2 * plane + idx] = acc[0] * norm / 127.5 - 1.0;
        }
    }
    out
}

/// Bilinear RGB sample with edge clamping.
pub(crate) fn bilinear(raw: &[u8], w: usize, h: usize, x: f32, y: f32) -> [f32; 3] {
    let x = if x.is_finite() { x.clamp(0.0, (w - 1) as f32) } else { 0.0 };
    let y = if y.is_finite() { y.clamp(0.0, (h - 1) as f32) } else { 0.0 };
    let x0 = x.floor() as usize;
    let y0 = y.floor() as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = x - x0 as f32;
    let fy = y - y0 as f32;
    let at = |xx: usize, yy: usize, c: usize| f32::from(raw[(yy * w + xx) * 3 + c]);
    let mut px = [0f32; 3];
    for (c, p) in px.iter_mut().enumerate() {
        let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
        let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
        *p = top * (1.0 - fy) + bottom * fy;
    }
    px
}

/// Consecutive time steps that picked the same MRZ character.
struct Run {
    slot: usize,
    start: usize,
    end: usize,
    /// Highest probability over the run.
    prob: f32,
    /// Second-best character (slot, probability) at the step of `prob`.
    alt: Option<(usize, f32)>,
}

/// Greedy CTC decoding of a `steps × num_classes` row-major probability matrix, looking only
/// at blank and the MRZ alphabet.
///
/// Each step picks blank or the most probable MRZ character (upper- and lower-case
/// probabilities of a letter are added); runs of the same pick collapse into one character
/// unless separated by blank.
pub fn ctc_decode_mrz(probs: &[f32], steps: usize, classes: &MrzClasses) -> OcrLine {
    let n = classes.num_classes;
    let mut line = OcrLine::default();
    if steps == 0 || n == 0 || probs.len() < steps * n {
        return line;
    }
    let alphabet = MRZ_ALPHABET.len();
    let mut current: Option<Run> = None;
    let mut runs: Vec<Run> = Vec::new();
    for t in 0..steps {
        let row = &probs[t * n..(t + 1) * n];
        let score = |slot: usize| -> f32 {
            let p = row.get(classes.upper[slot]).copied().unwrap_or(0.0);
            let q = classes.lower[slot].and_then(|c| row.get(c).copied()).unwrap_or(0.0);
            let s = p + q;
            if s.is_finite() { s } else { 0.0 }
        };
        let mut best = (0usize, f32::MIN);
        let mut second = (0usize, f32::MIN);
        for slot in 0..alphabet {
            let s = score(slot);
            if s > best.1 {
                second = best;
                best = (slot, s);
            } else if s > second.1 {
                second = (slot, s);
            }
        }
        let blank = row[0];
        let blank = if blank.is_finite() { blank } else { 0.0 };
        if blank >= best.1 {
            if let Some(run) = current.take() {
                runs.push(run);
            }
            continue;
        }
        let alt = (second.1 > 0.0).then_some(second);
        match &mut current {
            Some(run) if run.slot == best.0 => {
                run.end = t;
                if best.1 > run.prob {
                    run.prob = best.1;
                    run.alt = alt;
                }
            }
            _ => {
                if let Some(run) = current.take() {
                    runs.push(run);
                }
                current = Some(Run { slot: best.0, start: t, end: t, prob: best.1, alt });
            }
        }
    }
    if let Some(run) = current.take() {
        runs.push(run);
    }
    for Run { slot, start, end, prob, alt } in runs {
        let ch = MrzClasses::char_at(slot);
        line.text.push(ch);
        line.chars.push(OcrChar {
            ch,
            confidence: prob.clamp(0.0, 1.0),
            x: (start + end + 1) as f32 / 2.0 / steps as f32,
            alternative: alt.map(|(s, p)| (MrzClasses::char_at(s), p.clamp(0.0, 1.0))),
        });
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy_classes() -> MrzClasses {
        // dictionary = alphabet in order, then 'a'..'z'
        let mut dict: Vec<String> = MRZ_ALPHABET.chars().map(String::from).collect();
        dict.extend(('a'..='z').map(String::from));
        MrzClasses::from_dictionary(&dict.join("\n")).unwrap()
    }

    fn frame(classes: &MrzClasses, pick: Option<char>) -> Vec<f32> {
        let mut row = vec![0.001f32; classes.num_classes];
        match pick {
            None => row[0] = 0.9,
            Some(c) => {
                let slot = MRZ_ALPHABET.find(c).unwrap();
                row[classes.upper[slot]] = 0.9;
            }
        }
        row
    }

    #[test]
    fn collapses_repeats_but_keeps_blank_separated_fillers() {
        let classes = toy_classes();
        let seq = [Some('P'), Some('P'), None, Some('<'), Some('<'), None, Some('<'), None, Some('A')];
        let probs: Vec<f32> = seq.iter().flat_map(|p| frame(&classes, *p)).collect();
        let line = ctc_decode_mrz(&probs, seq.len(), &classes);
        assert_eq!(line.text, "P<<A");
        assert_eq!(line.chars.len(), 4);
        assert!((line.chars[0].x - 1.0 / 9.0).abs() < 1e-6);
        assert!(line.chars.iter().all(|c| c.confidence > 0.8));
    }

    #[test]
    fn lower_case_probability_counts_for_the_letter() {
        let classes = toy_classes();
        let mut row = vec![0.0f32; classes.num_classes];
        row[0] = 0.4; // blank
        row[classes.upper[14]] = 0.25; // 'O'
        row[classes.lower[14].unwrap()] = 0.25; // 'o'
        row[classes.upper[26]] = 0.3; // '0'
        let line = ctc_decode_mrz(&row, 1, &classes);
        assert_eq!(line.text, "O");
        assert_eq!(line.chars[0].alternative.map(|a| a.0), Some('0'));
    }

    #[test]
    fn non_mrz_classes_are_ignored_and_bad_input_is_harmless() {
        let classes = toy_classes();
        let mut row = vec![0.0f32; classes.num_classes];
        row[classes.num_classes - 1] = 0.99; // space class wins overall
        row[classes.upper[0]] = 0.005;
        row[0] = 0.004;
        assert_eq!(ctc_decode_mrz(&row, 1, &classes).text, "A");
        assert_eq!(ctc_decode_mrz(&[], 3, &classes).text, "");
        let nan = vec![f32::NAN; classes.num_classes];
        assert_eq!(ctc_decode_mrz(&nan, 1, &classes).text, "");
    }

    #[test]
    fn crop_of_a_uniform_image_is_uniform() {
        let image = RgbImage::from_pixel(40, 20, image::Rgb([255, 0, 0]));
        let line = LineBox { cx: 20.0, cy: 10.0, width: 30.0, height: 8.0, angle: 0.1, score: 1.0 };
        let data = crop_for_recognition(&image, &line, 64);
        let plane = REC_HEIGHT * 64;
        assert!(data[..plane].iter().all(|v| (*v + 1.0).abs() < 1e-4)); // blue = 0
        assert!(data[2 * plane..].iter().all(|v| (*v - 1.0).abs() < 1e-4)); // red = 255
    }
}
