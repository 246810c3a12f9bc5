//! What an impostor holds up to the camera instead of a live head: a printed photo (held still,
//! or tilted about its vertical axis to fake a turn), or a phone screen replaying a video.
//!
//! Prints are rendered by casting each output pixel's ray through a pinhole camera onto the
//! print's plane (a closed form), so perspective is exact: a wide-angle lens exaggerates the
//! near edge of a tilted print the way it does in life.

use image::{Rgb, RgbImage};

use crate::Rng;

/// A room behind whatever is held up: a soft gradient with some texture, unlike the print's
/// own background.
pub fn room(width: u32, height: u32, rng: &mut Rng) -> RgbImage {
    let base = [rng.range(120.0, 200.0), rng.range(110.0, 190.0), rng.range(100.0, 180.0)];
    let tilt = rng.range(-0.3, 0.3);
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let shade = 1.0 - 0.35 * fy + tilt * (fx - 0.5);
        let texture = 6.0 * ((x / 24 + y / 24) % 2) as f32;
        Rgb(base.map(|c| (c * shade + texture).clamp(0.0, 255.0) as u8))
    })
}

/// A printed photo in front of a pinhole camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrintPose {
    /// Rotation of the print about its vertical axis through `pivot` (degrees).
    pub tilt_deg: f32,
    /// Focal length in pixels of the camera frame (≈ 500 for a 640×480 webcam, ≈ 336 for a
    /// ~100° diagonal wide-angle lens at that size).
    pub focal_px: f32,
    /// How large the print appears untilted, relative to the photo's own pixels (below 1 its
    /// edges show).
    pub scale: f32,
    /// The point of the photo the print turns about (the face), in photo pixels.
    pub pivot: (f32, f32),
}

