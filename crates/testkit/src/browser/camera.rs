//! The fake camera: clips written in Chromium's y4m layout, swapped behind the path Chromium
//! was started with (see the parent module for why by renaming).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use image::{Rgb, RgbImage};

// ---------------------------------------------------------------------------------------------
// y4m video
// ---------------------------------------------------------------------------------------------

/// One frame in Chromium's y4m layout: planar I420 (Y, then Cb and Cr at half resolution each
/// way), limited-range BT.601 — the range Chromium assumes; full-range data comes out with
/// boosted contrast.
pub fn i420(image: &RgbImage) -> Vec<u8> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    assert!(w.is_multiple_of(2) && h.is_multiple_of(2), "y4m frames need even sizes, got {w}x{h}");
    let quantise = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    let mut out = vec![0u8; w * h * 3 / 2];
    let (luma, chroma) = out.split_at_mut(w * h);
    let (cb_plane, cr_plane) = chroma.split_at_mut(w * h / 4);
    for (i, px) in image.pixels().enumerate() {
        let [r, g, b] = px.0.map(f32::from);
        luma[i] = quantise(16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0);
    }
    for y in 0..h / 2 {
        for x in 0..w / 2 {
            let (mut cb, mut cr) = (0.0f32, 0.0f32);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let [r, g, b] = image.get_pixel((2 * x + dx) as u32, (2 * y + dy) as u32).0.map(f32::from);
                cb += 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
                cr += 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
            }
            cb_plane[y * (w / 2) + x] = quantise(cb / 4.0);
            cr_plane[y * (w / 2) + x] = quantise(cr / 4.0);
        }
    }
    out
}

/// `image` scaled to fit `width`×`height` without distortion, centred on neutral grey, as a
/// camera would frame it.
pub fn letterbox(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    let scale = f64::min(f64::from(width) / f64::from(image.width()), f64::from(height) / f64::from(image.height()));
    let (sw, sh) = (
        ((f64::from(image.width()) * scale).round() as u32).clamp(1, width),
        ((f64::from(image.height()) * scale).round() as u32).clamp(1, height),
    );
    let scaled = image::imageops::resize(image, sw, sh, image::imageops::FilterType::Triangle);
    let mut out = RgbImage::from_pixel(width, height, Rgb([128, 128, 128]));
    image::imageops::overlay(&mut out, &scaled, i64::from((width - sw) / 2), i64::from((height - sh) / 2));
    out
}

/// `image` centred on a `width`×`height` picture of `surface`, at its own size (shrunk only if it
/// does not fit): a document lying on a table in front of the camera. Enlarging a small
/// synthetic document would soften every edge, which the document checks read as blur or glare.
pub fn on_surface(image: &RgbImage, width: u32, height: u32, surface: Rgb<u8>) -> RgbImage {
    let fitted = if image.width() <= width && image.height() <= height {
        image.clone()
    } else {
        letterbox(image, width, height)
    };
    let mut out = RgbImage::from_pixel(width, height, surface);
    let (x, y) = ((width - fitted.width()) / 2, (height - fitted.height()) / 2);
    image::imageops::overlay(&mut out, &fitted, i64::from(x), i64::from(y));
    out
}

/// A clip for the fake camera. Chromium plays it at `fps` from the moment the camera opens and
/// loops it; frames are stored once and referenced, so long holds cost no memory.
#[derive(Clone)]
pub struct Video {
    width: u32,
    height: u32,
    fps: u32,
    frames: Vec<Vec<u8>>,
    sequence: Vec<usize>,
}

impl std::fmt::Debug for Video {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Video")
            .field("size", &(self.width, self.height))
            .field("fps", &self.fps)
            .field("frames", &self.sequence.len())
            .finish()
    }
}

