//! `veriframe liveness --direction left|right FRAME...`: judge a head-turn film from image files.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use veriframe_vision::liveness::{ChallengeSpec, TurnDirection};

use super::face::{load_engine, read_image};
use crate::cli::Context;
use crate::output::emit;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DirectionArg {
    /// The subject turns to their own left.
    Left,
    /// The subject turns to their own right.
    Right,
}

#[derive(Debug, Args)]
pub struct LivenessArgs {
    /// Direction the subject was asked to turn (their own left or right).
    #[arg(long, value_enum)]
    pub direction: DirectionArg,
    /// Milliseconds between frames (the page films every 100 ms).
    #[arg(long, default_value_t = 100)]
    pub interval_ms: u32,
    /// When the arrow appeared, in milliseconds after the first frame.
    #[arg(long, default_value_t = 1000)]
    pub prompt_at_ms: u32,
    /// A sharper copy of the first frame (the start's identity and passive PAD).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The frames were mirrored horizontally by the client (selfie preview style).
    #[arg(long)]
    pub mirrored: bool,
    /// Frames in capture order.
    #[arg(required = true)]
    pub frames: Vec<PathBuf>,
}

pub fn run(args: &LivenessArgs, ctx: &Context) -> anyhow::Result<()> {
    let engine = load_engine(ctx)?;
    let frames = args
        .frames
        .iter()
        .zip((0..).map(|i: u32| i * args.interval_ms))
        .map(|(p, at)| Ok((at, read_image(p)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let key = args.key.as_deref().map(read_image).transpose()?;
    let spec = ChallengeSpec {
        direction: match args.direction {
            DirectionArg::Left => TurnDirection::Left,
            DirectionArg::Right => TurnDirection::Right,
        },
        prompt_at_ms: args.prompt_at_ms,
        after_prompt_ms: frames.last().map_or(0, |(at, _)| at.saturating_sub(args.prompt_at_ms)),
        interval_ms: args.interval_ms,
    };
    let report = engine.head_turn(&frames, key.as_ref(), &spec, args.mirrored)?;
    emit(ctx.json, &report, |r| {
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
        match &r.passive {
            Some(p) => t.push_str(&format!(
                "passive PAD (start): live score {:.3} → {}\n",
                p.live_score,
                if p.is_live { "live" } else { "SPOOF" }
            )),
            None => t.push_str("passive PAD: not installed\n"),
        }
        t.push_str(if r.live { "verdict: LIVE" } else { "verdict: NOT LIVE" });
        t
    })
}
