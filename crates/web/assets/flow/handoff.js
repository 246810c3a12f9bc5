// What the page offers when the camera cannot be used: an explanation, the photo upload (moved
// in by the capture screens), another try, and on a desktop "continue on your phone" with a QR
// code of a fresh link to the same session. After a hand-off this page follows the phone's
// progress by polling the state.

import { api } from "./api.js";
import { h, importSvg, isMobile, show, sleep } from "./dom.js";
import { t } from "./i18n.js";

const FOLLOW_POLL_MS = 3000;

/** The QR code and the link as text, for a hand-off answer. */
export function handoffView(handoff) {
  const qr = h("div", { class: "qr", "data-role": "qr" });
  try {
    const svg = importSvg(handoff.qrSvg);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", t("handoff.qrLabel"));
    qr.append(svg);
  } catch {
    qr.append(h("p", { text: t("handoff.qrUnavailable") }));
  }
  return h(
    "div",
    { class: "handoff", "data-role": "handoff" },
    h("p", { text: t("handoff.scan") }),
    qr,
    h("p", { class: "handoff-url" }, t("handoff.orOpen"), " ", h("span", { class: "url", text: handoff.url })),
  );
}

/**
 * Polls the state while `alive()`, and hands any change of step to the app. Used after a
 * hand-off, where the phone does the work.
 */
export async function follow(app, alive) {
  const start = app.state.current;
  while (alive()) {
    await sleep(FOLLOW_POLL_MS);
    if (!alive()) return;
    let state;
    try {
      state = await api.state();
    } catch (e) {
      if (e && e.status === 401) return app.fail(e);
      continue;
    }
    if (!alive()) return;
    if (state.current !== start) {
      app.following = true;
      return app.go(state);
    }
  }
}

/**
 * The camera-problem panel. `onRetry` tries the camera again; the hand-off button appears on
 * desktops only (don't show a QR code to someone already holding a phone).
 */
export function cameraProblemPanel(app, { onRetry, alive }) {
  const text = h("p", { class: "problem-text" });
  const retry = h("button", { type: "button", class: "secondary", "data-action": "retry-camera", text: t("camera.retry") });
  retry.addEventListener("click", () => onRetry());
  const handoffButton = isMobile()
    ? null
    : h("button", { type: "button", class: "secondary", "data-action": "handoff", text: t("handoff.button") });
  const handoffArea = h("div", { class: "handoff-area" });
  const status = h("p", { class: "handoff-status", role: "status", "aria-live": "polite" });
  const panel = h(
    "div",
    { class: "panel camera-problem", "data-role": "camera-problem", hidden: true },
    h("h2", { text: t("camera.problemTitle") }),
    text,
    h("div", { class: "actions" }, retry, handoffButton),
    handoffArea,
    status,
  );
  if (handoffButton) {
    handoffButton.addEventListener("click", async () => {
      handoffButton.disabled = true;
      status.textContent = t("handoff.creating");
      try {
        app.handoff = await api.handoff();
      } catch (e) {
        handoffButton.disabled = false;
        if (e && e.status === 401) return app.fail(e);
        status.textContent = t("handoff.failed");
        return;
      }
      if (!alive()) return;
      handoffArea.replaceChildren(handoffView(app.handoff));
      status.textContent = t("handoff.waiting");
      show(handoffButton, false);
      follow(app, alive);
    });
  }
  return {
    el: panel,
    /** Shows the panel with the explanation for `reason`. */
    show(reason) {
      text.textContent = t(`camera.problem.${reason}`);
      show(panel, true);
    },
    hide() {
      show(panel, false);
    },
  };
}

/** The screen a desktop shows while the person continues on their phone. */
export function followScreen(app) {
  return (view, alive) => {
    const useHere = h("button", { type: "button", class: "secondary", "data-action": "use-this-device", text: t("handoff.useThisDevice") });
    useHere.addEventListener("click", () => {
      app.following = false;
      app.go(app.state);
    });
    view.append(
      h("h1", { tabindex: "-1", text: t("handoff.followTitle") }),
      h("p", { text: t("handoff.followText", { step: t(`step.${app.state.current}`) }) }),
      app.handoff ? handoffView(app.handoff) : null,
      h("p", { role: "status", "aria-live": "polite", text: t("handoff.waiting") }),
      h("div", { class: "actions" }, useHere),
    );
    follow(app, alive);
  };
}
