//! The names of a session's images, as Incode's `/get/images` spells them: one definition for
//! the capture path that stores them, the jobs that crop them and the API that returns them.

use crate::verification::CaptureKind;

/// An image name Incode defines. veriframe stores the first eight; the others are accepted in
/// requests (integrations ask for them) and never returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageName {
    Selfie,
    CroppedFace,
    CroppedIdFace,
    CroppedSecondIdFace,
    FullFrameFrontId,
    FullFrameBackId,
    CroppedFrontId,
    CroppedBackId,
    Document,
    Signature,
    AddressStatement,
}

impl ImageName {
    pub const ALL: [ImageName; 11] = [
        ImageName::Selfie,
        ImageName::CroppedFace,
        ImageName::CroppedIdFace,
        ImageName::CroppedSecondIdFace,
        ImageName::FullFrameFrontId,
        ImageName::FullFrameBackId,
        ImageName::CroppedFrontId,
        ImageName::CroppedBackId,
        ImageName::Document,
        ImageName::Signature,
        ImageName::AddressStatement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageName::Selfie => "selfie",
            ImageName::CroppedFace => "croppedFace",
            ImageName::CroppedIdFace => "croppedIDFace",
            ImageName::CroppedSecondIdFace => "croppedSecondIDFace",
            ImageName::FullFrameFrontId => "fullFrameFrontID",
            ImageName::FullFrameBackId => "fullFrameBackID",
            ImageName::CroppedFrontId => "croppedFrontID",
            ImageName::CroppedBackId => "croppedBackID",
            ImageName::Document => "document",
            ImageName::Signature => "signature",
            ImageName::AddressStatement => "addressStatement",
        }
    }

    /// Exact, case-sensitive, as Incode matches them.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == name)
    }

    /// The full image a capture of `kind` is stored as (a head-turn film is not an image).
    pub fn full_frame(kind: CaptureKind) -> Option<Self> {
        match kind {
            CaptureKind::Front => Some(ImageName::FullFrameFrontId),
            CaptureKind::Back => Some(ImageName::FullFrameBackId),
            CaptureKind::Selfie => Some(ImageName::Selfie),
            CaptureKind::Liveness => None,
        }
    }

    /// The document crop a capture of `kind` yields.
    pub fn cropped_document(kind: CaptureKind) -> Option<Self> {
        match kind {
            CaptureKind::Front => Some(ImageName::CroppedFrontId),
            CaptureKind::Back => Some(ImageName::CroppedBackId),
            CaptureKind::Selfie | CaptureKind::Liveness => None,
        }
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ImageName;

    #[test]
    fn every_name_parses_back_to_itself() {
        for name in ImageName::ALL {
            assert_eq!(ImageName::parse(name.as_str()), Some(name));
        }
        assert_eq!(ImageName::parse("Selfie"), None, "names are case-sensitive");
    }
}
