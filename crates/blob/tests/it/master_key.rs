//! The master key file: created once, private, exact, and shared by racing first starts.

use std::os::unix::fs::PermissionsExt;

use veriframe_blob::{MASTER_KEY_LEN, MasterKey, MasterKeyError};

#[test]
fn first_start_creates_a_private_32_byte_key_and_later_starts_reuse_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/nested/master.key");
    let created = MasterKey::load_or_create(&path).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), MASTER_KEY_LEN as u64);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(MasterKey::load_or_create(&path).unwrap().id(), created.id());
    assert_eq!(MasterKey::load(&path).unwrap().id(), created.id());
    let leftovers: Vec<_> =
        std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["master.key"], "no temporary file is left behind");
}

#[test]
fn a_key_file_others_can_access_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    MasterKey::load_or_create(&path).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660, 0o606] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = MasterKey::load_or_create(&path).unwrap_err();
        assert!(matches!(err, MasterKeyError::Permissions { mode: m, .. } if m == mode), "{mode:o}: {err}");
        assert!(err.to_string().contains("chmod 600"));
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    MasterKey::load(&path).expect("read-only for the owner is fine");
}

#[test]
fn a_key_file_of_the_wrong_length_is_refused_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    for len in [0, 16, 31, 33, 64] {
        std::fs::write(&path, vec![7u8; len]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = MasterKey::load_or_create(&path).unwrap_err();
        assert!(matches!(err, MasterKeyError::Length { len: l, .. } if l == len as u64), "{len}: {err}");
        assert_eq!(std::fs::read(&path).unwrap().len(), len, "the bad file is left for the operator");
    }
}

#[test]
fn a_directory_or_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(matches!(MasterKey::load(dir.path()), Err(MasterKeyError::NotAFile { .. })));
    let missing = dir.path().join("absent.key");
    assert!(matches!(MasterKey::load(&missing), Err(MasterKeyError::Io { .. })));
    assert!(!missing.exists(), "load never creates");
}

#[test]
fn racing_first_starts_agree_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let ids: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| MasterKey::load_or_create(&path).unwrap().id())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(MasterKey::load(&path).unwrap().id(), ids[0]);
}

#[test]
fn the_error_and_debug_output_never_hold_key_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let key = MasterKey::load_or_create(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let shown = format!("{key:?}");
    assert!(!shown.contains(&hex::encode(&bytes[..4])), "{shown}");
    assert!(!shown.contains(format!("{:?}", &bytes[..4]).trim_matches(['[', ']'])), "{shown}");
}
