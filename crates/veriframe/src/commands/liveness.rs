//! `veriframe liveness --direction left|right FRAME...`: score a head-turn challenge.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use veriframe_vision::liveness::TurnDirection;

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
    /// The frames were mirrored horizontally by the client (selfie preview style).
    #[arg(long)]
    pub mirrored: bool,
    /// Frames in capture order.
    #[arg(required = true)]
    pub frames: Vec<PathBuf>,
}

pub fn run(args: &LivenessArgs, ctx: &Context) -> anyhow::Result<()> {
    let engine = load_engine(ctx)?;
    let frames = args.frames.iter().map(|p| read_image(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let direction = match args.direction {
        DirectionArg::Left => TurnDirection::Left,
        DirectionArg::Right => TurnDirection::Right,
    };
    let report = engine.head_turn(&frames, direction, args.mirrored)?;
    emit(ctx.json, &report, |r| {
        let c = &r.challenge;
        let mut t = format!(
            "requested turn: {:?}; baseline yaw {:+.3}; peak change {:+.3} (needs {:.2})\n frame  faces  score    yaw    change  roll°   identity\n",
            c.direction, c.baseline_yaw, c.peak_delta, c.rules.turn_threshold
        );
        for f in &c.frames {
            let id = f.identity_distance.map_or_else(|| "-".to_owned(), |d| format!("{d:.3}"));
            t.push_str(&format!(
                " {:>5}  {:>5}  {:>5.2}  {:+.3}  {:+.3}  {:>+5.1}  {:>8}\n",
                f.index, f.faces, f.score, f.yaw, f.delta, f.roll_deg, id
            ));
        }
        t.push_str(&format!(
            "turned: {}  returned: {}  same person: {}  challenge: {}\n",
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
                "passive PAD (first frame): live score {:.3} → {}\n",
                p.live_score,
                if p.is_live { "live" } else { "SPOOF" }
            )),
            None => t.push_str("passive PAD: not configured\n"),
        }
        t.push_str(if r.live { "verdict: LIVE" } else { "verdict: NOT LIVE" });
        t
    })
}
