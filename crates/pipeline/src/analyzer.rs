//! Immediate capture checks: the person hears within about a second whether to retake.

use std::sync::Arc;

use async_trait::async_trait;
use image::RgbImage;
use veriframe_core::capture::{ImageCropper, RelativeRect};
use veriframe_core::ports::{AnalyzeError, CaptureAnalyzer, CheckedFilm, CheckedImage, FilmCheck};
use veriframe_core::verification::{CaptureKind, CaptureProblem, CaptureSummary};
use veriframe_vision::decode::{DecodeLimits, decode, encode_jpeg};
use veriframe_vision::document::assess_document;
use veriframe_vision::face::CaptureIssue;
use veriframe_vision::mrz::MrzReading;

use crate::convert::document_class;
use crate::cpu::{CpuError, CpuPool};
use crate::engines::Engines;

/// JPEG quality of stored captures: visually lossless for documents, a quarter of a PNG.
pub const STORED_JPEG_QUALITY: u8 = 92;

/// The engine-backed [`CaptureAnalyzer`].
#[derive(Debug, Clone)]
pub struct Analyzer {
    engines: Arc<Engines>,
    cpu: CpuPool,
}

impl Analyzer {
    pub fn new(engines: Arc<Engines>, cpu: CpuPool) -> Self {
        Self { engines, cpu }
    }
}

