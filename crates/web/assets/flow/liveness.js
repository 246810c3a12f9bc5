// The head-turn challenge: the server picks a direction; the person presses start, the camera
// opens, and the page takes `frames` frames `frameIntervalMs` apart, starting at once (the first
// one frontal), while the person turns the head that way and back. The frames go to the server,
// which answers like a capture.

import { api } from "./api.js";
import { CameraError, canvasToJpeg, grabCanvas, openCamera } from "./camera.js";
import { h, newKey, show, sleep } from "./dom.js";
import { emit } from "./events.js";
import { problemItems, setFeedback } from "./capture.js";
import { cameraProblemPanel } from "./handoff.js";
import { t } from "./i18n.js";

const FRAME_MAX_SIDE = 1280;
// Ask for a fresh challenge rather than send frames that would arrive after it expires.
const EXPIRY_MARGIN_MS = 5000;

export function livenessScreen(app) {
  return (view, alive) => {
    let challenge = null;
    let camera = null;
    let busy = false;
    let retriesLeft = app.state.retries ? app.state.retries.liveness : undefined;

    const arrow = h("span", { class: "arrow", "aria-hidden": "true" });
    const instruction = h("p", { class: "instruction" });
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
      challengeBox.dataset.direction = challenge.direction;
      arrow.textContent = challenge.direction === "left" ? "\u2190" : "\u2192";
      instruction.textContent = t(challenge.direction === "left" ? "liveness.turnLeft" : "liveness.turnRight");
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

    /** Opens the camera and takes the frames; null when the camera failed. */
    async function takeFrames() {
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
      const count = Math.max(1, Number(challenge.frames) || 1);
      const interval = Math.max(0, Number(challenge.frameIntervalMs) || 0);
      viewfinder.classList.add("turning");
      show(progress, true);
      progress.value = 0;
      setFeedback(feedback, "capturing", { text: t(challenge.direction === "left" ? "liveness.nowLeft" : "liveness.nowRight") });
      const started = performance.now();
      const encoded = [];
      for (let i = 0; i < count; i += 1) {
        const wait = started + i * interval - performance.now();
        if (wait > 0) await sleep(wait);
        if (!alive() || !camera) return null;
        // Drawn now, encoded in the background, so encoding never delays the next frame.
        encoded.push(canvasToJpeg(grabCanvas(video, FRAME_MAX_SIDE), 0.9));
        progress.value = (i + 1) / count;
      }
      const frames = await Promise.all(encoded);
      stopCamera();
      viewfinder.classList.remove("turning");
      return frames;
    }

    async function takeTurn() {
      if (busy) return;
      problem.hide();
      busy = true;
      show(startButton, true);
      startButton.disabled = true;
      if (!challenge || Date.now() > challenge.expiresAt - EXPIRY_MARGIN_MS) {
        // The old one ran out while the person read the instructions: show the new direction
        // and let them start again.
        const fresh = await newChallenge();
        busy = false;
        if (fresh) setFeedback(feedback, "idle", { text: t("liveness.newChallenge") });
        return;
      }
      let frames;
      try {
        frames = await takeFrames();
      } catch (e) {
        frames = null;
        cameraFailed(e);
      }
      if (!frames || !alive()) {
        busy = false;
        return;
      }
      show(progress, false);
      setFeedback(feedback, "checking", { text: t("liveness.checking") });
      const answered = challenge;
      challenge = null;
      let answer;
      try {
        answer = await api.frames(answered.challengeId, frames, newKey());
      } catch (e) {
        busy = false;
        if (!alive()) return;
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
      if (!alive()) return;
      retriesLeft = answer.retriesLeft;
      if (answer.accepted) {
        setFeedback(feedback, "accepted", { text: t("liveness.accepted") });
        emit("step-completed", { step: "liveness" });
        await sleep(matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 400);
        if (alive()) app.refresh();
        return;
      }
      const codes = (answer.problems || []).map((p) => p.code);
      setFeedback(feedback, "rejected", { codes, text: t("liveness.rejected"), items: problemItems(answer.problems || []) });
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
