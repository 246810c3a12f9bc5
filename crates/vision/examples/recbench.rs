use rten::{Model, ModelOptions};
use rten_tensor::NdTensor;
use rten_tensor::prelude::*;
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) * 10.0
}
fn main() {
    let dir = std::path::Path::new("veriframe-data/models");
    for prepack in [false, true] {
        let mut o = ModelOptions::with_all_ops();
        o.prepack_weights(prepack);
        let rec = o.load_file(dir.join("ch_PP-OCRv4_rec_infer.onnx")).unwrap();
        let det = o.load_file(dir.join("ch_PP-OCRv4_det_infer.onnx")).unwrap();
        for (b, w) in [(1usize, 2048usize), (2, 2048), (1, 1600), (1, 1024)] {
            let x = NdTensor::<f32, 4>::from_data([b, 3, 48, w], vec![0.1; b * 3 * 48 * w]);
            let mut v = vec![];
            for _ in 0..4 {
                let (t, c) = (std::time::Instant::now(), cpu());
                rec.run_one(x.view().into(), None).unwrap();
                v.push((t.elapsed().as_millis(), cpu() - c));
            }
            println!("prepack {prepack} rec b{b} w{w}: {v:?} (wall ms, cpu ms)");
        }
        for (h, w) in [(960usize, 960usize), (672, 960), (128, 960)] {
            let x = NdTensor::<f32, 4>::from_data([1, 3, h, w], vec![0.1; 3 * h * w]);
            let mut v = vec![];
            for _ in 0..3 {
                let (t, c) = (std::time::Instant::now(), cpu());
                det.run_one(x.view().into(), None).unwrap();
                v.push((t.elapsed().as_millis(), cpu() - c));
            }
            println!("prepack {prepack} det {h}x{w}: {v:?}");
        }
    }
}
