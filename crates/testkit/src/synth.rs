//! Test inputs generated at test time: identity documents with a real MRZ (emitted by the `mrz`
//! crate, rendered in OCR-B) and a portrait cut from a face photo, and head-turn frame
//! sequences rendered from one frontal photo. Nothing generated here is committed.
//!
//! The rendering primitives are shared with the vision crate's own tests (included by path, so
//! there is one copy of each).

#[path = "../../vision/tests/common/headturn.rs"]
mod headturn;
#[path = "../../vision/tests/support/mod.rs"]
mod mrz_support;

use image::{Rgb, RgbImage};
use veriframe_vision::decode::{DecodeLimits, decode, encode_jpeg};
use veriframe_vision::face::engine::largest;
use veriframe_vision::face::{DetectorKind, Keypoints};

pub use headturn::Rng;

use crate::{engines, testdata_dir};

/// A photo from `../shared/testdata`, decoded upright.
pub fn photo(relative: &str) -> RgbImage {
    let path = testdata_dir().join(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decode(&bytes, &DecodeLimits::default()).expect("decode test photo").image
}

/// Baseline JPEG, as a browser's canvas would send it.
pub fn jpeg(image: &RgbImage) -> Vec<u8> {
    encode_jpeg(image, 90).expect("encode")
}

/// What the document says about its holder.
#[derive(Debug, Clone)]
pub struct Holder {
    pub surname: String,
    pub given_names: String,
    pub document_number: String,
    pub nationality: String,
    /// (year, month, day)
    pub birth: (i32, u8, u8),
    pub expiry: (i32, u8, u8),
    pub sex: mrz::Sex,
}

impl Holder {
    /// A holder whose document is valid for years to come.
    pub fn valid(surname: &str, given_names: &str) -> Self {
        Self {
            surname: surname.into(),
            given_names: given_names.into(),
            document_number: "L898902C3".into(),
            nationality: "UTO".into(),
            birth: (1974, 8, 12),
            expiry: (2034, 4, 15),
            sex: mrz::Sex::Female,
        }
    }

    fn date((y, m, d): (i32, u8, u8)) -> mrz::MrzDate {
        mrz::MrzDate::Calendar(mrz::Date::new(y, u32::from(m), u32::from(d)))
    }

    /// The TD3 zone (two lines of 44), every check digit right.
    pub fn td3(&self) -> Vec<String> {
        let zone = mrz::format_td3(&mrz::Td3Fields {
            issuing_country: self.nationality.clone(),
            document_number: self.document_number.clone(),
            surname: self.surname.clone(),
            given_names: self.given_names.clone(),
            nationality: self.nationality.clone(),
            date_of_birth: Self::date(self.birth),
            sex: self.sex,
            date_of_expiry: Self::date(self.expiry),
            ..Default::default()
        });
        zone.lines().map(str::to_owned).collect()
    }
}

/// The frontal face of `photo`, cut generously, for a document portrait.
fn portrait(photo: &RgbImage) -> RgbImage {
    let engines = engines().expect("models");
    let dets = engines.face.detect(photo, DetectorKind::Full256).expect("detect");
    let face = largest(&dets).expect("a face in the portrait photo");
    let crop = veriframe_vision::face::crop_face(photo, face, 2.2, 600).expect("crop");
    image::imageops::resize(&crop, 260, 320, image::imageops::FilterType::Triangle)
}

/// A passport data page (TD3): header text, the holder's portrait, printed fields and the MRZ.
pub fn passport(portrait_photo: &RgbImage, holder: &Holder) -> RgbImage {
    let font = mrz_support::ocrb_font().expect("the OCR-B font (apt-get install fonts-ocr-b)");
    let px = 26.0;
    let lines = holder.td3();
    let zone_width = mrz_support::text_width(&font, &lines[0], px);
    let width = (zone_width + 2.0 * px).ceil() as u32;
    let height = (width as f32 * 0.7).ceil() as u32;
    let mut page = RgbImage::from_pixel(width, height, Rgb([238, 236, 228]));
    let face = portrait(portrait_photo);
    image::imageops::overlay(&mut page, &face, i64::from(width / 20), i64::from(height / 8));
    let text_x = (width / 20 + face.width() + 40) as f32;
    let fields = [
        "PASSPORT  UTOPIA".to_owned(),
        format!("SURNAME  {}", holder.surname),
        format!("GIVEN NAMES  {}", holder.given_names),
        format!("DATE OF BIRTH  {:02}.{:02}.{}", holder.birth.2, holder.birth.1, holder.birth.0),
        format!("DATE OF EXPIRY  {:02}.{:02}.{}", holder.expiry.2, holder.expiry.1, holder.expiry.0),
    ];
    for (i, text) in fields.iter().enumerate() {
        mrz_support::draw_text(
            &mut page,
            &font,
            text,
            px * 0.8,
            text_x,
            height as f32 / 8.0 + 30.0 + 42.0 * i as f32,
            50,
        );
    }
    let pitch = px * 1.45;
    let first_baseline = height as f32 - px - pitch * 1.2;
    for (i, line) in lines.iter().enumerate() {
        mrz_support::draw_text(&mut page, &font, line, px, px, first_baseline + pitch * i as f32, 25);
    }
    page
}

/// The 480×640 frontal frame of `photo` and the face's keypoints in it.
pub fn frontal(photo: &RgbImage) -> (RgbImage, Keypoints) {
    let engines = engines().expect("models");
    let dets = engines.face.detect(photo, DetectorKind::Full256).expect("detect");
    let frame = headturn::selfie_frame(photo, &largest(&dets).expect("a face").keypoints);
    let dets = engines.face.detect(&frame, DetectorKind::Full256).expect("detect");
    let kp = largest(&dets).expect("a face in the frame").keypoints;
    (frame, kp)
}

/// `n` frames of a head turn of about 35° to the subject's `left` (or right) and back,
/// rendered from the frontal `photo`, with camera noise.
pub fn head_turn(photo: &RgbImage, left: bool, n: usize, seed: u64) -> Vec<RgbImage> {
    let (frame, kp) = frontal(photo);
    let angles = headturn::turn_angles(if left { 35.0 } else { -35.0 });
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let at = if n <= 1 { 0 } else { (i * (angles.len() - 1) + (n - 1) / 2) / (n - 1) };
            headturn::capture(&headturn::turn_head(&frame, &kp, angles[at]), &mut rng)
        })
        .collect()
}

/// `n` frames of the frontal photo held still (camera noise only): what a printed photo or a
/// screen shows.
pub fn still(photo: &RgbImage, n: usize, seed: u64) -> Vec<RgbImage> {
    let (frame, _) = frontal(photo);
    let mut rng = Rng::new(seed);
    (0..n).map(|_| headturn::capture(&frame, &mut rng)).collect()
}
