//! Synthetic inputs for tests and the liveness lab: a person turning their head, rendered from
//! one frontal photo; the attacks a head-turn check must stop (a printed photo held still or
//! tilted, a replay on a phone screen); the hosted page's sampling of the camera; identity
//! documents with a machine-readable zone; and where tests find models and test data
//! ([`testenv`]), so every test crate locates them the same way.
//!
//! Nothing here touches a model: callers detect the face once (its keypoints place the 3D face
//! model) and pass the keypoints in. Everything is deterministic for a given seed, so a failure
//! in a test or a lab run can be replayed exactly.
#![forbid(unsafe_code)]

pub mod attack;
pub mod camera;
pub mod document;
pub mod face3d;
pub mod film;
pub mod motion;
pub mod rng;
pub mod sampling;
pub mod testenv;

pub use rng::Rng;
