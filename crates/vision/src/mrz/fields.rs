//! What a read MRZ says: fields, check digits, repairs, and the date judgements built on them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The ICAO 9303 layout of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum MrzFormat {
    /// Passport: 2 lines × 44.
    Td3,
    /// Official travel document / ID card: 2 lines × 36.
    Td2,
    /// ID card: 3 lines × 30.
    Td1,
    /// Visa, passport-book size: 2 lines × 44.
    MrvA,
    /// Visa, small size: 2 lines × 36.
    MrvB,
}

impl MrzFormat {
    /// Every format, in the order they are tried.
    pub const ALL: [MrzFormat; 5] = [Self::Td3, Self::Td2, Self::Td1, Self::MrvA, Self::MrvB];

    /// Number of lines in the zone.
    pub fn line_count(self) -> usize {
        match self {
            Self::Td1 => 3,
            _ => 2,
        }
    }

    /// Characters per line.
    pub fn line_length(self) -> usize {
        match self {
            Self::Td3 | Self::MrvA => 44,
            Self::Td2 | Self::MrvB => 36,
            Self::Td1 => 30,
        }
    }
}

impl std::fmt::Display for MrzFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Td3 => "TD3",
            Self::Td2 => "TD2",
            Self::Td1 => "TD1",
            Self::MrvA => "MRV-A",
            Self::MrvB => "MRV-B",
        })
    }
}

/// A calendar date, serialised as ISO `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarDate {
    /// Full year.
    pub year: i32,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
}

impl CalendarDate {
    /// A date if `year-month-day` exists in the Gregorian calendar.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        mrz::Date::new(year, month, day).is_well_formed().then_some(Self { year, month, day })
    }

    /// Today in UTC from the system clock.
    pub fn today_utc() -> Self {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self::from_epoch_days((secs / 86_400) as i64)
    }

    /// Days since 1970-01-01.
    pub fn epoch_days(self) -> i64 {
        mrz::Date::new(self.year, self.month, self.day).to_epoch_days()
    }

    /// The date `days` after 1970-01-01.
    pub fn from_epoch_days(days: i64) -> Self {
        let d = mrz::Date::from_epoch_days(days);
        Self { year: d.year, month: d.month, day: d.day }
    }

    /// Whole years from `self` to `later` (an age when `self` is a birth date).
    pub fn years_until(self, later: CalendarDate) -> i32 {
        let mut years = later.year - self.year;
        if (later.month, later.day) < (self.month, self.day) {
            years -= 1;
        }
        years
    }
}

impl std::fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::str::FromStr for CalendarDate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, '-');
        let mut next = |what: &str| -> Result<i64, String> {
            parts.next().and_then(|p| p.parse::<i64>().ok()).ok_or_else(|| format!("{s:?} is not YYYY-MM-DD ({what})"))
        };
        let (y, m, d) = (next("year")?, next("month")?, next("day")?);
        let (Ok(y), Ok(m), Ok(d)) = (i32::try_from(y), u32::try_from(m), u32::try_from(d)) else {
            return Err(format!("{s:?} is out of range"));
        };
        CalendarDate::new(y, m, d).ok_or_else(|| format!("{s:?} is not a calendar date"))
    }
}

impl Serialize for CalendarDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CalendarDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A date field as printed (`YYMMDD`, possibly with `<` for unknown parts) and, when it names
/// a real day, that day with its century resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrzDate {
    /// The six characters of the zone.
    pub raw: String,
    /// The calendar date, when the field is six digits naming a real day.
    pub date: Option<CalendarDate>,
}

/// Which century a two-digit birth year belongs to: the latest one that does not put the
/// birth in the future. (ICAO 9303 leaves this to the reader.)
pub fn birth_year(yy: u32, today: CalendarDate) -> i32 {
    let yy = (yy % 100) as i32;
    let century = today.year - today.year.rem_euclid(100);
    if century + yy > today.year { century - 100 + yy } else { century + yy }
}

