//! veriframe-blob against real backends: a temporary directory, object_store's in-memory store,
//! and a local S3-compatible server (skipped with a message when it is not running, except under
//! `CI=true`; `scripts/s3-test-server` starts one).

mod backends;
mod master_key;
mod scenarios;

/// Every scenario in `scenarios`, as one test per backend.
macro_rules! on_backend {
    ($module:ident, $open:path) => {
        mod $module {
            on_backend!(@tests $open;
                round_trips,
                the_backend_holds_only_ciphertext,
                any_tampering_is_an_integrity_error,
                truncated_objects_are_integrity_errors,
                a_blob_moved_to_another_key_does_not_open,
                a_wrong_or_unknown_master_key_is_an_integrity_error,
                rotation_keeps_old_objects_readable,
                ten_mebibyte_objects_round_trip,
                concurrent_puts_all_land,
                delete_prefix_purges_one_session_only,
                ping_and_name,
            );
        }
    };
    (@tests $open:path; $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(backend) = $open().await {
                    crate::scenarios::$scenario(&backend).await;
                }
            }
        )*
    };
}

on_backend!(local, crate::backends::local);
on_backend!(memory, crate::backends::memory);
#[cfg(feature = "s3")]
on_backend!(s3, crate::backends::s3);
