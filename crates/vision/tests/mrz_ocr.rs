//! Model-backed MRZ reading: the ICAO specimens, two of the shared synthetic zones, and zones
//! of every format generated, rendered in OCR-B and degraded by this test. Kept to a handful
//! of documents; the full sets are measured by `veriframe-eval mrz`.

use std::sync::OnceLock;

use rand::SeedableRng;
use rand::rngs::StdRng;
use veriframe_vision::mrz::{CalendarDate, MrzFormat, MrzReader, OcrError, ReadOutcome};

use veriframe_synth::document::{self as support, Degradation, Layout};
use veriframe_synth::testenv;

const TODAY: CalendarDate = CalendarDate { year: 2026, month: 5, day: 1 };

/// One reader for the whole test binary: loading parses and optimises both models.
fn reader() -> Option<&'static MrzReader> {
    static READER: OnceLock<Option<MrzReader>> = OnceLock::new();
    READER
        .get_or_init(|| {
            let dir = testenv::ocr_models()?;
            Some(MrzReader::load(&dir).expect("load OCR models"))
        })
        .as_ref()
}

fn open(path: &std::path::Path) -> image::RgbImage {
    image::open(path).expect("decode test image").to_rgb8()
}

#[test]
fn icao_utopia_specimens_are_read_exactly() {
    let Some(reader) = reader() else { return };
    let cases = [
        (
            "mrz/passporteye_passport-td3.jpg",
            MrzFormat::Td3,
            vec!["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"],
        ),
        (
            "mrz/passporteye_passport-td2.jpg",
            MrzFormat::Td2,
            vec!["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"],
        ),
    ];
    for (file, format, lines) in cases {
        let Some(path) = testenv::testdata(file) else {
            return;
        };
        let reading = reader.read_at(&open(&path), TODAY).unwrap();
        let zone = reading.zone.as_ref().unwrap_or_else(|| panic!("{file}: {reading:?}"));
        assert_eq!(zone.format, format, "{file}");
        assert_eq!(zone.lines, lines, "{file}");
        assert!(zone.check_digits.all_valid(), "{file}");
        assert_eq!(zone.fields.surname, "ERIKSSON");
        assert_eq!(zone.fields.given_names, "ANNA MARIA");
        assert_eq!(zone.fields.birth_date.date, "1974-08-12".parse().ok());
        assert_eq!(zone.fields.sex, "F");
        let checks = reading.score_checks(TODAY);
        assert_eq!(checks.document_expired, Some(true));
        assert!(checks.mrz_parsable_check && checks.mrz_line_format_check);
    }
}

#[test]
fn shared_synthetic_zones_are_read_exactly() {
    let Some(reader) = reader() else { return };
    let Some(truth) = testenv::testdata("mrz/synthetic_ocrb/ground_truth.json") else {
        return;
    };
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(truth).unwrap()).unwrap();
    // The rotated one and the noisiest JPEG.
    for file in ["mrz_05.png", "mrz_15.png"] {
        let entry = truth.as_array().unwrap().iter().find(|e| e["file"] == file).unwrap();
        let path = testenv::testdata(&format!("mrz/synthetic_ocrb/{file}")).unwrap();
        let reading = reader.read_at(&open(&path), TODAY).unwrap();
        let zone = reading.zone.unwrap_or_else(|| panic!("{file}: no zone"));
        assert_eq!(zone.lines[0], entry["l1"].as_str().unwrap(), "{file}");
        assert_eq!(zone.lines[1], entry["l2"].as_str().unwrap(), "{file}");
        assert!(zone.check_digits.all_valid(), "{file}");
    }
}

#[test]
fn generated_zones_of_every_format_survive_degradation() {
    let Some(reader) = reader() else { return };
    let Some(font) = support::ocrb_font() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(9303);
    let cases = [
        // A passport page: visual-zone text above a degraded, slightly rotated zone.
        (Layout::Td3, true, Degradation { blur: 0.8, noise: 14.0, jpeg_quality: 60, rotation_deg: 0.8, scale: 1.0 }),
        (Layout::Td1, false, Degradation { blur: 0.7, noise: 10.0, jpeg_quality: 50, rotation_deg: -0.6, scale: 0.8 }),
        (Layout::Td2, false, Degradation { blur: 0.6, jpeg_quality: 70, ..Default::default() }),
        (Layout::MrvB, false, Degradation { noise: 12.0, ..Default::default() }),
        (Layout::MrvA, false, Degradation { scale: 0.7, blur: 0.5, ..Default::default() }),
    ];
    for (layout, page, degradation) in cases {
        let lines = support::random_zone(&mut rng, layout);
        let image = if page {
            support::render_document(&font, &lines, 40.0)
        } else {
            support::render_zone(&font, &lines, 40.0)
        };
        let image = support::degrade(&image, degradation, &mut rng);
        if let Some(dir) = std::env::var_os("VERIFRAME_TEST_OUTPUT") {
            image.save(std::path::Path::new(&dir).join(format!("mrz_{layout:?}.png"))).unwrap();
        }
        let reading = reader.read_at(&image, TODAY).unwrap();
        let zone = reading.zone.unwrap_or_else(|| panic!("{layout:?} {lines:?}: nothing parsed"));
        assert_eq!(zone.lines, lines, "{layout:?} repairs {:?}", zone.repairs);
        assert!(zone.check_digits.all_valid(), "{layout:?}");
        assert_eq!(zone.unreadable_cells(), 0);
    }
}

#[test]
fn a_page_upside_down_is_read() {
    let Some(reader) = reader() else { return };
    let Some(font) = support::ocrb_font() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(44);
    let lines = support::random_zone(&mut rng, Layout::Td3);
    let page = support::render_document(&font, &lines, 36.0);
    let sideways = image::imageops::rotate180(&page);
    if let Some(dir) = std::env::var_os("VERIFRAME_TEST_OUTPUT") {
        sideways.save(std::path::Path::new(&dir).join("mrz_upside_down.png")).unwrap();
    }
    let reading = reader.read_at(&sideways, TODAY).unwrap();
    let zone = reading.zone.expect("zone of an upside-down page");
    assert_eq!(zone.lines, lines);
    assert!(zone.check_digits.all_valid());
}

#[test]
fn images_without_a_zone_are_reported_not_panicked_on() {
    let Some(reader) = reader() else { return };
    let tiny = image::RgbImage::new(4, 4);
    assert!(matches!(reader.read_at(&tiny, TODAY), Err(OcrError::ImageSize { width: 4, height: 4 })));
    let blank = image::RgbImage::from_pixel(800, 500, image::Rgb([250, 250, 250]));
    let reading = reader.read_at(&blank, TODAY).unwrap();
    assert_eq!(reading.outcome, ReadOutcome::NotFound);
    assert!(reading.zone.is_none());
    let mut rng = StdRng::seed_from_u64(7);
    let noise = image::RgbImage::from_fn(640, 400, |_, _| {
        use rand::Rng;
        image::Rgb([rng.random(), rng.random(), rng.random()])
    });
    let reading = reader.read_at(&noise, TODAY).unwrap();
    assert!(!reading.is_valid());
    let checks = reading.score_checks(TODAY);
    assert!(!checks.mrz_parsable_check);
}