/// Which century a two-digit expiry year belongs to: the one nearest to today, looking up to
/// 50 years ahead (so `99` read in 2026 is 1999, an expired document, not 2099).
pub fn expiry_year(yy: u32, today: CalendarDate) -> i32 {
    let yy = (yy % 100) as i32;
    let century = today.year - today.year.rem_euclid(100);
    let candidate = century + yy;
    if candidate > today.year + 50 {
        candidate - 100
    } else if candidate < today.year - 50 {
        candidate + 100
    } else {
        candidate
    }
}

impl MrzDate {
    /// Interprets a six-character field; `birth` selects the century rule.
    pub fn from_field(raw: &str, birth: bool, today: CalendarDate) -> Self {
        let date = (raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit()))
            .then(|| {
                let n = |r: std::ops::Range<usize>| raw[r].parse::<u32>().unwrap_or(0);
                let yy = n(0..2);
                let year = if birth { birth_year(yy, today) } else { expiry_year(yy, today) };
                CalendarDate::new(year, n(2..4), n(4..6))
            })
            .flatten();
        Self { raw: raw.to_string(), date }
    }
}

/// The holder and document fields of a parsed zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrzFields {
    /// Document code as printed, filler trimmed: `P`, `PD`, `I`, `ID`, `V`, …
    pub document_type: String,
    /// Issuing state or organisation (ICAO three-letter code, `D` for Germany).
    pub issuing_country: String,
    /// Primary identifier.
    pub surname: String,
    /// Secondary identifiers, space-separated.
    pub given_names: String,
    /// Document number, reassembled when it overflowed into the optional data.
    pub document_number: String,
    /// Nationality (ICAO three-letter code).
    pub nationality: String,
    /// Date of birth.
    pub birth_date: MrzDate,
    /// `M`, `F`, `X` (unspecified, printed `<` or `X`) or the non-conforming character read.
    pub sex: String,
    /// Date of expiry.
    pub expiry_date: MrzDate,
    /// TD3 personal number (the only optional field with its own check digit).
    pub personal_number: Option<String>,
    /// The format's primary optional-data element (other than a TD3 personal number).
    pub optional_data: Option<String>,
    /// TD1's second optional-data element.
    pub optional_data_2: Option<String>,
}

/// Whether each printed check digit agrees with its field (`None`: not printed in this format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckDigits {
    /// Document number.
    pub document_number: bool,
    /// Date of birth.
    pub birth_date: bool,
    /// Date of expiry.
    pub expiry_date: bool,
    /// TD3 personal number.
    pub personal_number: Option<bool>,
    /// Composite over the zone (absent on visas).
    pub composite: Option<bool>,
}

impl CheckDigits {
    /// Every check digit this format prints agrees.
    pub fn all_valid(&self) -> bool {
        self.document_number
            && self.birth_date
            && self.expiry_date
            && self.personal_number != Some(false)
            && self.composite != Some(false)
    }

    /// `(verified, printed)` counts.
    pub fn tally(&self) -> (usize, usize) {
        let all = [
            Some(self.document_number),
            Some(self.birth_date),
            Some(self.expiry_date),
            self.personal_number,
            self.composite,
        ];
        let printed = all.iter().filter(|c| c.is_some()).count();
        let verified = all.iter().filter(|c| **c == Some(true)).count();
        (verified, printed)
    }
}

/// Why a character of the zone differs from what the recogniser emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairReason {
    /// A filler lost in a collapsed `<` run (or past the line's end) was put back.
    FillerRestored,
    /// A character the layout cannot hold at that position was removed.
    Removed,
    /// The position admits only digits (or only letters) and the read was a look-alike.
    CharacterClass,
    /// A look-alike substitution confirmed by the field's check digit.
    CheckDigit,
    /// A look-alike substitution that makes the country code a registered one.
    CountryCode,
    /// A `K` read inside a filler run, where the model's second choice was `<`.
    FillerLookalike,
    /// The `mrz` crate's own repair (`find_and_parse`) produced this character.
    Crate,
    /// The document code's first letter was not read (a clipped line start); the format
    /// fixes it (`P` for a passport, `V` for a visa).
    DocumentCode,
    /// Nothing usable was read for this cell and no check digit could supply it; a filler
    /// stands in so the zone parses. The field holding it is not to be trusted.
    Unreadable,
}

