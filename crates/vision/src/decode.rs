//! Untrusted image bytes → RGB pixels, with hard limits, and back to a clean JPEG.
//!
//! Uploads come from the public capture API, so every limit is checked before pixels are
//! allocated: byte size first, then the dimensions declared in the header (a small file that
//! declares a huge canvas is a decompression bomb), then the decoder runs under an allocation
//! cap. Truncation is detected from each format's own structure rather than trusting the
//! decoder, because some JPEG decoders silently fill a cut-off scan with grey. EXIF orientation
//! is applied so that faces are upright for the detector.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};
use serde::{Deserialize, Serialize};

/// Upper bounds for one decoded image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeLimits {
    /// Largest accepted encoded size.
    pub max_bytes: usize,
    /// Largest accepted width or height.
    pub max_dimension: u32,
    /// Smallest accepted width or height: below it nothing can be verified.
    pub min_dimension: u32,
    /// Largest accepted width × height: the pixel budget.
    pub max_pixels: u64,
    /// Cap on what the decoder may allocate while decoding.
    pub max_alloc: u64,
}

/// The pixel budget: 2²⁴ pixels (16.8 MP, e.g. 4096×4096). A phone's photo (12 MP, 4032×3024;
/// 16 MP, 4608×3456) and any camera frame a browser delivers fit; 48 MP "full resolution"
/// photos do not and are refused with a clear error. One accepted image decodes to at most
/// 48 MiB of RGB (with the decoder's own buffers and the analysis, ~170 MiB per CPU slot), which
/// is what keeps the server's memory bounded when every slot is busy.
pub const PIXEL_BUDGET: u64 = 1 << 24;

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            max_dimension: 8192,
            min_dimension: 32,
            max_pixels: PIXEL_BUDGET,
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

/// Container formats we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the image is empty")]
    Empty,
    #[error("the image is {len} bytes; at most {max} are accepted")]
    TooManyBytes { len: usize, max: usize },
    #[error("unsupported image format ({0}); send JPEG, PNG or WebP")]
    Unsupported(String),
    #[error("the image is truncated ({0})")]
    Truncated(&'static str),
    #[error("the image is {width}×{height}; each side may be at most {max}")]
    DimensionsTooLarge { width: u32, height: u32, max: u32 },
    #[error(
        "the image declares {width}×{height} = {pixels} pixels (more than {max}); refused as a possible decompression bomb"
    )]
    TooManyPixels { width: u32, height: u32, pixels: u64, max: u64 },
    #[error("the image has a zero width or height")]
    ZeroSize,
    #[error("the image is {width}×{height}; each side must be at least {min} pixels")]
    TooSmall { width: u32, height: u32, min: u32 },
    #[error("the image is corrupt: {0}")]
    Corrupt(String),
    #[error("decoding would need more memory than allowed")]
    MemoryLimit,
    #[error("cannot encode JPEG: {0}")]
    Encode(String),
}

/// A decoded, upright RGB image.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pub image: RgbImage,
    pub format: ImageFormat,
    /// EXIF orientation tag value (1–8) found in the file; 1 when absent.
    pub exif_orientation: u8,
}

/// Detects the container from its magic bytes.
pub fn sniff_format(bytes: &[u8]) -> Result<ImageFormat, DecodeError> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Ok(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok(ImageFormat::Webp)
    } else {
        let name = match image::guess_format(bytes) {
            Ok(f) => format!("{f:?}"),
            Err(_) => "unknown".to_owned(),
        };
        Err(DecodeError::Unsupported(name))
    }
}

/// Decodes `bytes` within `limits` and applies the EXIF orientation.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooManyBytes { len: bytes.len(), max: limits.max_bytes });
    }
    let format = sniff_format(bytes)?;
    match format {
        ImageFormat::Jpeg => check_jpeg_structure(bytes)?,
        ImageFormat::Png => check_png_structure(bytes)?,
        ImageFormat::Webp => check_webp_structure(bytes)?,
    }
    // Third-party decoders are not ours to audit; a panic in one must not take down a worker.
    catch_unwind(AssertUnwindSafe(|| decode_checked(bytes, format, limits)))
        .unwrap_or_else(|_| Err(DecodeError::Corrupt("the decoder failed".to_owned())))
}

fn decode_checked(bytes: &[u8], format: ImageFormat, limits: &DecodeLimits) -> Result<DecodedImage, DecodeError> {
    let image_format = match format {
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Webp => image::ImageFormat::WebP,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(map_image_error)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let orientation = decoder.orientation().map_err(map_image_error)?;
    let exif_orientation = orientation_value(orientation);
    let mut image = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    image.apply_orientation(orientation);
    let image = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    };
    Ok(DecodedImage { image, format, exif_orientation })
}

