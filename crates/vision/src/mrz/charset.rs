//! The recogniser's class table, reduced to the MRZ alphabet.
//!
//! PP-OCRv4's recogniser scores 6 625 classes: CTC blank (0), one class per entry of the
//! dictionary stored in the model's `character` metadata (class `i` is entry `i - 1`), and a
//! final space class. An MRZ only ever holds `A–Z`, `0–9` and `<`, so decoding looks at those
//! 37 classes (plus blank) and ignores the rest: a Chinese glyph that happens to outscore a
//! digit can never be emitted.

use super::OcrError;

/// The ICAO 9303 MRZ alphabet, in the order [`MrzClasses`] stores it.
pub const MRZ_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

/// Recogniser class indices of the MRZ alphabet, plus lower-case letters whose probability
/// is credited to their upper-case form (the model sometimes prefers `o` to `O`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrzClasses {
    /// Class index of each character of [`MRZ_ALPHABET`], same order.
    pub upper: Vec<usize>,
    /// Class index of the lower-case form of each letter (`None` for digits and `<`).
    pub lower: Vec<Option<usize>>,
    /// Total number of classes the recogniser emits (dictionary + blank + space).
    pub num_classes: usize,
}

impl MrzClasses {
    /// Builds the table from the newline-separated dictionary text found in the model.
    pub fn from_dictionary(dictionary: &str) -> Result<Self, OcrError> {
        let entries: Vec<&str> = dictionary.split('\n').map(|e| e.trim_end_matches('\r')).collect();
        let class_of = |c: char| -> Option<usize> {
            let mut buf = [0u8; 4];
            let needle: &str = c.encode_utf8(&mut buf);
            entries.iter().position(|e| *e == needle).map(|i| i + 1)
        };
        let mut upper = Vec::with_capacity(MRZ_ALPHABET.len());
        let mut lower = Vec::with_capacity(MRZ_ALPHABET.len());
        for c in MRZ_ALPHABET.chars() {
            let class =
                class_of(c).ok_or_else(|| OcrError::Dictionary(format!("character {c:?} is not in the dictionary")))?;
            upper.push(class);
            lower.push(if c.is_ascii_uppercase() { class_of(c.to_ascii_lowercase()) } else { None });
        }
        Ok(Self {
            upper,
            lower,
            // blank + dictionary + trailing space class
            num_classes: entries.len() + 2,
        })
    }

    /// The MRZ character at `slot` (an index into [`MRZ_ALPHABET`]).
    pub fn char_at(slot: usize) -> char {
        MRZ_ALPHABET.as_bytes().get(slot).map_or('?', |b| *b as char)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_a_small_dictionary() {
        // Entries are 1-based classes; a shuffled order proves indices are looked up, not assumed.
        let mut dict: Vec<String> = MRZ_ALPHABET.chars().rev().map(String::from).collect();
        dict.push("a".into());
        dict.push("中".into());
        let classes = MrzClasses::from_dictionary(&dict.join("\n")).unwrap();
        assert_eq!(classes.num_classes, dict.len() + 2);
        assert_eq!(classes.upper[0], 37); // 'A' is the 37th entry -> class 37
        assert_eq!(classes.upper[36], 1); // '<' is the first entry -> class 1
        assert_eq!(classes.lower[0], Some(38));
        assert_eq!(classes.lower[1], None); // no 'b' in this dictionary
        assert_eq!(MrzClasses::char_at(36), '<');
    }

    #[test]
    fn missing_character_is_an_error() {
        let err = MrzClasses::from_dictionary("A\nB").unwrap_err();
        assert!(matches!(err, OcrError::Dictionary(_)));
    }
}
