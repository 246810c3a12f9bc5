//! How people turn their heads when a screen asks them to: a smooth turn out, a hold, a smooth
//! turn back, with the sway, nod, roll and tremor that come with it, and timing that varies from
//! person to person. Times are in milliseconds from the moment the prompt appears.

use crate::Rng;

/// The head's pose at one instant, relative to looking straight at the camera.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pose {
    /// Degrees; positive turns the subject to their own left.
    pub yaw_deg: f32,
    /// Degrees; positive nods down.
    pub pitch_deg: f32,
    /// Degrees in the image plane, clockwise.
    pub roll_deg: f32,
    /// Sideways and vertical head shift, in inter-eye distances.
    pub dx: f32,
    pub dy: f32,
}

/// One head-turn gesture: out to `amplitude_deg` toward `direction`, hold, back.
#[derive(Debug, Clone, PartialEq)]
pub struct Gesture {
    /// +1 for the subject's left, −1 for their right.
    pub direction: f32,
    pub amplitude_deg: f32,
    /// From the prompt to the first movement.
    pub reaction_ms: f32,
    pub out_ms: f32,
    pub hold_ms: f32,
    pub back_ms: f32,
    /// How far past frontal the way back swings before settling (degrees, other side).
    pub overshoot_deg: f32,
    /// Nod that rides along with the turn (degrees at the peak, either sign).
    pub nod_deg: f32,
    /// Roll per degree of yaw (people tilt a little as they turn).
    pub roll_per_yaw: f32,
    /// Head shift at the peak toward the turn, in inter-eye distances.
    pub sway: f32,
    /// Where the head rests before and after: nobody faces the camera exactly. The turn goes
    /// from here to `amplitude_deg` from frontal.
    pub rest_yaw_deg: f32,
    pub rest_pitch_deg: f32,
    /// Tremor amplitude (degrees) and its phases: a sum of slow sinusoids.
    pub tremor_deg: f32,
    tremor: [(f32, f32); 3],
}

/// Minimum-jerk position profile on [0, 1]: how a smooth voluntary movement accelerates and
/// brakes.
fn smooth(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * t * (10.0 - 15.0 * t + 6.0 * t * t)
}

/// Settling after the overshoot on the way back.
const SETTLE_MS: f32 = 300.0;

impl Gesture {
    /// A gesture with the given shape and no incidental motion (tremor, sway, nod, roll).
    pub fn plain(
        direction: f32,
        amplitude_deg: f32,
        reaction_ms: f32,
        out_ms: f32,
        hold_ms: f32,
        back_ms: f32,
    ) -> Self {
        Self {
            direction: direction.signum(),
            amplitude_deg,
            reaction_ms,
            out_ms,
            hold_ms,
            back_ms,
            overshoot_deg: 0.0,
            nod_deg: 0.0,
            roll_per_yaw: 0.0,
            sway: 0.0,
            rest_yaw_deg: 0.0,
            rest_pitch_deg: 0.0,
            tremor_deg: 0.0,
            tremor: [(0.0, 0.0); 3],
        }
    }

    /// A person asked to turn toward `direction`, drawn from ranges that cover slow and fast,
    /// small and large, careful and sloppy turns: amplitude 20–45°, reaction 0.2–0.8 s, out
    /// 0.25–1.0 s, hold 0–0.7 s, back 0.3–1.1 s.
    pub fn natural(rng: &mut Rng, direction: f32) -> Self {
        let mut g = Self::plain(
            direction,
            rng.range(20.0, 45.0),
            rng.range(200.0, 800.0),
            rng.range(250.0, 1000.0),
            rng.range(0.0, 700.0),
            rng.range(300.0, 1100.0),
        );
        g.overshoot_deg = rng.range(0.0, 4.0);
        g.nod_deg = rng.range(-6.0, 6.0);
        g.roll_per_yaw = rng.range(-0.12, 0.12);
        g.sway = rng.range(0.0, 0.15);
        g.rest_yaw_deg = rng.range(-5.0, 5.0);
        g.rest_pitch_deg = rng.range(-4.0, 4.0);
        g.tremor_deg = rng.range(0.2, 1.0);
        g.tremor = std::array::from_fn(|_| (rng.range(0.3, 2.5), rng.range(0.0, std::f32::consts::TAU)));
        g
    }

