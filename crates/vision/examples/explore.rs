use veriframe_vision::mrz::*;
fn main() {
    let reader = MrzReader::load(std::path::Path::new("veriframe-data/models")).unwrap();
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
