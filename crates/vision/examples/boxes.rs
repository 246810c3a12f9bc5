use veriframe_vision::mrz::*;
fn main() {
    let engine = OcrEngine::load(std::path::Path::new("veriframe-data/models")).unwrap();
    let mut args = std::env::args().skip(1);
    let side: u32 = args.next().unwrap().parse().unwrap();
    for path in args {
        let img = image::open(&path).unwrap().to_rgb8();
        let boxes = engine.detect(&img, side, &DetectParams::default()).unwrap();
        println!("== {path} {}x{}", img.width(), img.height());
        for b in veriframe_vision::mrz::reader::mrz_line_candidates(boxes, 10.0, 4) {
            let l = engine.recognize(&img, &b, 2048).unwrap();
            println!("  {} {:?}", l.text, l.mean_confidence());
            if std::env::var("CHARS").is_ok() {
                for c in &l.chars {
                    print!(
                        " {}{:.2}{}",
                        c.ch,
                        c.confidence,
                        c.alternative
                            .map(|(a, p)| format!("/{a}{p:.2}"))
                            .unwrap_or_default()
                    );
                }
                println!();
            }
        }
    }
}