impl Video {
    /// An empty clip; `width` and `height` must be even, `fps` an integer (Chromium divides
    /// the header's rate as integers).
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        assert!(width.is_multiple_of(2) && height.is_multiple_of(2) && width > 0 && height > 0, "even, non-zero size");
        assert!(fps > 0, "fps");
        Self { width, height, fps, frames: Vec::new(), sequence: Vec::new() }
    }

    /// `image` (letterboxed to the clip's size) for `frames` frames.
    pub fn hold(mut self, image: &RgbImage, frames: u32) -> Self {
        self.frames.push(i420(&letterbox(image, self.width, self.height)));
        let index = self.frames.len() - 1;
        self.sequence.extend(std::iter::repeat_n(index, frames as usize));
        self
    }

    /// A still scene: `image` at its own size (trimmed to even), one second long.
    pub fn still(image: &RgbImage) -> Self {
        let (w, h) = (image.width() & !1, image.height() & !1);
        let trimmed = image::imageops::crop_imm(image, 0, 0, w, h).to_image();
        Self::new(w, h, 5).hold(&trimmed, 5)
    }

    /// A still scene letterboxed (scaled to fit, up or down) into a `width`×`height` camera
    /// picture, one second long. For synthetic documents prefer [`Video::document`].
    pub fn framed(image: &RgbImage, width: u32, height: u32) -> Self {
        Self::new(width, height, 5).hold(image, 5)
    }

    /// A document on a dark table, seen by a `width`×`height` camera, one second long
    /// (see [`on_surface`]).
    pub fn document(image: &RgbImage, width: u32, height: u32) -> Self {
        Self::new(width, height, 5).hold(&on_surface(image, width, height, Rgb([40, 40, 40])), 5)
    }

    /// A continuous film: `frames` played at `fps`, in order, from the moment the camera opens.
    pub fn film(frames: &[RgbImage], fps: u32) -> Self {
        assert!(!frames.is_empty(), "at least one frame");
        let (w, h) = (frames[0].width() & !1, frames[0].height() & !1);
        let mut video = Self::new(w, h, fps);
        for (i, frame) in frames.iter().enumerate() {
            video.frames.push(i420(&letterbox(frame, w, h)));
            video.sequence.push(i);
        }
        video
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    pub fn fps(&self) -> u32 {
        self.fps
    }

    /// How long one pass of the clip lasts.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.sequence.len() as u64 * 1000 / u64::from(self.fps))
    }

    /// Writes the clip: a one-line header, then each frame as exactly `FRAME\n` and its planes
    /// (Chromium skips a fixed six bytes between frames, so frames carry no tags).
    pub fn write_to(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write as _;
        assert!(!self.sequence.is_empty(), "an empty clip plays nothing");
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        writeln!(out, "YUV4MPEG2 W{} H{} F{}:1 Ip A1:1 C420jpeg", self.width, self.height, self.fps)?;
        for &index in &self.sequence {
            out.write_all(b"FRAME\n")?;
            out.write_all(&self.frames[index])?;
        }
        out.flush()
    }
}

/// The fake camera's video file. Chromium is started with its path; [`Camera::show`] puts a new
/// clip behind that path for the next time the page opens the camera.
#[derive(Debug)]
pub struct Camera {
    path: PathBuf,
    dir: PathBuf,
    generation: AtomicU32,
}

impl Camera {
    pub(super) fn create(dir: &Path) -> std::io::Result<Self> {
        let camera = Self { path: dir.join("camera.y4m"), dir: dir.to_owned(), generation: AtomicU32::new(0) };
        camera.show(&Video::new(640, 480, 5).hold(&RgbImage::from_pixel(640, 480, Rgb([128, 128, 128])), 5))?;
        Ok(camera)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes `video` what the camera shows from its next opening on. A stream that is open now
    /// keeps showing the previous clip, so a test can stage the next step's content before the
    /// action that ends the current step.
    pub fn show(&self, video: &Video) -> std::io::Result<()> {
        let n = self.generation.fetch_add(1, Ordering::Relaxed);
        let staged = self.dir.join(format!("camera-{n}.y4m.partial"));
        video.write_to(&staged)?;
        std::fs::rename(&staged, &self.path)
    }
}
