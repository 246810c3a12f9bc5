// The head-turn challenge. The server hands out a challenge: a direction, and how to film (the
// film spec: frame interval, when the arrow appears, how long to keep filming after it, the part
// of each frame to keep and at what size). The person presses Start and looks at the camera; the
// page films the whole gesture at ten frames a second — a still start, then the arrow, the turn
// out and back — and uploads the small frames with their timestamps and one sharper first frame.
// The server judges the film and answers like a capture.

import { api } from "./api.js";
import { CameraError, canvasToJpeg, openCamera } from "./camera.js";
import { h, newKey, show, sleep } from "./dom.js";
import { emit } from "./events.js";
import { problemItems, setFeedback } from "./capture.js";
import { cameraProblemPanel } from "./handoff.js";
import { t } from "./i18n.js";

// Ask for a fresh challenge rather than film one that would expire before it arrives.
const EXPIRY_MARGIN_MS = 15000;

/** The centred region of a `vw`×`vh` frame that the film keeps, per the film spec. */
function filmRegion(vw, vh, film) {
  const height = Math.min(vh, Math.round(vh * film.cropHeight));
  const width = Math.min(vw, Math.round(height * film.cropAspect));
  return { x: Math.floor((vw - width) / 2), y: Math.floor((vh - height) / 2), width, height };
}

/** Draws `region` of the current video frame into a new canvas at most `maxSide` pixels long. */
function drawRegion(video, region, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(region.width, region.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(region.width * scale));
  canvas.height = Math.max(1, Math.round(region.height * scale));
  canvas.getContext("2d").drawImage(video, region.x, region.y, region.width, region.height, 0, 0, canvas.width, canvas.height);
  return canvas;
}