fn decoded(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, AnalyzeError> {
    decode(bytes, limits).map(|d| d.image).map_err(|e| AnalyzeError::BadImage(format!("not a usable image: {e}")))
}

fn stored(image: &RgbImage) -> Result<Vec<u8>, AnalyzeError> {
    encode_jpeg(image, STORED_JPEG_QUALITY).map_err(|e| AnalyzeError::Internal(e.to_string()))
}

fn push(problems: &mut Vec<CaptureProblem>, p: CaptureProblem) {
    if !problems.contains(&p) {
        problems.push(p);
    }
}

/// Checks a document side or a selfie (synchronous; runs on the CPU pool).
pub fn check_image(engines: &Engines, kind: CaptureKind, bytes: &[u8]) -> Result<CheckedImage, AnalyzeError> {
    let image = decoded(bytes, &engines.limits)?;
    let jpeg = stored(&image)?;
    let mut problems = Vec::new();
    let mut summary = CaptureSummary::default();
    match kind {
        CaptureKind::Front | CaptureKind::Back => {
            let quality = assess_document(&image, &engines.document_quality);
            if quality.blurry {
                push(&mut problems, CaptureProblem::Blurry);
            }
            if quality.glare {
                push(&mut problems, CaptureProblem::Glare);
            }
            if quality.brightness < 40.0 {
                push(&mut problems, CaptureProblem::TooDark);
            }
            let faces = engines.face.analyze_document(&image).map_err(|e| AnalyzeError::Internal(e.to_string()))?;
            let face_count = u32::try_from(faces.face_count()).unwrap_or(u32::MAX);
            summary.faces = Some(face_count);
            let reading = engines.mrz.read(&image).map_err(|e| AnalyzeError::Internal(e.to_string()))?;
            describe_mrz(&reading, &mut summary);
            for p in document_problems(kind, &reading, face_count, &mut summary) {
                push(&mut problems, p);
            }
        }
        CaptureKind::Selfie => {
            let analysis = engines.face.analyze_selfie(&image).map_err(|e| AnalyzeError::Internal(e.to_string()))?;
            summary.faces = Some(u32::try_from(analysis.face_count()).unwrap_or(u32::MAX));
            for issue in veriframe_vision::face::selfie_issues(&analysis, &engines.selfie_quality) {
                push(&mut problems, selfie_problem(issue));
            }
        }
        CaptureKind::Liveness => {
            return Err(AnalyzeError::BadImage("liveness frames are checked as a sequence".into()));
        }
    }
    Ok(CheckedImage { jpeg, problems, summary, width: image.width(), height: image.height() })
}

fn describe_mrz(reading: &MrzReading, summary: &mut CaptureSummary) {
    if let Some(zone) = &reading.zone {
        summary.mrz_format = Some(crate::convert::format_name(zone.format).to_owned());
        summary.mrz_valid = Some(reading.is_valid());
    }
}

/// Front: a portrait, and for passports and visas a valid MRZ. Back: a valid MRZ. A card's
/// back shown as its front (MRZ, no portrait) or the reverse is the wrong side.
fn document_problems(
    kind: CaptureKind,
    reading: &MrzReading,
    faces: u32,
    summary: &mut CaptureSummary,
) -> Vec<CaptureProblem> {
    let class = reading.zone.as_ref().map(|z| document_class(z.format));
    match kind {
        CaptureKind::Front => match class {
            Some(veriframe_core::verification::DocumentClass::IdentityCard) if faces == 0 => {
                vec![CaptureProblem::WrongSide]
            }
            Some(class) => {
                summary.document_class = Some(class);
                let mut problems = Vec::new();
                if faces == 0 {
                    problems.push(CaptureProblem::NoFace);
                }
                if class != veriframe_core::verification::DocumentClass::IdentityCard && !reading.is_valid() {
                    problems.push(CaptureProblem::MrzUnreadable);
                }
                problems
            }
            None if faces == 0 => vec![CaptureProblem::NoFace],
            None => {
                // A portrait and no MRZ: the front of a card whose MRZ is on the back.
                summary.document_class = Some(veriframe_core::verification::DocumentClass::IdentityCard);
                Vec::new()
            }
        },
        _ => match class {
            None if faces > 0 => vec![CaptureProblem::WrongSide],
            None => vec![CaptureProblem::MrzUnreadable],
            Some(_) if !reading.is_valid() => vec![CaptureProblem::MrzUnreadable],
            Some(_) => Vec::new(),
        },
    }
}

fn selfie_problem(issue: CaptureIssue) -> CaptureProblem {
    match issue {
        CaptureIssue::NoFace => CaptureProblem::NoFace,
        CaptureIssue::MultipleFaces => CaptureProblem::MultipleFaces,
        CaptureIssue::FaceTooSmall => CaptureProblem::FaceTooSmall,
        CaptureIssue::FaceTooClose => CaptureProblem::FaceTooClose,
        CaptureIssue::TooDark => CaptureProblem::TooDark,
        CaptureIssue::TooBright => CaptureProblem::TooBright,
        CaptureIssue::Blurry => CaptureProblem::Blurry,
        CaptureIssue::TurnedAway | CaptureIssue::Tilted => CaptureProblem::FaceNotFrontal,
    }
}

#[async_trait]
impl CaptureAnalyzer for Analyzer {
    async fn check_image(&self, kind: CaptureKind, bytes: Vec<u8>) -> Result<CheckedImage, AnalyzeError> {
        let engines = self.engines.clone();
        self.cpu.run(move || check_image(&engines, kind, &bytes)).await.map_err(cpu_error)?
    }

    async fn check_film(&self, check: FilmCheck) -> Result<CheckedFilm, AnalyzeError> {
        let engines = self.engines.clone();
        self.cpu.run(move || crate::liveness::check_film(&engines, &check)).await.map_err(cpu_error)?
    }

    fn ready(&self) -> bool {
        true
    }
}

fn cpu_error(e: CpuError) -> AnalyzeError {
    match e {
        CpuError::Busy { retry_after } => AnalyzeError::Busy { retry_after },
        CpuError::Failed(detail) => AnalyzeError::Internal(detail),
    }
}

/// Cuts the document out along the guide frame the page showed.
#[derive(Debug, Clone, Copy, Default)]
pub struct JpegCropper;

impl ImageCropper for JpegCropper {
    fn crop(&self, jpeg: &[u8], rect: RelativeRect) -> Option<Vec<u8>> {
        let image = decode(jpeg, &DecodeLimits::default()).ok()?.image;
        let (w, h) = (image.width() as f32, image.height() as f32);
        let x = (rect.x * w).floor().max(0.0) as u32;
        let y = (rect.y * h).floor().max(0.0) as u32;
        let cw = ((rect.width * w).round() as u32).min(image.width().saturating_sub(x));
        let ch = ((rect.height * h).round() as u32).min(image.height().saturating_sub(y));
        if cw < 16 || ch < 16 {
            return None;
        }
        let cropped = image::imageops::crop_imm(&image, x, y, cw, ch).to_image();
        encode_jpeg(&cropped, STORED_JPEG_QUALITY).ok()
    }
}