fn check_dimensions(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSize);
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(DecodeError::TooManyPixels { width, height, pixels, max: limits.max_pixels });
    }
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(DecodeError::DimensionsTooLarge { width, height, max: limits.max_dimension });
    }
    if width < limits.min_dimension || height < limits.min_dimension {
        return Err(DecodeError::TooSmall { width, height, min: limits.min_dimension });
    }
    Ok(())
}

fn orientation_value(o: image::metadata::Orientation) -> u8 {
    use image::metadata::Orientation as O;
    match o {
        O::NoTransforms => 1,
        O::FlipHorizontal => 2,
        O::Rotate180 => 3,
        O::FlipVertical => 4,
        O::Rotate90FlipH => 5,
        O::Rotate90 => 6,
        O::Rotate270FlipH => 7,
        O::Rotate270 => 8,
    }
}

fn map_image_error(err: image::ImageError) -> DecodeError {
    use image::ImageError as E;
    use image::error::LimitErrorKind;
    match err {
        E::Limits(l) => match l.kind() {
            LimitErrorKind::InsufficientMemory => DecodeError::MemoryLimit,
            _ => DecodeError::MemoryLimit,
        },
        E::Unsupported(u) => DecodeError::Unsupported(u.to_string()),
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated("unexpected end of data")
        }
        other => DecodeError::Corrupt(other.to_string()),
    }
}

/// Walks the JPEG marker structure up to EOI. Entropy-coded data is skipped byte-wise
/// (`FF 00` stuffing and restart markers stay inside a scan).
fn check_jpeg_structure(b: &[u8]) -> Result<(), DecodeError> {
    const CUT: DecodeError = DecodeError::Truncated("JPEG ends before its end-of-image marker");
    let mut i = 2; // after SOI
    let mut seen_scan = false;
    loop {
        // Find the next marker.
        while i < b.len() && b[i] != 0xff {
            if !seen_scan {
                return Err(DecodeError::Corrupt("JPEG marker expected".to_owned()));
            }
            i += 1;
        }
        while i < b.len() && b[i] == 0xff {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return Err(CUT);
        };
        i += 1;
        match marker {
            0xd9 => return Ok(()),
            // Stuffed byte or restart marker inside entropy-coded data.
            0x00 | 0xd0..=0xd7 if seen_scan => {}
            0x01 | 0xd0..=0xd8 => {}
            _ => {
                let len = match b.get(i..i + 2) {
                    Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
                    None => return Err(CUT),
                };
                if len < 2 {
                    return Err(DecodeError::Corrupt("bad JPEG segment length".to_owned()));
                }
                if i + len > b.len() {
                    return Err(CUT);
                }
                i += len;
                if marker == 0xda {
                    seen_scan = true;
                }
            }
        }
    }
}

