//! Identity documents for tests and the lab: random machine-readable zones emitted by the `mrz`
//! crate (so every check digit is right), rendered in OCR-B, and degraded the way a camera
//! degrades them (blur, noise, uneven light, rotation).

use std::path::PathBuf;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use rand::Rng;
use rand::rngs::StdRng;

use crate::testenv::require;

/// The OCR-B font from Debian `fonts-ocr-b` (or `VERIFRAME_OCRB_FONT`).
pub fn ocrb_font() -> Option<FontVec> {
    let path = std::env::var_os("VERIFRAME_OCRB_FONT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/fonts/opentype/ocr-b/OCRB.otf"));
    let path = require("OCR-B font (apt-get install fonts-ocr-b)", path)?;
    let bytes = std::fs::read(path).expect("read font");
    Some(FontVec::try_from_vec(bytes).expect("parse OCR-B font"))
}

const SURNAMES: &[&str] = &[
    "ERIKSSON",
    "MUSTERMANN",
    "DUPONT",
    "ROSSI",
    "NOWAK",
    "OBRIEN",
    "GARCIA MARQUEZ",
    "SMITH",
    "HAEKKINEN",
    "DE LA CRUZ",
    "OKONKWO",
    "NGUYEN",
    "KOWALSKA",
];
const GIVEN: &[&str] =
    &["ANNA MARIA", "JOHN", "ERIKA", "JEAN PIERRE", "CHIDI", "LUCA", "MARIA JOSE", "KAI", "SEAN", ""];
const COUNTRIES: &[&str] = &["UTO", "GBR", "NGA", "ESP", "POL", "FRA", "ITA", "NLD", "D", "CAN", "JPN"];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn alnum(rng: &mut StdRng, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

fn date(rng: &mut StdRng, years: std::ops::Range<i32>) -> mrz::MrzDate {
    mrz::MrzDate::Calendar(mrz::Date::new(rng.random_range(years), rng.random_range(1..=12), rng.random_range(1..=28)))
}

fn sex(rng: &mut StdRng) -> mrz::Sex {
    match rng.random_range(0..3) {
        0 => mrz::Sex::Male,
        1 => mrz::Sex::Female,
        _ => mrz::Sex::Unspecified,
    }
}

/// Which layout to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Td3,
    Td2,
    Td1,
    MrvA,
    MrvB,
}

/// A random zone of `layout`, emitted by the `mrz` crate (so every check digit is right).
pub fn random_zone(rng: &mut StdRng, layout: Layout) -> Vec<String> {
    let issuing = pick(rng, COUNTRIES).to_string();
    let nationality = pick(rng, COUNTRIES).to_string();
    let surname = pick(rng, SURNAMES).to_string();
    let given = pick(rng, GIVEN).to_string();
    let number_len = rng.random_range(6..=9);
    let document_number = alnum(rng, number_len);
    let birth = date(rng, 1940..2015);
    let expiry = date(rng, 2020..2036);
    let sex = sex(rng);
    let optional = |rng: &mut StdRng, max: usize| -> Option<String> {
        rng.random_bool(0.5).then(|| {
            let n = rng.random_range(1..=max);
            alnum(rng, n)
        })
    };
    let zone = match layout {
        Layout::Td3 => mrz::format_td3(&mrz::Td3Fields {
            issuing_country: issuing,
            document_number,
            surname,
            given_names: given,
            nationality,
            date_of_birth: birth,
            sex,
            date_of_expiry: expiry,
            personal_number: optional(rng, 14),
            ..Default::default()
        }),
        Layout::Td2 => mrz::format_td2(&mrz::Td2Fields {
            issuing_country: issuing,
            document_number,
            surname,
            given_names: given,
            nationality,
            date_of_birth: birth,
            sex,
            date_of_expiry: expiry,
            optional_data: optional(rng, 7),
            ..Default::default()
        }),
        Layout::Td1 => mrz::format_td1(&mrz::Td1Fields {
            issuing_country: issuing,
            document_number,
            optional_data_1: optional(rng, 15),
            surname,
            given_names: given,
            nationality,
            date_of_birth: birth,
            sex,
            date_of_expiry: expiry,
            optional_data_2: optional(rng, 11),
            ..Default::default()
        }),
        Layout::MrvA => mrz::format_mrv_a(&mrz::MrvAFields {
            issuing_country: issuing,
            document_number,
            surname,
            given_names: given,
            nationality,
            date_of_birth: birth,
            sex,
            date_of_expiry: expiry,
            optional_data: optional(rng, 16),
            ..Default::default()
        }),
        Layout::MrvB => mrz::format_mrv_b(&mrz::MrvBFields {
            issuing_country: issuing,
            document_number,
            surname,
            given_names: given,
            nationality,
            date_of_birth: birth,
            sex,
            date_of_expiry: expiry,
            optional_data: optional(rng, 8),
            ..Default::default()
        }),
    };
    zone.lines().map(str::to_string).collect()
}

