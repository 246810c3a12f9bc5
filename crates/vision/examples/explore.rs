use veriframe_vision::mrz::*;
fn main() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let d = ReaderConfig::default();
    let config = ReaderConfig {
        recognize_width: env("RECW", d.recognize_width),
        detect_side: env("SIDE", d.detect_side as usize) as u32,
        retry_detect_side: env("SIDE2", d.retry_detect_side as usize) as u32,
        retry_stretch: env("STRETCH", 1) == 1,
        ..d
    };
    let engine = OcrEngine::load(std::path::Path::new("veriframe-data/models")).unwrap();
    let reader = MrzReader::new(engine, config);
    for path in std::env::args().skip(1) {
        let img = image::open(&path).unwrap().to_rgb8();
        let r = reader.read(&img).unwrap();
        println!(
            "== {path} {:?} attempt {} {:?}",
            r.outcome, r.attempt, r.timings
        );
        for l in &r.raw_lines {
            println!("   raw {} {:.2}", l.text, l.confidence);
        }
        if let Some(z) = &r.zone {
            for l in &z.lines {
                println!("   zone {l}");
            }
            println!(
                "   {:?} valid {} checks {:?} conf {:.2} repairs {}",
                z.format,
                z.check_digits.all_valid(),
                z.check_digits,
                z.confidence,
                z.repairs.len()
            );
            for rep in &z.repairs {
                println!("      {:?}", rep);
            }
        }
    }
}
