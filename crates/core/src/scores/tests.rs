//! The scoring rules, case by case.

use super::*;
use crate::text::FieldValue;
use crate::verification::{CheckDigitFindings, DocumentClass, MatchFindings};
use proptest::prelude::*;

fn good_document() -> DocumentFindings {
    DocumentFindings {
        document_class: Some(DocumentClass::Passport),
        mrz_found: true,
        mrz_format: Some("TD3".into()),
        mrz_line_format_ok: true,
        mrz_parsable: true,
        check_digits: CheckDigitFindings {
            document_number: Some(true),
            birth_date: Some(true),
            expiry_date: Some(true),
            personal_number: Some(true),
            composite: Some(true),
        },
        document_expired: Some(false),
        birth_date_valid: Some(true),
        expiry_date_valid: Some(true),
        age_years: Some(40),
        ocr_confidence: Some(0.97),
        repairs: 0,
        portrait_found: true,
        front_quality: Some(ImageQuality { sharpness: 70.0, glare: 0.01, sharp_enough: true, glare_ok: true }),
        back_quality: None,
    }
}

fn face(similarity: f32) -> FaceFindings {
    FaceFindings {
        selfie_faces: 1,
        selfie_brightness: Some(120.0),
        face_match: Some(MatchFindings {
            distance: 0.6 - (similarity - 50.0) / 300.0,
            similarity,
            threshold: 0.6,
            is_match: similarity >= 50.0,
        }),
        match_unavailable: None,
    }
}

fn live(peak: f32, passive: Option<f32>) -> LivenessFindings {
    LivenessFindings {
        direction: crate::challenge::TurnDirection::Left,
        frames: 50,
        checks: vec![LivenessCheck::HeadTurn],
        live: true,
        turned: true,
        returned: true,
        same_person: true,
        challenge_passed: true,
        peak_turn: peak,
        required_turn: 0.12,
        max_identity_distance: Some(0.2),
        identity_threshold: 0.6,
        passive_live: passive,
        failures: vec![],
    }
}

fn run(doc: Option<&DocumentFindings>, face: Option<&FaceFindings>, live: Option<&LivenessFindings>) -> Scores {
    let modules = Modules::default();
    score(&Inputs {
        modules: &modules,
        thresholds: Effective::from(&Thresholds::default()),
        document: doc,
        document_data: None,
        custom_fields: &CustomFields::default(),
        face,
        liveness: live,
    })
}

#[test]
fn a_genuine_session_passes() {
    let s = run(Some(&good_document()), Some(&face(80.0)), Some(&live(0.2, Some(0.97))));
    assert_eq!(s.overall.verdict, Verdict::Ok, "{s:?}");
    assert_eq!(s.id_validation.as_ref().unwrap().overall.value, "100.0");
    assert!(s.reason.contains("passed"), "{}", s.reason);
}

#[test]
fn nothing_collected_is_unknown() {
    let s = run(None, None, None);
    assert_eq!(s.overall.verdict, Verdict::Unknown);
    assert_eq!(s.overall.value, "");
    assert!(s.id_validation.is_none() && s.liveness.is_none() && s.face_recognition.is_none());
    assert!(s.reason.contains("did not run"), "{}", s.reason);
}

#[test]
fn another_persons_selfie_fails_face_recognition() {
    let s = run(Some(&good_document()), Some(&face(10.0)), Some(&live(0.2, None)));
    assert_eq!(s.face_recognition.as_ref().unwrap().overall.verdict, Verdict::Fail);
    assert_eq!(s.overall.verdict, Verdict::Fail);
    assert!(s.reason.contains("does not match"), "{}", s.reason);
    // Between the thresholds it only warns.
    let s = run(Some(&good_document()), Some(&face(40.0)), Some(&live(0.2, None)));
    assert_eq!(s.overall.verdict, Verdict::Warn);
}

#[test]
fn a_failed_challenge_fails_liveness_whatever_the_passive_score() {
    let mut still = live(0.01, Some(0.99));
    still.challenge_passed = false;
    still.live = false;
    still.turned = false;
    let s = run(Some(&good_document()), Some(&face(80.0)), Some(&still));
    assert_eq!(s.liveness.as_ref().unwrap().overall.verdict, Verdict::Fail);
    assert_eq!(s.overall.verdict, Verdict::Fail);
    assert!(s.reason.contains("liveness"), "{}", s.reason);
}

#[test]
fn liveness_score_grows_with_the_turn_and_is_capped_by_passive_pad() {
    assert_eq!(liveness_score(&live(0.12, None)), 50.0);
    assert_eq!(liveness_score(&live(0.24, None)), 100.0);
    assert_eq!(liveness_score(&live(0.5, None)), 100.0);
    assert!((liveness_score(&live(0.24, Some(0.4))) - 40.0).abs() < 1e-4);
    let s = run(Some(&good_document()), Some(&face(80.0)), Some(&live(0.24, Some(0.4))));
    assert_eq!(s.liveness.unwrap().overall.verdict, Verdict::Warn);
    let s = run(Some(&good_document()), Some(&face(80.0)), Some(&live(0.24, Some(0.1))));
    assert_eq!(s.liveness.unwrap().overall.verdict, Verdict::Fail);
}

