//! The pure-Rust dlib reader + rten reproduce dlib's own descriptors on dlib's own chips.

mod common;

use veriframe_vision::face::dlib::DlibEmbedder;
use veriframe_vision::models::names;

#[test]
fn descriptors_match_dlib_on_reference_chips() {
    let (Some(models), Some(reference)) = (veriframe_synth::testenv::face_models(), common::testdata("dlib-reference"))
    else {
        return;
    };
    let embedder = DlibEmbedder::load(&models.join(names::DLIB_RESNET)).unwrap();
    let golden: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reference.join("dlib_native_descriptors.json")).unwrap()).unwrap();
    let images = golden["images"].as_object().unwrap();
    let mut names = Vec::new();
    let mut chips = Vec::new();
    let mut expected = Vec::new();
    for (name, entry) in images {
        let Some(desc) = entry["descriptor"].as_array() else {
            continue;
        };
        let chip = image::open(reference.join(format!("dlib_native_chips/{name}.chip.png"))).unwrap().to_rgb8();
        names.push(name.clone());
        chips.push(chip);
        expected.push(desc.iter().map(|v| v.as_f64().unwrap() as f32).collect::<Vec<_>>());
    }
    assert_eq!(chips.len(), 15, "15 reference chips");
    let refs: Vec<&image::RgbImage> = chips.iter().collect();
    let got = embedder.embed(&refs).unwrap();
    let mut worst = 0f32;
    for ((name, got), want) in names.iter().zip(&got).zip(&expected) {
        let delta = got.as_slice().iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(delta <= 1e-4, "{name}: max |Δ| = {delta}");
        worst = worst.max(delta);
    }
    eprintln!("max |Δ| over {} chips: {worst:e}", got.len());
    // A single chip gives the same descriptor as within a batch.
    let single = embedder.embed(&refs[..1]).unwrap();
    assert!(single[0].distance(&got[0]) < 1e-5);
}
