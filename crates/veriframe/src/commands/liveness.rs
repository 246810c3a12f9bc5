//! `veriframe liveness --direction left|right FRAME...`: judge a head-turn film from image
//! files, through the server's own verdict ([`FaceEngine::judge_film`]): the frames as the page
//! uploads them (unmirrored), the key frame and the session's selfie when given.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use veriframe_vision::decode::DecodeLimits;
use veriframe_vision::face::{FaceMatch, FilmBytes};
use veriframe_vision::liveness::pad::PadResult;
use veriframe_vision::liveness::{ChallengeSpec, TurnDirection};

use super::face::load_engine;
use crate::cli::Context;
use crate::output::emit;

#[derive(Debug, Args)]
pub struct LivenessArgs {
    /// Direction the subject was asked to turn (their own `left` or `right`).
    #[arg(long, value_parser = parse_direction)]
    pub direction: TurnDirection,
    /// Milliseconds between frames (the page films every 100 ms).
    #[arg(long, default_value_t = 100)]
    pub interval_ms: u32,
    /// When the arrow appeared, in milliseconds after the first frame.
    #[arg(long, default_value_t = 1000)]
    pub prompt_at_ms: u32,
    /// A sharper copy of the first frame (the start's identity and passive PAD).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The session's selfie: the film's person is compared with it, and passive PAD runs on it.
    #[arg(long)]
    pub selfie: Option<PathBuf>,
    /// Frames in capture order.
    #[arg(required = true)]
    pub frames: Vec<PathBuf>,
}

fn parse_direction(s: &str) -> Result<TurnDirection, String> {
    TurnDirection::parse(s).ok_or_else(|| format!("`{s}` is not a direction: use left or right"))
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// What the command prints: the turn (with PAD on its start), the checks against the selfie,
/// and the server's verdict over all of them.
#[derive(Debug, Serialize)]
struct Verdict<'a> {
    turn: &'a veriframe_vision::face::LivenessReport,
    selfie_pad: Option<PadResult>,
    selfie_match: Option<FaceMatch>,
    live: bool,
}

pub fn run(args: &LivenessArgs, ctx: &Context) -> anyhow::Result<()> {
    let engine = load_engine(ctx)?;
    let bytes = args.frames.iter().map(|p| read(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let frames: Vec<(u32, &[u8])> =
        (0..).map(|i: u32| i * args.interval_ms).zip(bytes.iter().map(Vec::as_slice)).collect();
    let key = args.key.as_deref().map(read).transpose()?;
    let selfie = args.selfie.as_deref().map(read).transpose()?;
    let film = FilmBytes { frames: &frames, key: key.as_deref(), selfie: selfie.as_deref() };
    let spec = ChallengeSpec {
        direction: args.direction,
        prompt_at_ms: args.prompt_at_ms,
        after_prompt_ms: frames.last().map_or(0, |(at, _)| at.saturating_sub(args.prompt_at_ms)),
        interval_ms: args.interval_ms,
    };
    let judged = engine.judge_film(&film, &spec, &DecodeLimits::default())?;
    let verdict = Verdict {
        turn: &judged.report,
        selfie_pad: judged.selfie_pad,
        selfie_match: judged.selfie_match,
        live: judged.live(),
    };
    emit(ctx.json, &verdict, |v| {
        let r = v.turn;
        let c = &r.challenge;
        let mut t = format!(
            "asked: turn {}; start yaw {:+.3}; peak change {:+.3} (needs {:.2}); measured with {:?}\n \
             frame     ms  faces  score     yaw   change  roll°\n",
            c.direction.as_str(),
            c.baseline_yaw,
            c.peak_delta,
            c.rules.turn_threshold,
            r.detector
        );
        for (i, (m, d)) in r.measures.frames.iter().zip(&c.deltas).enumerate() {
            let (score, yaw, roll) = m.face.map_or((0.0, f32::NAN, f32::NAN), |f| (f.score, f.yaw, f.roll_deg));
            let change = d.map_or_else(|| "     -".to_owned(), |d| format!("{d:+.3}"));
            t.push_str(&format!(
                " {i:>5} {:>6} {:>6} {score:>6.2} {yaw:>+7.3} {change:>8} {roll:>+6.1}\n",
                m.at_ms, m.faces
            ));
        }
        for id in &r.measures.identity {
            t.push_str(&format!("identity: frame {} is {:.3} from the start\n", id.frame, id.distance));
        }
        t.push_str(&format!(
            "turned: {}  returned: {}  same person: {}  head turn: {}\n",
            c.turned,
            c.returned,
            c.same_person,
            if c.passed { "PASSED" } else { "FAILED" }
        ));
        for f in &c.failures {
            t.push_str(&format!("  reason: {}\n", serde_json::to_string(f).unwrap_or_default()));
        }
        for (what, pad) in [("start", r.passive), ("selfie", v.selfie_pad)] {
            match pad {
                Some(p) => t.push_str(&format!(
                    "passive PAD ({what}): live score {:.3} → {}\n",
                    p.live_score,
                    if p.is_live { "live" } else { "SPOOF" }
                )),
                None => t.push_str(&format!("passive PAD ({what}): did not run\n")),
            }
        }
        if let Some(m) = v.selfie_match {
            t.push_str(&format!(
                "selfie: distance {:.3} (threshold {:.2}) → {}\n",
                m.distance,
                m.threshold,
                if m.is_match { "same person" } else { "ANOTHER PERSON" }
            ));
        }
        t.push_str(if v.live { "verdict: LIVE" } else { "verdict: NOT LIVE" });
        t
    })
}
