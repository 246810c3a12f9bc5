// The hosted onboarding page. It reads its link from its own path (/flow/{link}), exchanges it
// for a flow token kept in memory, and shows the step the server says is current. Every screen
// change stops the camera; `<main id="app" data-step>` always names the screen (see the DOM
// contract the browser tests rely on).

import { ApiError, api, setToken } from "./api.js";
import { stopAllCameras } from "./camera.js";
import { captureScreen } from "./capture.js";
import { h } from "./dom.js";
import { configureEvents, emitOnce } from "./events.js";
import { followScreen } from "./handoff.js";
import { loadLanguage } from "./i18n.js";
import { livenessScreen } from "./liveness.js";
import { consentScreen, doneScreen, errorScreen, expiredScreen, processingScreen } from "./screens.js";

const root = document.getElementById("app");
const CAPTURE_STEPS = new Set(["front", "back", "selfie"]);
const CAMERA_STEPS = new Set(["front", "back", "selfie", "liveness"]);

let generation = 0;
let cleanup = null;

/** Replaces the screen. `build(view, alive)` may return a cleanup function. */
function mount(step, build) {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // A failing cleanup must not keep the next screen from showing.
    }
    cleanup = null;
  }
  stopAllCameras();
  generation += 1;
  const mine = generation;
  const alive = () => mine === generation;
  const view = h("section", { class: `screen screen-${step}` });
  root.replaceChildren(view);
  root.dataset.step = step;
  root.removeAttribute("aria-busy");
  cleanup = build(view, alive) || null;
  const heading = view.querySelector("h1");
  if (heading) heading.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

const app = {
  /** The latest flow state from the server. */
  state: null,
  /** The hand-off link and QR code, once the person chose to continue on a phone. */
  handoff: null,
  /** True while a desktop follows a phone's progress. */
  following: false,

  /** Shows the screen for `state.current`. */
  go(state) {
    app.state = state;
    configureEvents(state);
    const step = state.current;
    if (app.following && CAMERA_STEPS.has(step)) return mount(step, followScreen(app));
    if (step === "consent") return mount(step, consentScreen(app));
    if (CAPTURE_STEPS.has(step)) return mount(step, captureScreen(app, step));
    if (step === "liveness") return mount(step, livenessScreen(app));
    if (step === "processing") return mount(step, processingScreen(app));
    if (step === "done") return mount(step, doneScreen(app));
    if (step === "expired") return mount(step, expiredScreen());
    return app.fail({ code: "UNKNOWN" });
  },

  /** Fetches the state and shows it (before the session was opened: starts over). */
  async refresh() {
    if (!app.state) return window.location.reload();
    try {
      app.go(await api.state());
    } catch (e) {
      app.fail(e);
    }
  },

  /** An unrecoverable problem: a 401 means the link or the session ran out. */
  fail(error) {
    if (error instanceof ApiError && error.status === 401) return mount("expired", expiredScreen());
    const code = error && error.code ? error.code : error instanceof ApiError && error.status === 0 ? "NETWORK" : "SERVER";
    return mount("error", errorScreen(app, code));
  },
};

/** The link is the last path segment: /flow/{link}. */
function linkFromPath() {
  const segments = window.location.pathname.split("/").filter(Boolean);
  return segments.length >= 2 && segments[0] === "flow" ? decodeURIComponent(segments[segments.length - 1]) : "";
}

async function boot() {
  const browserLanguages = [document.documentElement.lang, ...(navigator.languages || [navigator.language])];
  const link = linkFromPath();
  let opened;
  try {
    if (!link) throw new ApiError(401, "no link");
    opened = await api.open(link);
  } catch (e) {
    await loadLanguage(...browserLanguages).catch(() => null);
    return app.fail(e);
  }
  setToken(opened.flowToken);
  const state = opened.state;
  try {
    await loadLanguage(state.language, ...browserLanguages);
  } catch {
    // Without any catalogue the page still works, showing keys; nothing better is possible.
  }
  configureEvents(state);
  if (state.current !== "done" && state.current !== "expired") emitOnce("started");
  app.go(state);
}

window.addEventListener("pagehide", stopAllCameras);
boot();
