//! Reading image files for vision commands: bounded decoding with EXIF orientation applied.
//!
//! Kept minimal here so that MRZ commands do not wait for the vision crate's decoder; once
//! that lands, these commands should call it instead.

use std::path::Path;

use anyhow::Context;
use image::{ImageDecoder, ImageReader, Limits, RgbImage};

/// Largest file read, in bytes.
const MAX_FILE_BYTES: u64 = 40 * 1024 * 1024;
/// Largest width or height accepted.
const MAX_SIDE: u32 = 12_000;

/// Decodes `path` to RGB, applying its EXIF orientation.
pub fn load_rgb(path: &Path) -> anyhow::Result<RgbImage> {
    let size = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    anyhow::ensure!(size <= MAX_FILE_BYTES, "{} is {size} bytes; the limit is {MAX_FILE_BYTES}", path.display());
    let mut reader = ImageReader::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().with_context(|| format!("{} is not a supported image", path.display()))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image =
        image::DynamicImage::from_decoder(decoder).with_context(|| format!("cannot decode {}", path.display()))?;
    image.apply_orientation(orientation);
    Ok(image.to_rgb8())
}
