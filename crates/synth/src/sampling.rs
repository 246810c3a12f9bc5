//! The hosted page's side of the head-turn capture: which part of each camera frame it keeps,
//! at what size, and how it encodes it. The page takes these numbers from the server's
//! challenge, so the lab and the page sample alike by construction.

use image::RgbImage;
use image::imageops::FilterType;
use veriframe_vision::decode::encode_jpeg;

/// How the page turns one camera frame into an upload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameSampling {
    /// Kept region, centred, as fractions of the camera frame's height (a portrait rectangle
    /// around the face guide); wider than the frame is clipped to it.
    pub crop_height: f32,
    pub crop_aspect: f32,
    /// Size the kept region is scaled to (its longer side).
    pub max_side: u32,
    /// JPEG quality, 1–100 (the page's canvas takes it divided by 100).
    pub quality: u8,
}

impl FrameSampling {
    /// The centred region the page keeps, in camera pixels: (x, y, width, height).
    pub fn region(&self, width: u32, height: u32) -> (u32, u32, u32, u32) {
        let h = ((height as f32 * self.crop_height).round() as u32).clamp(1, height);
        let w = ((h as f32 * self.crop_aspect).round() as u32).clamp(1, width);
        ((width - w) / 2, (height - h) / 2, w, h)
    }

    /// The kept region, scaled, before encoding.
    pub fn pixels(&self, frame: &RgbImage) -> RgbImage {
        let (x, y, w, h) = self.region(frame.width(), frame.height());
        let crop = image::imageops::crop_imm(frame, x, y, w, h).to_image();
        let scale = (self.max_side as f32 / w.max(h) as f32).min(1.0);
        let (ow, oh) = (((w as f32 * scale).round() as u32).max(1), ((h as f32 * scale).round() as u32).max(1));
        if (ow, oh) == (w, h) { crop } else { image::imageops::resize(&crop, ow, oh, FilterType::Triangle) }
    }

    /// The frame as the page uploads it.
    pub fn encode(&self, frame: &RgbImage) -> Vec<u8> {
        encode_jpeg(&self.pixels(frame), self.quality).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_centred_and_clipped() {
        let s = FrameSampling { crop_height: 1.0, crop_aspect: 0.75, max_side: 320, quality: 70 };
        assert_eq!(s.region(640, 480), (140, 0, 360, 480));
        // A portrait camera narrower than the crop keeps its whole width.
        assert_eq!(s.region(300, 480), (0, 0, 300, 480));
        let frame = RgbImage::new(640, 480);
        assert_eq!(s.pixels(&frame).dimensions(), (240, 320));
    }
}
