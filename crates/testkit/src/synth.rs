//! Test inputs generated at test time: identity documents with a real MRZ (emitted by the `mrz`
//! crate, rendered in OCR-B) and a portrait cut from a face photo, and head-turn films rendered
//! from one frontal photo (by `veriframe-synth`, the same renderer the liveness lab uses) and
//! sampled the way the hosted page does. Nothing generated here is committed.

use image::{Rgb, RgbImage};
use serde_json::Value;
use veriframe_synth::camera::{Framing, Subject};
use veriframe_synth::document as mrz_support;
use veriframe_synth::film::{self, Capture};
use veriframe_synth::motion::Gesture;
use veriframe_synth::sampling::FrameSampling;
use veriframe_vision::decode::{DecodeLimits, decode, encode_jpeg};
use veriframe_vision::face::engine::largest;
use veriframe_vision::face::{DetectorKind, Keypoints};

pub use veriframe_synth::Rng;
pub use veriframe_synth::film::Act;

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

/// Keypoints of the largest face in `photo` (full-range detector).
fn keypoints(photo: &RgbImage) -> Keypoints {
    let engines = engines().expect("models");
    let dets = engines.face.detect(photo, DetectorKind::Full256).expect("detect");
    largest(&dets).expect("a face in the photo").keypoints
}

/// A phone selfie: the face of `photo` in a 480×640 portrait frame, eyes 84 px apart.
pub const SELFIE: Framing = Framing { width: 480, height: 640, eye_x: 0.5, eye_y: 270.0 / 640.0, iod: 84.0 / 640.0 };

/// The 480×640 frontal frame of `photo` and the face's keypoints in it.
pub fn frontal(photo: &RgbImage) -> (RgbImage, Keypoints) {
    let placed = Subject::place(photo, &keypoints(photo), SELFIE);
    (placed.frame, placed.keypoints)
}

/// The person of `photo` in front of the camera the page films with.
pub fn subject(photo: &RgbImage) -> Subject {
    film::subject(photo, &keypoints(photo))
}

/// A head-turn film as the page uploads it: small frames, their times, the sharper first frame.
#[derive(Debug, Clone)]
pub struct FilmUpload {
    pub frames: Vec<Vec<u8>>,
    pub timestamps: Vec<u32>,
    pub key: Vec<u8>,
}

impl FilmUpload {
    /// The multipart body the page posts to `/flow/api/challenge/{id}/frames`.
    pub fn form(&self) -> reqwest::multipart::Form {
        let jpeg = |bytes: Vec<u8>, name: String| {
            reqwest::multipart::Part::bytes(bytes).file_name(name).mime_str("image/jpeg").expect("mime")
        };
        let mut form = reqwest::multipart::Form::new();
        for (i, frame) in self.frames.iter().enumerate() {
            form = form.part("frame", jpeg(frame.clone(), format!("frame-{i}.jpg")));
        }
        form.text("timestamps", serde_json::to_string(&self.timestamps).expect("json"))
            .part("key", jpeg(self.key.clone(), "key.jpg".into()))
    }
}

/// The page's sampling, read from a challenge response (`POST /flow/api/challenge`).
fn sampling(challenge: &Value) -> (Capture, FrameSampling) {
    let film = &challenge["film"];
    let int = |k: &str| u32::try_from(film[k].as_u64().unwrap_or_else(|| panic!("film.{k} in {challenge}"))).unwrap();
    let float = |k: &str| film[k].as_f64().unwrap_or_else(|| panic!("film.{k} in {challenge}")) as f32;
    let capture = Capture {
        interval_ms: int("intervalMs"),
        prompt_at_ms: int("promptAtMs"),
        after_prompt_ms: int("afterPromptMs"),
        sampling: FrameSampling {
            crop_height: float("cropHeight"),
            crop_aspect: float("cropAspect"),
            max_side: int("maxSide"),
            quality: u8::try_from(int("quality")).unwrap(),
        },
    };
    let key = FrameSampling {
        crop_height: 1.0,
        crop_aspect: 10.0,
        max_side: int("keyMaxSide"),
        quality: u8::try_from(int("keyQuality")).unwrap(),
    };
    (capture, key)
}

/// A clear, unhurried head turn of 35°: out in 0.6 s after a 0.4 s reaction, held 0.3 s, back
/// in 0.7 s (the lab plays the whole range of natural turns; tests play this one).
pub fn clear_turn(left: bool) -> Gesture {
    Gesture::plain(if left { 1.0 } else { -1.0 }, 35.0, 400.0, 600.0, 300.0, 700.0)
}

/// What the page would upload for `challenge` when `subject` performs `act` (for a genuine
/// turn: [`clear_turn`] toward the asked side).
pub fn film_for(subject: &Subject, challenge: &Value, act: Act, seed: u64) -> FilmUpload {
    let left = challenge["direction"] == "left";
    let (capture, key) = sampling(challenge);
    let mut rng = Rng::new(seed);
    let attempt = film::record_gesture(subject, act, clear_turn(left), &capture, &key, &mut rng);
    FilmUpload { frames: attempt.frames, timestamps: attempt.at_ms, key: attempt.key }
}
