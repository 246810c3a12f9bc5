// Camera access. Every stream this page opens is tracked so that a screen change can stop all of
// them: the camera light goes off between steps, and the next step opens the camera afresh (with
// the facing mode it needs).

import { isInAppBrowser } from "./dom.js";

/** Why the camera is not usable: denied, blocked (by the embedding page), missing, busy, unsupported, inapp, failed, lost. */
export class CameraError extends Error {
  constructor(reason, cause) {
    super(`camera ${reason}`);
    this.name = "CameraError";
    this.reason = reason;
    this.cause = cause;
  }
}

const live = new Set();

/** Stops every track of every stream the page holds. */
export function stopAllCameras() {
  for (const stream of live) {
    for (const track of stream.getTracks()) track.stop();
  }
  live.clear();
}

function cameraAllowedHere() {
  const policy = document.permissionsPolicy || document.featurePolicy;
  try {
    return !policy || typeof policy.allowsFeature !== "function" || policy.allowsFeature("camera");
  } catch {
    return true;
  }
}

function classify(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    if (!cameraAllowedHere()) return "blocked";
    return isInAppBrowser() ? "inapp" : "denied";
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return "missing";
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") return "busy";
  return isInAppBrowser() ? "inapp" : "failed";
}

function waitForFrames(video, timeoutMs) {
  return new Promise((resolve, reject) => {
    const ready = () => video.readyState >= 2 && video.videoWidth > 0;
    if (ready()) return resolve();
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error("the camera gave no picture"));
    }, timeoutMs);
    const check = () => {
      if (ready()) {
        cleanup();
        resolve();
      }
    };
    const cleanup = () => {
      clearTimeout(timer);
      video.removeEventListener("loadeddata", check);
      video.removeEventListener("canplay", check);
      video.removeEventListener("resize", check);
    };
    video.addEventListener("loadeddata", check);
    video.addEventListener("canplay", check);
    video.addEventListener("resize", check);
  });
}

/**
 * Opens the camera into `video` and resolves once it shows a picture. `facing` is `environment`
 * (documents) or `user` (face), asked for as `ideal` so desktop webcams (and test cameras) that
 * report no facing mode still work.
 */
export async function openCamera(video, facing, { onLost } = {}) {
  if (!window.isSecureContext || !navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function") {
    throw new CameraError(isInAppBrowser() ? "inapp" : "unsupported");
  }
  if (!cameraAllowedHere()) throw new CameraError("blocked");
  const size = facing === "environment" ? { width: { ideal: 1920 }, height: { ideal: 1080 } } : { width: { ideal: 1280 }, height: { ideal: 720 } };
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: { ideal: facing }, ...size } });
  } catch (e) {
    throw new CameraError(classify(e), e);
  }
  live.add(stream);
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  try {
    const playing = video.play();
    if (playing && typeof playing.catch === "function") playing.catch(() => {});
    await waitForFrames(video, 10000);
  } catch (e) {
    stopStream(stream);
    throw new CameraError("failed", e);
  }
  for (const track of stream.getVideoTracks()) {
    track.addEventListener("ended", () => {
      if (live.has(stream) && onLost) onLost(new CameraError("lost"));
    });
  }
  return {
    stream,
    stop: () => stopStream(stream, video),
  };
}

function stopStream(stream, video) {
  for (const track of stream.getTracks()) track.stop();
  live.delete(stream);
  if (video && video.srcObject === stream) video.srcObject = null;
}

/** Draws the current video frame to a canvas, at most `maxSide` pixels on its longer side. */
export function grabCanvas(video, maxSide = 4096) {
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  if (!vw || !vh) throw new CameraError("failed");
  const scale = Math.min(1, maxSide / Math.max(vw, vh));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(vw * scale);
  canvas.height = Math.round(vh * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return canvas;
}

/** A canvas as a JPEG blob. */
export function canvasToJpeg(canvas, quality = 0.92) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("could not encode the photo"))), "image/jpeg", quality);
  });
}

const SENDABLE = new Set(["image/jpeg", "image/png", "image/webp"]);
const MAX_UPLOAD = 10 * 1024 * 1024;

/**
 * A chosen file, ready to send: JPEG, PNG and WebP go as they are (the server applies their EXIF
 * orientation); anything else the browser can decode (HEIC on Safari, for one) and anything too
 * large is re-encoded as JPEG. Null when the browser cannot read it.
 */
export async function prepareUpload(file) {
  if (SENDABLE.has(file.type) && file.size <= MAX_UPLOAD) return file;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return null;
  }
  const scale = Math.min(1, 4096 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  if (typeof bitmap.close === "function") bitmap.close();
  const blob = await canvasToJpeg(canvas, 0.92);
  return blob.size <= MAX_UPLOAD ? blob : canvasToJpeg(canvas, 0.8);
}