    /// When the head is back at rest, from the prompt.
    pub fn end_ms(&self) -> f32 {
        self.reaction_ms + self.out_ms + self.hold_ms + self.back_ms + SETTLE_MS
    }

    /// How far the head is turned toward `direction` at `t_ms` (0 before the reaction,
    /// `amplitude_deg` during the hold, slightly negative while overshooting on the way back).
    pub fn turn_deg(&self, t_ms: f32) -> f32 {
        let t = t_ms - self.reaction_ms;
        if t <= 0.0 {
            return 0.0;
        }
        if t < self.out_ms {
            return self.amplitude_deg * smooth(t / self.out_ms);
        }
        let t = t - self.out_ms;
        if t < self.hold_ms {
            return self.amplitude_deg;
        }
        let t = t - self.hold_ms;
        if t < self.back_ms {
            let target = -self.overshoot_deg;
            return self.amplitude_deg + (target - self.amplitude_deg) * smooth(t / self.back_ms);
        }
        let t = t - self.back_ms;
        -self.overshoot_deg * (1.0 - smooth(t / SETTLE_MS))
    }

    /// The full pose at `t_ms` after the prompt (negative: before it).
    pub fn pose_at(&self, t_ms: f32) -> Pose {
        let turn = self.turn_deg(t_ms);
        let fraction = if self.amplitude_deg > 0.0 { turn / self.amplitude_deg } else { 0.0 };
        let seconds = t_ms / 1000.0;
        let wobble = |k: usize| {
            let sum: f32 = self
                .tremor
                .iter()
                .enumerate()
                .map(|(i, (hz, phase))| {
                    let phase = phase + k as f32 * 1.7 + i as f32;
                    (std::f32::consts::TAU * hz * seconds + phase).sin() / 3.0
                })
                .sum();
            self.tremor_deg * sum
        };
        // The head leaves its rest pose for the turned one: `amplitude_deg` is from frontal.
        let yaw = self.rest_yaw_deg * (1.0 - fraction.clamp(0.0, 1.0)) + self.direction * turn + wobble(0);
        Pose {
            yaw_deg: yaw,
            pitch_deg: self.rest_pitch_deg + self.nod_deg * fraction + wobble(1),
            roll_deg: self.roll_per_yaw * self.direction * turn + 0.5 * wobble(2),
            dx: self.sway * self.direction * fraction,
            dy: 0.02 * wobble(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_turn_goes_out_holds_and_comes_back() {
        let g = Gesture::plain(1.0, 30.0, 300.0, 500.0, 200.0, 600.0);
        assert_eq!(g.turn_deg(0.0), 0.0);
        assert_eq!(g.turn_deg(300.0), 0.0);
        assert!((g.turn_deg(550.0) - 15.0).abs() < 0.01, "half way out at half time");
        assert_eq!(g.turn_deg(900.0), 30.0);
        assert!(g.turn_deg(1300.0) > 0.0 && g.turn_deg(1300.0) < 30.0);
        assert!(g.turn_deg(g.end_ms() + 1.0).abs() < 1e-6);
        let right = Gesture::plain(-1.0, 30.0, 300.0, 500.0, 200.0, 600.0);
        assert_eq!(right.pose_at(900.0).yaw_deg, -30.0);
    }

    #[test]
    fn natural_gestures_stay_in_their_ranges() {
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let g = Gesture::natural(&mut rng, -1.0);
            assert!((20.0..45.0).contains(&g.amplitude_deg));
            assert!(g.end_ms() < 4000.0, "{g:?}");
            let peak = (0..400).map(|k| g.pose_at(k as f32 * 10.0).yaw_deg).fold(f32::INFINITY, f32::min);
            assert!(peak < -15.0, "turned right: {peak}");
        }
    }
}
