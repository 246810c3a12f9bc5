//! Tallies of a lab run and their rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use veriframe_vision::liveness::{ChallengeReport, ChallengeRules};

/// Attempts the flow allows per session: the first and three retries.
pub const SESSION_ATTEMPTS: usize = 4;

#[derive(Debug, Default)]
struct Act {
    attempts: usize,
    passed: usize,
    /// Passed the head turn and passive PAD said live (when PAD ran).
    passed_with_pad: usize,
    pad_ran: usize,
    reasons: BTreeMap<String, usize>,
    /// Per 5° amplitude bucket from 20°: (attempts, passed).
    by_amplitude: BTreeMap<u32, (usize, usize)>,
    /// Per person, the outcomes in order (sessions are consecutive groups): the head turn
    /// alone, and with passive PAD's say when it ran.
    by_person: BTreeMap<String, Vec<(bool, bool)>>,
    /// People passive PAD refused at least once on an attempt whose turn passed.
    pad_refused: BTreeMap<String, usize>,
    bytes: Vec<usize>,
    verdict_ms: Vec<f64>,
    peaks: Vec<f32>,
}

/// What a run measured, per act.
#[derive(Debug, Default)]
pub struct Report {
    acts: BTreeMap<String, Act>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        act: &str,
        person: &str,
        amplitude_deg: f32,
        verdict: &ChallengeReport,
        pad_says_live: Option<bool>,
        bytes: usize,
        verdict_ms: f64,
    ) {
        let a = self.acts.entry(act.to_owned()).or_default();
        a.attempts += 1;
        a.passed += usize::from(verdict.passed);
        if let Some(live) = pad_says_live {
            a.pad_ran += 1;
            a.passed_with_pad += usize::from(verdict.passed && live);
            if verdict.passed && !live {
                *a.pad_refused.entry(person.to_owned()).or_default() += 1;
            }
        }
        for f in &verdict.failures {
            let reason = serde_json::to_value(f).ok().and_then(|v| v["reason"].as_str().map(str::to_owned));
            *a.reasons.entry(reason.unwrap_or_default()).or_default() += 1;
        }
        let bucket = ((amplitude_deg.max(20.0) - 20.0) / 5.0).floor() as u32 * 5 + 20;
        let slot = a.by_amplitude.entry(bucket).or_default();
        slot.0 += 1;
        slot.1 += usize::from(verdict.passed);
        let with_pad = verdict.passed && pad_says_live.unwrap_or(true);
        a.by_person.entry(person.to_owned()).or_default().push((verdict.passed, with_pad));
        a.bytes.push(bytes);
        a.verdict_ms.push(verdict_ms);
        a.peaks.push(verdict.peak_delta);
    }

    pub fn render(&self, rules: &ChallengeRules) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "rules: {}", serde_json::to_string(rules).unwrap_or_default());
        let _ = writeln!(
            out,
            "{:<30} {:>8} {:>9} {:>10} {:>9} {:>13} {:>19} {:>9} {:>11}",
            "act",
            "attempts",
            "pass",
            "with PAD",
            "sessions",
            "sess. w/ PAD",
            "peak min/p50/max",
            "KB p50",
            "verdict p95"
        );
        for (name, a) in &self.acts {
            let sessions = |pick: fn(&(bool, bool)) -> bool| -> String {
                let s: Vec<bool> = a
                    .by_person
                    .values()
                    .flat_map(|outcomes| outcomes.chunks(SESSION_ATTEMPTS).map(|c| c.iter().any(pick)))
                    .collect();
                pct(s.iter().filter(|s| **s).count(), s.len())
            };
            let pad_ran = a.pad_ran == a.attempts && a.attempts > 0;
            let (with_pad, sessions_with_pad) = if pad_ran {
                (pct(a.passed_with_pad, a.attempts), sessions(|o| o.1))
            } else {
                ("not run".to_owned(), "not run".to_owned())
            };
            let _ = writeln!(
                out,
                "{:<30} {:>8} {:>9} {:>10} {:>9} {:>13} {:>19} {:>9.0} {:>9.0} ms",
                name,
                a.attempts,
                pct(a.passed, a.attempts),
                with_pad,
                sessions(|o| o.0),
                sessions_with_pad,
                {
                    let peaks: Vec<f64> = a.peaks.iter().map(|v| f64::from(*v)).collect();
                    format!("{:.3}/{:.3}/{:.3}", quantile(&peaks, 0.0), median(&peaks), quantile(&peaks, 1.0))
                },
                median(&a.bytes.iter().map(|b| *b as f64).collect::<Vec<_>>()) / 1000.0,
                quantile(&a.verdict_ms, 0.95),
            );
        }
        for (name, a) in &self.acts {
            if !a.pad_refused.is_empty() {
                let people: Vec<String> = a.pad_refused.iter().map(|(p, n)| format!("{p} ×{n}")).collect();
                let _ = writeln!(out, "  {name}: turn passed but PAD refused: {}", people.join(", "));
            }
            if a.reasons.is_empty() {
                continue;
            }
            let reasons: Vec<String> = a.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
            let _ = writeln!(out, "  {name}: failures: {}", reasons.join(", "));
            if name == "genuine" {
                let buckets: Vec<String> = a
                    .by_amplitude
                    .iter()
                    .map(|(from, (n, ok))| format!("{from}–{}° {}", from + 5, pct(*ok, *n)))
                    .collect();
                let _ = writeln!(out, "  genuine by turn amplitude: {}", buckets.join(", "));
            }
        }
        out
    }
}

fn pct(n: usize, of: usize) -> String {
    if of == 0 { "-".to_owned() } else { format!("{:.1} %", 100.0 * n as f64 / of as f64) }
}

fn median(v: &[f64]) -> f64 {
    quantile(v, 0.5)
}

fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * q).round() as usize]
}