#[test]
fn document_failures() {
    let mut bad_digit = good_document();
    bad_digit.check_digits.birth_date = Some(false);
    let s = run(Some(&bad_digit), Some(&face(80.0)), Some(&live(0.2, None)));
    let id = s.id_validation.unwrap();
    assert_eq!(id.overall.verdict, Verdict::Fail);
    assert!(id.id_specific.iter().any(|c| c.key == "birthDateCheckDigit" && c.block.verdict == Verdict::Fail));

    let mut expired = good_document();
    expired.document_expired = Some(true);
    let s = run(Some(&expired), Some(&face(80.0)), Some(&live(0.2, None)));
    assert_eq!(s.overall.verdict, Verdict::Fail);
    assert!(s.reason.contains("expired"), "{}", s.reason);

    let unread = DocumentFindings { mrz_found: false, ..DocumentFindings::default() };
    let s = run(Some(&unread), Some(&face(80.0)), Some(&live(0.2, None)));
    assert_eq!(s.overall.verdict, Verdict::Fail);
    assert!(s.reason.contains("machine-readable zone"), "{}", s.reason);
    let id = s.id_validation.unwrap();
    let digit = id.id_specific.iter().find(|c| c.key == "documentNumberCheckDigit").unwrap();
    assert_eq!(digit.block.verdict, Verdict::Unknown, "digits of an unreadable MRZ were never checked");
    let parsable = id.id_specific.iter().find(|c| c.key == "mrzParsableCheck").unwrap();
    assert_eq!(parsable.block.verdict, Verdict::Fail);

    let mut blurry = good_document();
    blurry.front_quality = Some(ImageQuality { sharpness: 10.0, glare: 0.3, sharp_enough: false, glare_ok: false });
    let s = run(Some(&blurry), Some(&face(80.0)), Some(&live(0.2, None)));
    assert_eq!(s.overall.verdict, Verdict::Warn, "quality alone only warns");
}

#[test]
fn minimum_age_and_name_checks() {
    let modules = Modules::default();
    let doc = DocumentFindings { age_years: Some(17), ..good_document() };
    let data = DocumentData { surname: "ERIKSSON".into(), given_names: "ANNA MARIA".into(), ..DocumentData::default() };
    let fields = CustomFields::parse(
        [("firstName", "Anna María"), ("lastName", "Erikson")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), FieldValue::Scalar(v.to_owned()))),
    )
    .unwrap();
    let thresholds = Effective { minimum_age: Some(18), ..Effective::from(&Thresholds::default()) };
    let s = score(&Inputs {
        modules: &modules,
        thresholds,
        document: Some(&doc),
        document_data: Some(&data),
        custom_fields: &fields,
        face: Some(&face(80.0)),
        liveness: Some(&live(0.2, None)),
    });
    let id = s.id_validation.unwrap();
    let verdict =
        |key: &str| id.id_specific.iter().chain(&id.custom_fields).find(|c| c.key == key).unwrap().block.verdict;
    assert_eq!(verdict("underageCheck"), Verdict::Fail);
    assert_eq!(verdict("firstNameMatch"), Verdict::Ok);
    assert_eq!(verdict("lastNameMatch"), Verdict::Fail);
}

#[test]
fn modules_decide_what_is_required() {
    let modules = Modules { liveness: false, face_match: false, selfie: false, ..Modules::default() };
    let s = score(&Inputs {
        modules: &modules,
        thresholds: Effective::from(&Thresholds::default()),
        document: Some(&good_document()),
        document_data: None,
        custom_fields: &CustomFields::default(),
        face: None,
        liveness: None,
    });
    assert_eq!(s.overall.verdict, Verdict::Ok);
    // A required section that never ran leaves the result open.
    let s = run(Some(&good_document()), Some(&face(80.0)), None);
    assert_eq!(s.overall.verdict, Verdict::Unknown);
    assert!(s.reason.contains("liveness"), "{}", s.reason);
}

#[test]
fn names_normalise_like_an_mrz() {
    assert_eq!(normalise_name("  José-María  d'Ávila "), "JOSE MARIA D AVILA");
    assert_eq!(normalise_name("ANNA<<MARIA"), "ANNA MARIA");
}

proptest! {
    #[test]
    fn overall_is_never_better_than_any_required_section(
        similarity in 0.0f32..100.0,
        peak in 0.0f32..0.5,
        passive in proptest::option::of(0.0f32..1.0),
        passed in any::<bool>(),
        digit in any::<bool>(),
    ) {
        let mut l = live(peak, passive);
        l.challenge_passed = passed && peak >= l.required_turn;
        l.live = l.challenge_passed;
        let mut d = good_document();
        d.check_digits.expiry_date = Some(digit);
        let s = run(Some(&d), Some(&face(similarity)), Some(&l));
        let sections = [
            s.id_validation.as_ref().unwrap().overall.verdict,
            s.face_recognition.as_ref().unwrap().overall.verdict,
            s.liveness.as_ref().unwrap().overall.verdict,
        ];
        let worst = sections.iter().copied().max().unwrap();
        prop_assert_eq!(s.overall.verdict, worst);
        let score = liveness_score(&l);
        prop_assert!((0.0..=100.0).contains(&score));
        if !l.challenge_passed {
            prop_assert_eq!(s.overall.verdict, Verdict::Fail);
        }
    }
}