/// One change between the recognised text and the zone that was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repair {
    /// Zone line, from 0.
    pub line: usize,
    /// Column in the repaired line, from 0.
    pub column: usize,
    /// Character read (`None`: nothing was read there).
    pub from: Option<char>,
    /// Character used (`None`: the read character was dropped).
    pub to: Option<char>,
    /// Why.
    pub reason: RepairReason,
}

/// A zone interpreted from recognised text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MrzZone {
    /// Layout.
    pub format: MrzFormat,
    /// The zone lines as parsed (after repair).
    pub lines: Vec<String>,
    /// Parsed fields.
    pub fields: MrzFields,
    /// Check-digit verdicts on the zone as parsed.
    pub check_digits: CheckDigits,
    /// Check-digit verdicts before any check-digit-guided substitution (after length
    /// restoration and character-class fixes); `None` when that text did not parse. A
    /// difference from `check_digits` means the digits were satisfied by repair, not by the
    /// read itself.
    pub check_digits_as_read: Option<CheckDigits>,
    /// What was changed relative to the recognised text.
    pub repairs: Vec<Repair>,
    /// Every line has the format's length and every character is one its position admits
    /// (judged on the lines as parsed).
    pub line_format_ok: bool,
    /// Mean recogniser probability of the characters read (1.0 for text without
    /// probabilities), lowered for every character that had to be inserted or replaced.
    pub confidence: f32,
}

/// Date judgements on a zone as of a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateAssessment {
    /// The reference day.
    pub today: CalendarDate,
    /// The expiry date is before today (`None` when the expiry is not a date).
    pub expired: Option<bool>,
    /// Days from today to expiry (negative once expired).
    pub days_until_expiry: Option<i64>,
    /// Holder's age in whole years today.
    pub age_years: Option<i32>,
    /// The birth date is a real day, not in the future, at most 130 years ago.
    pub birth_date_valid: bool,
    /// The expiry date is a real day after the birth date and at most 50 years from today.
    pub expiry_date_valid: bool,
}

impl MrzZone {
    /// Number of cells nothing was read for (see [`RepairReason::Unreadable`]).
    pub fn unreadable_cells(&self) -> usize {
        self.repairs.iter().filter(|r| r.reason == RepairReason::Unreadable).count()
    }

    /// Date checks as of `today`.
    pub fn assess_dates(&self, today: CalendarDate) -> DateAssessment {
        let birth = self.fields.birth_date.date;
        let expiry = self.fields.expiry_date.date;
        let today_days = today.epoch_days();
        let birth_date_valid = birth.is_some_and(|b| b.epoch_days() <= today_days && b.years_until(today) <= 130);
        let expiry_date_valid =
            expiry.is_some_and(|e| birth.is_none_or(|b| b < e) && e.epoch_days() - today_days <= 50 * 366);
        DateAssessment {
            today,
            expired: expiry.map(|e| e.epoch_days() < today_days),
            days_until_expiry: expiry.map(|e| e.epoch_days() - today_days),
            age_years: birth.filter(|_| birth_date_valid).map(|b| b.years_until(today)),
            birth_date_valid,
            expiry_date_valid,
        }
    }

    /// The MRZ checks in Incode's score vocabulary.
    pub fn score_checks(&self, today: CalendarDate) -> MrzScoreChecks {
        let dates = self.assess_dates(today);
        MrzScoreChecks {
            mrz_line_format_check: self.line_format_ok,
            mrz_parsable_check: true,
            document_number_check_digit: Some(self.check_digits.document_number),
            birth_date_check_digit: Some(self.check_digits.birth_date),
            expiration_date_check_digit: Some(self.check_digits.expiry_date),
            composite_check_digit: self.check_digits.composite,
            document_expired: dates.expired,
            birth_date_validity: Some(dates.birth_date_valid),
            expiration_date_validity: Some(dates.expiry_date_valid),
        }
    }
}

