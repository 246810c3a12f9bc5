// The document (front, back) and selfie steps: a live preview with a guide (document frame or
// face oval), a capture button that uploads the frame at once, the server's feedback with a
// retake, and a photo upload that works with or without a camera.

import { api } from "./api.js";
import { CameraError, canvasToJpeg, grabCanvas, openCamera, prepareUpload } from "./camera.js";
import { h, newKey, show, sleep } from "./dom.js";
import { emit } from "./events.js";
import { cameraProblemPanel } from "./handoff.js";
import { has, t } from "./i18n.js";

/** Problem list for the feedback region: translated from the codes, the server's text as a last resort. */
export function problemItems(problems) {
  return problems.map((p) => h("li", { text: has(`problem.${p.code}`) ? t(`problem.${p.code}`) : p.message || p.code }));
}

/** Sets the feedback region: `state` is idle, checking, accepted or rejected. */
export function setFeedback(feedback, state, { codes = [], text = "", items = [] } = {}) {
  feedback.dataset.state = state;
  feedback.dataset.codes = codes.join(" ");
  feedback.classList.toggle("bad", state === "rejected");
  feedback.classList.toggle("good", state === "accepted");
  const children = [];
  if (text) children.push(h("p", { text }));
  if (items.length) children.push(h("ul", {}, items));
  feedback.replaceChildren(...children);
}

/**
 * The guide frame as `x,y,w,h` in 0..1 of the full video frame. The video is shown with
 * `object-fit: cover`, so the visible part is a centred crop of the frame; this undoes that.
 */
function guideCrop(video, guide) {
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  const box = video.getBoundingClientRect();
  const frame = guide.getBoundingClientRect();
  if (!vw || !vh || !box.width || !box.height || !frame.width || !frame.height) return null;
  const scale = Math.max(box.width / vw, box.height / vh);
  const shownW = vw * scale;
  const shownH = vh * scale;
  const offsetX = (box.width - shownW) / 2;
  const offsetY = (box.height - shownH) / 2;
  const clamp = (v) => Math.min(1, Math.max(0, v));
  const x = clamp((frame.left - box.left - offsetX) / shownW);
  const y = clamp((frame.top - box.top - offsetY) / shownH);
  const w = Math.min(1 - x, frame.width / shownW);
  const hgt = Math.min(1 - y, frame.height / shownH);
  if (w < 0.1 || hgt < 0.1) return null;
  return [x, y, w, hgt].map((v) => v.toFixed(4)).join(",");
}