/// Draws `text` in OCR-B at `px` pixels per em, starting at `(x, baseline)`, in `ink`.
pub fn draw_text(image: &mut RgbImage, font: &FontVec, text: &str, px: f32, x: f32, baseline: f32, ink: u8) {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut caret = x;
    for ch in text.chars() {
        let mut glyph = scaled.scaled_glyph(ch);
        glyph.position = ab_glyph::point(caret, baseline);
        caret += scaled.h_advance(glyph.id);
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            if px < 0 || py < 0 || px >= i64::from(image.width()) || py >= i64::from(image.height()) {
                return;
            }
            let p = image.get_pixel_mut(px as u32, py as u32);
            for c in &mut p.0 {
                let v = f32::from(*c) * (1.0 - coverage) + f32::from(ink) * coverage;
                *c = v.round().clamp(0.0, 255.0) as u8;
            }
        });
    }
}

/// Width in pixels of `text` at `px`.
pub fn text_width(font: &FontVec, text: &str, px: f32) -> f32 {
    let scaled = font.as_scaled(PxScale::from(px));
    text.chars().map(|c| scaled.h_advance(scaled.glyph_id(c))).sum()
}

/// The zone alone on a light background, lines spaced as on a document.
pub fn render_zone(font: &FontVec, lines: &[String], px: f32) -> RgbImage {
    let margin = px;
    let width = lines.iter().map(|l| text_width(font, l, px)).fold(0.0, f32::max) + 2.0 * margin;
    let pitch = px * 1.45;
    let height = pitch * lines.len() as f32 + margin * 1.2;
    let mut image = RgbImage::from_pixel(width.ceil() as u32, height.ceil() as u32, Rgb([236, 236, 232]));
    for (i, line) in lines.iter().enumerate() {
        draw_text(&mut image, font, line, px, margin, margin + px * 0.75 + pitch * i as f32, 25);
    }
    image
}

/// A document page: a few lines of visual-zone text above the zone, the zone at the bottom.
pub fn render_document(font: &FontVec, lines: &[String], px: f32) -> RgbImage {
    let zone = render_zone(font, lines, px);
    let header = ["REPUBLIC OF UTOPIA", "PASSPORT  PASSEPORT", "SURNAME  NOM", "GIVEN NAMES  PRENOMS"];
    let top = (px * 2.2 * header.len() as f32 + px * 3.0).ceil() as u32;
    let mut page = RgbImage::from_pixel(zone.width(), zone.height() + top, Rgb([236, 236, 232]));
    for (i, text) in header.iter().enumerate() {
        draw_text(&mut page, font, text, px * 0.9, px * 6.0, px * 2.0 + px * 2.2 * i as f32, 60);
    }
    image::imageops::overlay(&mut page, &zone, 0, i64::from(top));
    page
}

/// How to spoil an image.
#[derive(Debug, Clone, Copy, Default)]
pub struct Degradation {
    /// Gaussian blur sigma in pixels.
    pub blur: f32,
    /// Amplitude of uniform-sum noise (roughly its standard deviation ×1.7).
    pub noise: f32,
    /// JPEG quality (0 = no JPEG round trip).
    pub jpeg_quality: u8,
    /// In-plane rotation, degrees.
    pub rotation_deg: f32,
    /// Rescale factor (1 = unchanged).
    pub scale: f32,
}

/// Applies `d` to `image` (rotation, scale, blur, noise, JPEG, in that order).
pub fn degrade(image: &RgbImage, d: Degradation, rng: &mut StdRng) -> RgbImage {
    let mut out = if d.rotation_deg != 0.0 { rotate(image, d.rotation_deg) } else { image.clone() };
    if d.scale > 0.0 && (d.scale - 1.0).abs() > 1e-3 {
        let w = ((out.width() as f32) * d.scale).round().max(8.0) as u32;
        let h = ((out.height() as f32) * d.scale).round().max(8.0) as u32;
        out = image::imageops::resize(&out, w, h, image::imageops::FilterType::Triangle);
    }
    if d.blur > 0.0 {
        out = image::imageops::blur(&out, d.blur);
    }
    if d.noise > 0.0 {
        for p in out.pixels_mut() {
            let n: f32 = (0..3).map(|_| rng.random_range(-1.0f32..1.0)).sum::<f32>() * d.noise / 1.7;
            for c in &mut p.0 {
                *c = (f32::from(*c) + n).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    if d.jpeg_quality > 0 {
        let mut bytes = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, d.jpeg_quality);
        out.write_with_encoder(encoder).expect("encode jpeg");
        out = image::load_from_memory(&bytes).expect("decode jpeg").to_rgb8();
    }
    out
}

/// Rotation about the centre with bilinear sampling; the canvas keeps its size and the
/// uncovered corners take the background colour of the top-left pixel.
pub fn rotate(image: &RgbImage, degrees: f32) -> RgbImage {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let (s, c) = degrees.to_radians().sin_cos();
    let background = *image.get_pixel(0, 0);
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let dx = x as f32 + 0.5 - w / 2.0;
        let dy = y as f32 + 0.5 - h / 2.0;
        let sx = c * dx + s * dy + w / 2.0 - 0.5;
        let sy = -s * dx + c * dy + h / 2.0 - 0.5;
        if sx < 0.0 || sy < 0.0 || sx > w - 1.0 || sy > h - 1.0 {
            return background;
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(image.width() - 1), (y0 + 1).min(image.height() - 1));
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let mut out = [0u8; 3];
        for (i, o) in out.iter_mut().enumerate() {
            let p = |xx, yy| f32::from(image.get_pixel(xx, yy).0[i]);
            let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
            let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
            *o = (top * (1.0 - fy) + bottom * fy).round() as u8;
        }
        Rgb(out)
    })
}
