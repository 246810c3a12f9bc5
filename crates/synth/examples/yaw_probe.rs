//! Prints the detector's yaw change for a photo rendered at several head turns (both detectors):
//! a check of the renderer against the detector's known response (Δyaw ≈ 0.26–0.30·tan θ).
//! `cargo run --release -p veriframe-synth --example yaw_probe -- PHOTO MODELS_DIR`
use veriframe_synth::film;
use veriframe_synth::motion::Pose;
use veriframe_synth::sampling::FrameSampling;
use veriframe_vision::decode::{DecodeLimits, decode};
use veriframe_vision::face::engine::largest;
use veriframe_vision::face::{DetectorKind, EngineOptions, FaceEngine, Pose as FacePose};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = FaceEngine::load(std::path::Path::new(&args[2]), EngineOptions::default()).expect("models");
    let photo = decode(&std::fs::read(&args[1]).expect("photo"), &DecodeLimits::default()).expect("decode").image;
    let kp = largest(&engine.detect(&photo, DetectorKind::Full256).expect("detect")).expect("face").keypoints;
    let subject = film::subject(&photo, &kp);
    let sampling = FrameSampling { crop_height: 0.75, crop_aspect: 0.75, max_side: 240, quality: 70 };
    let yaw = |img: &image::RgbImage, kind| {
        let faces = engine.detect(img, kind).expect("detect");
        largest(&faces).and_then(|d| FacePose::from_keypoints(&d.keypoints)).map_or(f32::NAN, |p| p.yaw)
    };
    let small = |deg: f32| {
        let frame = subject.render(&Pose { yaw_deg: deg, ..Pose::default() });
        decode(&sampling.encode(&frame), &DecodeLimits::default()).expect("decode").image
    };
    let base = small(0.0);
    let (b128, b256) = (yaw(&base, DetectorKind::Front128), yaw(&base, DetectorKind::Full256));
    for deg in [10.0, 20.0, 30.0, 40.0, 45.0, 50.0, 55.0, -20.0, -30.0, -45.0] {
        let img = small(deg);
        let t = f32::to_radians(deg).tan().abs();
        let (d128, d256) = (yaw(&img, DetectorKind::Front128) - b128, yaw(&img, DetectorKind::Full256) - b256);
        println!(
            "{deg:>5}°  128: {d128:+.3} ({:.2}·tan)   256: {d256:+.3} ({:.2}·tan)",
            d128.abs() / t,
            d256.abs() / t
        );
        if deg == 45.0 {
            image::save_buffer("/tmp/probe45.png", &img, img.width(), img.height(), image::ExtendedColorType::Rgb8)
                .ok();
        }
    }
}