/// Renders `photo` printed and posed as `pose`, in front of `background` (same size).
pub fn print(photo: &RgbImage, background: &RgbImage, pose: &PrintPose) -> RgbImage {
    let (w, h) = background.dimensions();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let f = pose.focal_px;
    let (px, py) = pose.pivot;
    // The print's pivot in camera space; at zero tilt the print appears `scale` times its size.
    let p0 = (px - cx, py - cy, f / pose.scale);
    let (sin, cos) = pose.tilt_deg.to_radians().sin_cos();
    let (pw, ph) = (photo.width() as f32, photo.height() as f32);
    let mut out = background.clone();
    for (x, y, px_out) in out.enumerate_pixels_mut() {
        let rx = (x as f32 + 0.5 - cx) / f;
        let ry = (y as f32 + 0.5 - cy) / f;
        let denom = cos + rx * sin;
        if denom.abs() < 1e-6 {
            continue;
        }
        // Where the ray meets the print's plane, in photo pixels from the pivot.
        let a = (rx * p0.2 - p0.0) / denom;
        let depth = p0.2 - a * sin;
        if depth <= 0.0 {
            continue;
        }
        let b = depth * ry - p0.1;
        // Continuous photo coordinates have pixel centres at i + 0.5.
        let (sx, sy) = (px + a - 0.5, py + b - 0.5);
        if sx < 0.0 || sy < 0.0 || sx >= pw - 1.0 || sy >= ph - 1.0 {
            continue;
        }
        *px_out = bilinear(photo, sx, sy);
    }
    out
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |dx: u32, dy: u32| img.get_pixel(x0 + dx, y0 + dy).0.map(f32::from);
    let (a, b, c, d) = (p(0, 0), p(1, 0), p(0, 1), p(1, 1));
    Rgb(std::array::from_fn(|i| {
        let top = a[i] + (b[i] - a[i]) * fx;
        let bottom = c[i] + (d[i] - c[i]) * fx;
        (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8
    }))
}

/// A phone held up to the camera, its screen showing `content`: the screen's narrower tonal
/// range and cool tint, a faint moiré where its pixel grid beats against the camera's, a
/// reflection across the glass, and the black bezel, in front of `background`. `screen` is the
/// screen's rectangle in the camera frame (x, y, width, height, in pixels).
pub fn phone_replay(
    content: &RgbImage,
    background: &RgbImage,
    screen: (f32, f32, f32, f32),
    rng: &mut Rng,
) -> RgbImage {
    let (sx, sy, sw, sh) = screen;
    let bezel = 0.04 * sw;
    let (cw, ch) = (content.width() as f32, content.height() as f32);
    // Fill the screen with the content, cropping what does not fit (as a video player does).
    let fit = (cw / sw).min(ch / sh);
    let (ox, oy) = ((cw - sw * fit) / 2.0, (ch - sh * fit) / 2.0);
    let moire_angle = rng.range(0.0, std::f32::consts::PI);
    let moire_freq = rng.range(0.15, 0.35);
    let (mc, ms) = (moire_angle.cos(), moire_angle.sin());
    let glare_x = rng.range(0.2, 0.8);
    let mut out = background.clone();
    for (x, y, px) in out.enumerate_pixels_mut() {
        let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
        let inside_phone =
            fx >= sx - bezel && fx < sx + sw + bezel && fy >= sy - 2.0 * bezel && fy < sy + sh + 2.0 * bezel;
        if !inside_phone {
            continue;
        }
        let inside_screen = fx >= sx && fx < sx + sw && fy >= sy && fy < sy + sh;
        if !inside_screen {
            *px = Rgb([12, 12, 14]);
            continue;
        }
        let (u, v) = ((fx - sx) * fit + ox, (fy - sy) * fit + oy);
        let c = bilinear(content, u.clamp(0.0, cw - 1.001), v.clamp(0.0, ch - 1.001)).0.map(f32::from);
        let moire = 1.0 + 0.04 * ((fx * mc + fy * ms) * moire_freq).sin();
        let glare = 28.0 * (-((fx - sx) / sw - glare_x - 0.3 * (fy - sy) / sh).powi(2) / 0.02).exp();
        let tint = [0.94, 0.98, 1.04];
        *px = Rgb(std::array::from_fn(|i| (14.0 + 0.82 * c[i] * tint[i] * moire + glare).clamp(0.0, 255.0) as u8));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untilted_print_is_the_photo_scaled_about_the_centre() {
        let photo = RgbImage::from_fn(200, 100, |x, _| Rgb([x as u8, 0, 0]));
        let background = RgbImage::from_pixel(200, 100, Rgb([0, 0, 255]));
        let pose = PrintPose { tilt_deg: 0.0, focal_px: 300.0, scale: 0.5, pivot: (100.0, 50.0) };
        let out = print(&photo, &background, &pose);
        // The centre maps to itself; the corners lie outside the half-size print.
        assert!((i32::from(out.get_pixel(100, 50)[0]) - 100).abs() <= 1);
        assert_eq!(*out.get_pixel(2, 2), Rgb([0, 0, 255]));
        // 20 px right of the centre shows the photo 40 px right of it.
        assert!((i32::from(out.get_pixel(120, 50)[0]) - 141).abs() <= 1);
    }

    #[test]
    fn a_tilted_print_is_foreshortened() {
        let photo = RgbImage::from_fn(400, 200, |x, _| Rgb([(x / 2) as u8, 0, 0]));
        let background = RgbImage::from_pixel(400, 200, Rgb([0, 0, 255]));
        let visible = |tilt| {
            let pose = PrintPose { tilt_deg: tilt, focal_px: 400.0, scale: 0.8, pivot: (200.0, 100.0) };
            let out = print(&photo, &background, &pose);
            (0..400).filter(|&x| out.get_pixel(x, 100)[2] == 0).count()
        };
        let (flat, tilted) = (visible(0.0), visible(60.0));
        assert!(tilted < flat * 7 / 10, "{flat} → {tilted}");
    }
}