export function livenessScreen(app) {
  return (view, alive) => {
    let challenge = null;
    let camera = null;
    let busy = false;
    let retriesLeft = app.state.retries ? app.state.retries.liveness : undefined;

    const arrow = h("span", { class: "arrow", "aria-hidden": "true" });
    const instruction = h("p", { class: "instruction", "aria-live": "assertive" });
    const challengeBox = h("div", { class: "challenge", "data-role": "challenge", hidden: true }, arrow, instruction);
    const video = h("video", {
      "data-role": "preview",
      autoplay: true,
      muted: true,
      playsinline: true,
      "aria-label": t("camera.previewLabel"),
    });
    const progress = h("progress", { class: "turn-progress", max: "1", value: "0", hidden: true, "aria-label": t("liveness.progressLabel") });
    const viewfinder = h(
      "div",
      { class: "viewfinder face mirrored", hidden: true },
      video,
      h("div", { class: "guide face-oval", "aria-hidden": "true" }),
    );
    const feedback = h("div", {
      class: "feedback",
      "data-role": "feedback",
      role: "status",
      "aria-live": "polite",
      "data-codes": "",
      "data-state": "idle",
    });
    const startButton = h("button", { type: "button", class: "primary", "data-action": "start-turn", disabled: true, text: t("liveness.start") });
    const retryButton = h("button", { type: "button", class: "primary", "data-action": "retry-turn", hidden: true, text: t("liveness.retry") });
    const retries = h("p", { class: "retries" });
    // Another try at the camera waits for the start button, like the first one.
    const problem = cameraProblemPanel(app, {
      onRetry: () => {
        problem.hide();
        show(startButton, true);
        startButton.disabled = !challenge;
        startButton.focus();
      },
      alive,
    });

    const showRetries = () => {
      if (retriesLeft === undefined || retriesLeft === null) retries.textContent = "";
      else retries.textContent = retriesLeft > 0 ? t("capture.retriesLeft", { n: retriesLeft }) : t("capture.lastTry");
    };
    showRetries();

    view.append(
      h("h1", { tabindex: "-1", text: t("liveness.title") }),
      h("p", { class: "hint", text: t("liveness.hint") }),
      challengeBox,
      viewfinder,
      progress,
      feedback,
      h("div", { class: "actions" }, startButton, retryButton),
      retries,
      problem.el,
    );

    const stopCamera = () => {
      if (camera) camera.stop();
      camera = null;
    };

    /** Shows the arrow for the challenge's direction (at the prompt). */
    const prompt = () => {
      challengeBox.dataset.state = "turn";
      arrow.textContent = challenge.direction === "left" ? "\u2190" : "\u2192";
      instruction.textContent = t(challenge.direction === "left" ? "liveness.nowLeft" : "liveness.nowRight");
    };

    async function newChallenge() {
      startButton.disabled = true;
      let answer;
      try {
        answer = await api.challenge();
      } catch (e) {
        if (!alive()) return false;
        if (e && e.status === 400) {
          const state = await api.state().catch(() => null);
          if (state && state.current !== "liveness") {
            app.go(state);
            return false;
          }
        }
        app.fail(e);
        return false;
      }
      if (!alive()) return false;
      challenge = answer;
      // The direction stays hidden until the arrow appears; tests read it from here.
      challengeBox.dataset.direction = challenge.direction;
      challengeBox.dataset.promptAtMs = String(challenge.film.promptAtMs);
      challengeBox.dataset.state = "ready";
      arrow.textContent = "";
      instruction.textContent = t("liveness.ready");
      show(challengeBox, true);
      startButton.disabled = false;
      return true;
    }

    const cameraFailed = (error) => {
      if (!alive()) return;
      stopCamera();
      busy = false;
      show(viewfinder, false);
      show(progress, false);
      show(startButton, false);
      show(retryButton, false);
      problem.show(error instanceof CameraError ? error.reason : "failed");
    };

    /**
     * Opens the camera and films the gesture: frames every `intervalMs` from the first, the arrow
     * at `promptAtMs`, on until `afterPromptMs` later. Null when the camera failed.
     */
    async function film() {
      show(viewfinder, true);
      viewfinder.classList.remove("turning");
      try {
        camera = await openCamera(video, "user", { onLost: cameraFailed });
      } catch (e) {
        cameraFailed(e);
        return null;
      }
      if (!alive()) {
        stopCamera();
        return null;
      }
      const spec = challenge.film;
      const region = filmRegion(video.videoWidth, video.videoHeight, spec);
      const full = { x: 0, y: 0, width: video.videoWidth, height: video.videoHeight };
      const end = spec.promptAtMs + spec.afterPromptMs;
      const quality = spec.quality / 100;
      viewfinder.classList.add("turning");
      challengeBox.dataset.state = "look";
      instruction.textContent = t("liveness.look");
      show(progress, true);
      progress.value = 0;
      setFeedback(feedback, "capturing", {});
      const frames = [];
      const timestamps = [];
      let key = null;
      let prompted = false;
      const started = performance.now();
      for (let next = 0; next <= end; next += spec.intervalMs) {
        const wait = started + next - performance.now();
        if (wait > 0) await sleep(wait);
        if (!alive() || !camera) return null;
        const at = frames.length === 0 ? 0 : Math.max(timestamps[timestamps.length - 1] + 1, Math.round(performance.now() - started));
        if (!prompted && at >= spec.promptAtMs) {
          prompted = true;
          prompt();
        }
        // Drawn now, encoded in the background, so encoding never delays the next frame.
        frames.push(canvasToJpeg(drawRegion(video, region, spec.maxSide), quality));
        if (key === null) key = canvasToJpeg(drawRegion(video, full, spec.keyMaxSide), spec.keyQuality / 100);
        timestamps.push(at);
        progress.value = Math.min(1, at / end);
      }
      const blobs = await Promise.all(frames);
      const keyBlob = await key;
      stopCamera();
      viewfinder.classList.remove("turning");
      return { frames: blobs, timestamps, key: keyBlob };
    }

    async function takeTurn() {
      if (busy) return;
      problem.hide();
      busy = true;
      show(startButton, true);
      startButton.disabled = true;
      if (!challenge || Date.now() > challenge.expiresAt - EXPIRY_MARGIN_MS) {
        // The old one ran out while the person read the instructions: get a new one and let
        // them start again.
        const fresh = await newChallenge();
        busy = false;
        if (fresh) setFeedback(feedback, "idle", { text: t("liveness.newChallenge") });
        return;
      }
      let filmed;
      try {
        filmed = await film();
      } catch (e) {
        filmed = null;
        cameraFailed(e);
      }
      if (!filmed || !alive()) {
        busy = false;
        return;
      }
      show(progress, false);
      show(challengeBox, false);
      setFeedback(feedback, "checking", { text: t("liveness.checking") });
      const answered = challenge;
      let answer;
      try {
        // One key for the upload and its retries: the server answers a repeat with its first
        // answer, so a timed-out upload can be sent again.
        answer = await api.frames(answered.challengeId, filmed, newKey());
      } catch (e) {
        busy = false;
        if (!alive()) return;
        challenge = null;
        if (e && e.status === 401) return app.fail(e);
        if (e && (e.status === 400 || e.status === 404)) {
          const state = await api.state().catch(() => null);
          if (!alive()) return;
          if (state && state.current !== "liveness") return app.go(state);
          // The challenge ran out or was already answered: start over with a new one.
          show(viewfinder, false);
          if (await newChallenge()) setFeedback(feedback, "idle", { text: t("liveness.newChallenge") });
          return;
        }
        setFeedback(feedback, "rejected", { text: t(e && e.status === 0 ? "error.network" : "error.server") });
        emit("error", { step: "liveness", code: e && e.status === 0 ? "NETWORK" : "SERVER" });
        show(startButton, false);
        show(retryButton, true);
        return;
      }
      busy = false;
      challenge = null;
      if (!alive()) return;
      retriesLeft = answer.retriesLeft;
      const problems = answer.problems || [];
      if (answer.accepted) {
        // Taken as it is after the last retry: thank the person without claiming success.
        setFeedback(feedback, "accepted", { text: t(problems.length ? "liveness.taken" : "liveness.accepted") });
        emit("step-completed", { step: "liveness" });
        await sleep(matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 400);
        if (alive()) app.refresh();
        return;
      }
      const codes = problems.map((p) => p.code);
      setFeedback(feedback, "rejected", { codes, text: t("liveness.rejected"), items: problemItems(problems) });
      emit("capture-failed", { step: "liveness", code: codes[0] });
      showRetries();
      show(viewfinder, false);
      show(startButton, false);
      show(retryButton, true);
      retryButton.focus();
    }

    startButton.addEventListener("click", () => takeTurn());
    retryButton.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      show(retryButton, false);
      show(startButton, true);
      const fresh = await newChallenge();
      busy = false;
      if (fresh) startButton.focus();
    });

    newChallenge();
    return () => stopCamera();
  };
}