/** Builds the screen for `kind` (front, back or selfie). */
export function captureScreen(app, kind) {
  return (view, alive) => {
    const isFace = kind === "selfie";
    const facing = isFace ? "user" : "environment";
    let camera = null;
    let cameraReady = null;
    let busy = false;
    let retriesLeft = app.state.retries ? app.state.retries[kind] : undefined;

    const video = h("video", {
      "data-role": "preview",
      autoplay: true,
      muted: true,
      playsinline: true,
      "aria-label": t("camera.previewLabel"),
    });
    const still = h("img", { class: "still", alt: t("capture.stillAlt"), hidden: true });
    const guide = h("div", { class: isFace ? "guide face-oval" : "guide doc-frame", "aria-hidden": "true" });
    const viewfinder = h(
      "div",
      { class: `viewfinder ${isFace ? "face mirrored" : "document"}` },
      video,
      still,
      guide,
      h("div", { class: "busy", hidden: true }, h("span", { class: "spinner", "aria-hidden": "true" })),
    );
    const busyOverlay = viewfinder.querySelector(".busy");
    const feedback = h("div", {
      class: "feedback",
      "data-role": "feedback",
      role: "status",
      "aria-live": "polite",
      "data-codes": "",
      "data-state": "idle",
    });
    const captureButton = h("button", { type: "button", class: "primary", "data-action": "capture", text: t("capture.take") });
    const retakeButton = h("button", { type: "button", class: "primary", "data-action": "retake", hidden: true, text: t("capture.retake") });
    const retries = h("p", { class: "retries" });
    const uploadId = `upload-${kind}`;
    const upload = h("input", {
      type: "file",
      id: uploadId,
      accept: "image/*",
      capture: facing,
      "data-role": "upload",
    });
    const uploadArea = h(
      "div",
      { class: "upload" },
      h("label", { for: uploadId, text: t(isFace ? "upload.labelSelfie" : "upload.labelDocument") }),
      upload,
    );
    const problem = cameraProblemPanel(app, { onRetry: () => startCamera(), alive });
    const photoFallback = h("details", { class: "photo-instead" }, h("summary", { text: t("upload.instead") }), uploadArea);

    const showRetries = () => {
      if (retriesLeft === undefined || retriesLeft === null) {
        retries.textContent = "";
      } else {
        retries.textContent = retriesLeft > 0 ? t("capture.retriesLeft", { n: retriesLeft }) : t("capture.lastTry");
      }
    };
    showRetries();

    view.append(
      h("h1", { tabindex: "-1", text: t(`capture.${kind}.title`) }),
      h("p", { class: "hint", text: t(`capture.${kind}.hint`) }),
      viewfinder,
      feedback,
      h("div", { class: "actions" }, captureButton, retakeButton),
      retries,
      problem.el,
      photoFallback,
    );

    const cameraFailed = (error) => {
      if (!alive()) return;
      if (camera) camera.stop();
      camera = null;
      const reason = error instanceof CameraError ? error.reason : "failed";
      show(viewfinder, false);
      show(captureButton, false);
      show(retakeButton, false);
      // The upload now sits inside the explanation, open, as the way forward.
      uploadArea.classList.add("prominent");
      problem.el.insertBefore(uploadArea, problem.el.querySelector(".actions"));
      show(photoFallback, false);
      problem.show(reason);
    };

    function startCamera() {
      problem.hide();
      if (uploadArea.parentNode !== photoFallback) {
        uploadArea.classList.remove("prominent");
        photoFallback.append(uploadArea);
        show(photoFallback, true);
      }
      hideStill();
      show(viewfinder, true);
      show(captureButton, true);
      show(retakeButton, false);
      cameraReady = openCamera(video, facing, { onLost: cameraFailed }).then(
        (opened) => {
          if (!alive()) {
            opened.stop();
            return null;
          }
          camera = opened;
          return opened;
        },
        (error) => {
          cameraFailed(error);
          return null;
        },
      );
      return cameraReady;
    }

    // The photo being checked stays on screen instead of the live picture. A camera photo of a
    // face is mirrored like the preview was; the uploaded pixels never are.
    const showStill = (src, fromCamera) => {
      if (still.src && still.src.startsWith("blob:")) URL.revokeObjectURL(still.src);
      still.src = src;
      still.classList.toggle("from-camera", fromCamera);
      viewfinder.classList.add("showing-still");
      show(still, true);
    };
    const hideStill = () => {
      if (still.src && still.src.startsWith("blob:")) URL.revokeObjectURL(still.src);
      still.removeAttribute("src");
      viewfinder.classList.remove("showing-still");
      show(still, false);
    };

    async function send(blob, source, crop) {
      busy = true;
      captureButton.disabled = true;
      show(busyOverlay, true);
      setFeedback(feedback, "checking", { text: t("capture.checking") });
      let answer;
      try {
        answer = await api.capture(kind, blob, { source, crop, key: newKey() });
      } catch (e) {
        busy = false;
        captureButton.disabled = false;
        show(busyOverlay, false);
        if (!alive()) return;
        return captureError(e);
      }
      busy = false;
      captureButton.disabled = false;
      show(busyOverlay, false);
      if (!alive()) return;
      retriesLeft = answer.retriesLeft;
      if (answer.accepted) {
        setFeedback(feedback, "accepted", { text: t("capture.accepted") });
        emit("step-completed", { step: kind });
        if (camera) camera.stop();
        await sleep(matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 400);
        if (alive()) app.refresh();
        return;
      }
      const codes = (answer.problems || []).map((p) => p.code);
      setFeedback(feedback, "rejected", { codes, text: t("capture.rejected"), items: problemItems(answer.problems || []) });
      emit("capture-failed", { step: kind, code: codes[0] });
      showRetries();
      show(captureButton, false);
      show(retakeButton, true);
      retakeButton.focus();
    }

    async function captureError(e) {
      if (e && e.status === 401) return app.fail(e);
      if (e && e.status === 400) {
        // The session may have moved on (submitted elsewhere, a step no longer needed).
        try {
          const state = await api.state();
          if (!alive()) return;
          if (state.current !== kind) return app.go(state);
        } catch {
          // Keep the local explanation below.
        }
      }
      const code = e && e.status === 413 ? "UPLOAD_TOO_LARGE" : e && e.status === 415 ? "UPLOAD_UNSUPPORTED" : e && e.status === 400 ? "UNREADABLE_IMAGE" : null;
      if (!code) {
        setFeedback(feedback, "rejected", { text: t(e && e.status === 0 ? "error.network" : "error.server") });
        show(captureButton, false);
        show(retakeButton, true);
        emit("error", { step: kind, code: e && e.status === 0 ? "NETWORK" : "SERVER" });
        return;
      }
      setFeedback(feedback, "rejected", { codes: [code], text: t("capture.rejected"), items: [h("li", { text: t(`problem.${code}`) })] });
      emit("capture-failed", { step: kind, code });
      show(captureButton, false);
      show(retakeButton, true);
    }

    captureButton.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      const opened = await (cameraReady || startCamera());
      busy = false;
      if (!opened || !alive()) return;
      let blob;
      let crop = null;
      try {
        const canvas = grabCanvas(video);
        if (!isFace) crop = guideCrop(video, guide);
        video.pause();
        blob = await canvasToJpeg(canvas, 0.92);
      } catch (e) {
        return cameraFailed(e);
      }
      showStill(URL.createObjectURL(blob), true);
      await send(blob, "camera", crop);
    });

    retakeButton.addEventListener("click", () => {
      hideStill();
      show(retakeButton, false);
      if (camera) {
        // The feedback stays, so the person still sees what to change.
        show(captureButton, true);
        const playing = video.play();
        if (playing && typeof playing.catch === "function") playing.catch(() => {});
        captureButton.focus();
      } else {
        show(viewfinder, false);
        upload.focus();
        upload.click();
      }
    });

    upload.addEventListener("change", async () => {
      const file = upload.files && upload.files[0];
      upload.value = "";
      if (!file || busy) return;
      const blob = await prepareUpload(file);
      if (!alive()) return;
      if (!blob) {
        setFeedback(feedback, "rejected", {
          codes: ["UPLOAD_UNSUPPORTED"],
          text: t("capture.rejected"),
          items: [h("li", { text: t("problem.UPLOAD_UNSUPPORTED") })],
        });
        emit("capture-failed", { step: kind, code: "UPLOAD_UNSUPPORTED" });
        return;
      }
      video.pause();
      showStill(URL.createObjectURL(blob), false);
      show(viewfinder, true);
      await send(blob, "upload", null);
    });

    startCamera();
    return () => {
      if (camera) camera.stop();
      hideStill();
    };
  };
}