/// Incode's MRZ score checks (`true` = passed; `document_expired` is `true` when expired;
/// `None` = the check does not apply or could not be evaluated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MrzScoreChecks {
    /// Lines have the format's shape.
    pub mrz_line_format_check: bool,
    /// The zone parsed.
    pub mrz_parsable_check: bool,
    /// Document-number check digit.
    pub document_number_check_digit: Option<bool>,
    /// Birth-date check digit.
    pub birth_date_check_digit: Option<bool>,
    /// Expiry check digit.
    pub expiration_date_check_digit: Option<bool>,
    /// Composite check digit.
    pub composite_check_digit: Option<bool>,
    /// The document has expired.
    pub document_expired: Option<bool>,
    /// The birth date is plausible.
    pub birth_date_validity: Option<bool>,
    /// The expiry date is plausible.
    pub expiration_date_validity: Option<bool>,
}

impl MrzScoreChecks {
    /// The checks when no zone could be read or parsed.
    pub fn unreadable(lines_found: bool) -> Self {
        Self {
            mrz_line_format_check: lines_found,
            mrz_parsable_check: false,
            document_number_check_digit: None,
            birth_date_check_digit: None,
            expiration_date_check_digit: None,
            composite_check_digit: None,
            document_expired: None,
            birth_date_validity: None,
            expiration_date_validity: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> CalendarDate {
        s.parse().unwrap()
    }

    #[test]
    fn centuries_follow_today() {
        let today = day("2026-05-01");
        assert_eq!(birth_year(74, today), 1974);
        assert_eq!(birth_year(26, today), 2026);
        assert_eq!(birth_year(27, today), 1927);
        assert_eq!(birth_year(0, today), 2000);
        assert_eq!(expiry_year(12, today), 2012);
        assert_eq!(expiry_year(36, today), 2036);
        assert_eq!(expiry_year(99, today), 1999);
        assert_eq!(expiry_year(76, today), 2076);
        // Near a century boundary the same digits move.
        assert_eq!(expiry_year(5, day("2096-01-01")), 2105);
        assert_eq!(birth_year(99, day("2101-01-01")), 2099);
    }

    #[test]
    fn date_fields() {
        let today = day("2026-05-01");
        let dob = MrzDate::from_field("740812", true, today);
        assert_eq!(dob.date, Some(day("1974-08-12")));
        assert_eq!(MrzDate::from_field("741312", true, today).date, None);
        assert_eq!(MrzDate::from_field("74<<12", true, today).date, None);
        assert_eq!(MrzDate::from_field("7408", true, today).date, None);
        assert_eq!(serde_json::to_string(&dob).unwrap(), r#"{"raw":"740812","date":"1974-08-12"}"#);
        let back: MrzDate = serde_json::from_str(r#"{"raw":"740812","date":"1974-08-12"}"#).unwrap();
        assert_eq!(back, dob);
        assert!("2023-02-29".parse::<CalendarDate>().is_err());
        assert!("20x3-02-01".parse::<CalendarDate>().is_err());
    }

    #[test]
    fn ages_and_epoch_days() {
        let birth = day("1974-08-12");
        assert_eq!(birth.years_until(day("2026-08-11")), 51);
        assert_eq!(birth.years_until(day("2026-08-12")), 52);
        assert_eq!(CalendarDate::from_epoch_days(day("2024-02-29").epoch_days()), day("2024-02-29"));
        assert!(CalendarDate::today_utc().year >= 2024);
    }

    #[test]
    fn score_keys_are_incode_names() {
        let json = serde_json::to_value(MrzScoreChecks::unreadable(true)).unwrap();
        for key in [
            "mrzLineFormatCheck",
            "mrzParsableCheck",
            "documentNumberCheckDigit",
            "birthDateCheckDigit",
            "expirationDateCheckDigit",
            "compositeCheckDigit",
            "documentExpired",
            "birthDateValidity",
            "expirationDateValidity",
        ] {
            assert!(json.get(key).is_some(), "{key} missing in {json}");
        }
    }
}
