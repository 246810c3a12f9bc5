//! Measures where each BlazeFace model puts its keypoints inside dlib's own 150×150 chips: the
//! alignment templates in `face::align`. Usage:
//! `cargo run --release -p veriframe-vision --example chip_template -- MODELS_DIR CHIPS_DIR`

use std::path::PathBuf;

use veriframe_vision::face::blazeface::{BlazeFace, DetectorKind};
use veriframe_vision::models::names;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let models = PathBuf::from(args.next().ok_or("MODELS_DIR")?);
    let chips = PathBuf::from(args.next().ok_or("CHIPS_DIR")?);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&chips)?.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    for (kind, file) in [(DetectorKind::Full256, names::BLAZEFACE_256), (DetectorKind::Front128, names::BLAZEFACE_128)]
    {
        let detector = BlazeFace::load(&models.join(file), kind)?;
        let mut sum = [[0f64; 2]; 4];
        let mut n = 0;
        for path in &files {
            let chip = image::open(path)?.to_rgb8();
            let dets = detector.detect(&chip, 0.5)?;
            let Some(d) = dets.iter().max_by(|a, b| a.score.total_cmp(&b.score)) else {
                eprintln!("{kind:?}: no face in {}", path.display());
                continue;
            };
            let k = &d.keypoints;
            for (s, p) in sum.iter_mut().zip([k.right_eye, k.left_eye, k.nose_tip, k.mouth]) {
                s[0] += f64::from(p.x);
                s[1] += f64::from(p.y);
            }
            n += 1;
        }
        let mean: Vec<String> =
            sum.iter().map(|s| format!("({:.2}, {:.2})", s[0] / n as f64, s[1] / n as f64)).collect();
        println!("{kind:?} over {n} chips: {}", mean.join(" "));
    }
    Ok(())
}