/// Walks PNG chunks up to IEND.
fn check_png_structure(b: &[u8]) -> Result<(), DecodeError> {
    let mut i = 8;
    loop {
        let Some(header) = b.get(i..i + 8) else {
            return Err(DecodeError::Truncated("PNG ends before its IEND chunk"));
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = &header[4..8];
        let end = i
            .checked_add(12)
            .and_then(|v| v.checked_add(len))
            .ok_or_else(|| DecodeError::Corrupt("bad PNG chunk length".to_owned()))?;
        if end > b.len() {
            return Err(DecodeError::Truncated("PNG chunk cut off"));
        }
        if kind == b"IEND" {
            return Ok(());
        }
        i = end;
    }
}

/// The RIFF header states the file size.
fn check_webp_structure(b: &[u8]) -> Result<(), DecodeError> {
    let declared = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if b.len() < declared.saturating_add(8) {
        Err(DecodeError::Truncated("WebP shorter than its RIFF header states"))
    } else {
        Ok(())
    }
}

/// Re-encodes as a baseline JPEG with no metadata at all (no EXIF, no GPS, no thumbnails):
/// what the capture API stores.
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(image.as_raw().len() / 8);
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
    image.write_with_encoder(encoder).map_err(|e| DecodeError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb};

    fn sample() -> RgbImage {
        RgbImage::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 128]))
    }

    fn png(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    #[test]
    fn roundtrip_jpeg_and_png() {
        let img = sample();
        let jpeg = encode_jpeg(&img, 90).unwrap();
        let d = decode(&jpeg, &DecodeLimits::default()).unwrap();
        assert_eq!(d.format, ImageFormat::Jpeg);
        assert_eq!(d.image.dimensions(), (64, 48));
        assert_eq!(d.exif_orientation, 1);
        let d = decode(&png(&img), &DecodeLimits::default()).unwrap();
        assert_eq!(d.format, ImageFormat::Png);
        assert_eq!(d.image, img);
        let mut webp = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
            .write_image(img.as_raw(), 64, 48, image::ExtendedColorType::Rgb8)
            .unwrap();
        let d = decode(&webp, &DecodeLimits::default()).unwrap();
        assert_eq!(d.format, ImageFormat::Webp);
        assert_eq!(d.image, img);
        assert!(matches!(decode(&webp[..webp.len() - 3], &DecodeLimits::default()), Err(DecodeError::Truncated(_))));
    }

    #[test]
    fn encoded_jpeg_has_no_metadata_segments() {
        let jpeg = encode_jpeg(&sample(), 85).unwrap();
        // APP1 (EXIF/XMP) is FF E1; none may appear before the first scan.
        let sos = jpeg.windows(2).position(|w| w == [0xff, 0xda]).unwrap();
        assert!(!jpeg[..sos].windows(2).any(|w| w == [0xff, 0xe1]));
    }

    #[test]
    fn typed_errors() {
        let l = DecodeLimits::default();
        assert_eq!(decode(&[], &l).unwrap_err(), DecodeError::Empty);
        assert!(matches!(decode(b"GIF89a....", &l), Err(DecodeError::Unsupported(_))));
        assert!(matches!(decode(b"hello world", &l), Err(DecodeError::Unsupported(_))));
        let small = DecodeLimits { max_bytes: 10, ..l };
        assert!(matches!(decode(&png(&sample()), &small), Err(DecodeError::TooManyBytes { .. })));
        let jpeg = encode_jpeg(&sample(), 90).unwrap();
        for cut in [3, 20, jpeg.len() / 2, jpeg.len() - 2] {
            assert!(matches!(decode(&jpeg[..cut], &l), Err(DecodeError::Truncated(_))), "jpeg cut at {cut}");
        }
        let p = png(&sample());
        for cut in [9, 30, p.len() / 2, p.len() - 1] {
            assert!(matches!(decode(&p[..cut], &l), Err(DecodeError::Truncated(_))), "png cut at {cut}");
        }
        // Flip bits in the middle of the compressed PNG data: CRC or zlib failure.
        let mut bad = p.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        bad[mid + 1] ^= 0x55;
        assert!(matches!(decode(&bad, &l), Err(DecodeError::Corrupt(_))));
    }

    #[test]
    fn dimension_limits() {
        let tiny = RgbImage::from_pixel(2, 1, Rgb([9, 9, 9]));
        assert!(matches!(decode(&png(&tiny), &DecodeLimits::default()), Err(DecodeError::TooSmall { width: 2, .. })));
        // 7000×7000 is over the budget: refused from the header, before any pixel is allocated.
        assert!(matches!(
            check_dimensions(7000, 7000, &DecodeLimits::default()),
            Err(DecodeError::TooManyPixels { .. })
        ));
        assert!(check_dimensions(4032, 3024, &DecodeLimits::default()).is_ok(), "a 12 MP phone photo");
        let img = sample();
        let tight = DecodeLimits { max_dimension: 50, ..DecodeLimits::default() };
        assert!(matches!(decode(&png(&img), &tight), Err(DecodeError::DimensionsTooLarge { width: 64, .. })));
        let few = DecodeLimits { max_pixels: 1000, ..DecodeLimits::default() };
        assert!(matches!(decode(&png(&img), &few), Err(DecodeError::TooManyPixels { pixels: 3072, .. })));
    }

    /// A 20 000 × 20 000 one-bit PNG of zeros compresses to a few kilobytes; it must be
    /// refused from its header, before anything is allocated.
    #[test]
    fn png_decompression_bomb_is_refused() {
        let side = 20_000u32;
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, side, side);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::One);
            let mut writer = enc.write_header().unwrap();
            let mut stream = writer.stream_writer().unwrap();
            let row = vec![0u8; (side as usize).div_ceil(8)];
            for _ in 0..side {
                std::io::Write::write_all(&mut stream, &row).unwrap();
            }
            stream.finish().unwrap();
        }
        assert!(out.len() < 1_000_000, "bomb is {} bytes", out.len());
        let err = decode(&out, &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::TooManyPixels { width: 20_000, .. }), "{err}");
    }

    /// A JPEG whose frame header claims 65 000 × 65 000 is refused before decoding.
    #[test]
    fn jpeg_header_bomb_is_refused() {
        let mut jpeg = encode_jpeg(&sample(), 90).unwrap();
        let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
        // SOF0: FF C0, len(2), precision(1), height(2), width(2)
        jpeg[sof + 5..sof + 7].copy_from_slice(&65_000u16.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&65_000u16.to_be_bytes());
        let err = decode(&jpeg, &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::TooManyPixels { .. }), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = decode(&bytes, &DecodeLimits::default());
        }

        #[test]
        fn mutated_images_never_panic(pos in 0usize..4096, val: u8, cut in 0usize..4096, jpeg: bool) {
            let img = sample();
            let mut bytes = if jpeg { encode_jpeg(&img, 80).unwrap() } else { png(&img) };
            let p = pos % bytes.len();
            bytes[p] = val;
            bytes.truncate(bytes.len() - cut % (bytes.len() / 4));
            let _ = decode(&bytes, &DecodeLimits::default());
        }
    }
}
