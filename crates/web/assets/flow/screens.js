// The screens without a camera: consent, processing, done, expired and error.

import { api } from "./api.js";
import { h, sleep } from "./dom.js";
import { emit, emitOnce } from "./events.js";
import { t } from "./i18n.js";

const PROCESSING_POLL_MS = 1500;

export function consentScreen(app) {
  return (view, alive) => {
    const checkbox = h("input", { type: "checkbox", id: "consent-accept", "aria-describedby": "consent-text" });
    const message = h("p", { class: "inline-error", role: "alert" });
    const button = h("button", { type: "button", class: "primary", "data-action": "continue", text: t("consent.continue") });
    view.append(
      h("h1", { tabindex: "-1", text: t("consent.title") }),
      h(
        "div",
        { id: "consent-text", class: "notice" },
        h("p", { text: t("consent.intro") }),
        h("ul", {}, h("li", { text: t("consent.document") }), h("li", { text: t("consent.face") }), h("li", { text: t("consent.use") })),
      ),
      h("div", { class: "check" }, checkbox, h("label", { for: "consent-accept", text: t("consent.accept") })),
      message,
      h("div", { class: "actions" }, button),
    );
    checkbox.addEventListener("change", () => {
      if (checkbox.checked) message.textContent = "";
    });
    button.addEventListener("click", async () => {
      if (!checkbox.checked) {
        message.textContent = t("consent.required");
        checkbox.focus();
        return;
      }
      button.disabled = true;
      let state;
      try {
        state = await api.consent();
      } catch (e) {
        button.disabled = false;
        if (alive()) app.fail(e);
        return;
      }
      if (!alive()) return;
      emit("step-completed", { step: "consent" });
      app.go(state);
    });
  };
}

export function processingScreen(app) {
  return (view, alive) => {
    view.append(
      h("h1", { tabindex: "-1", text: t("processing.title") }),
      h("div", { class: "working", "aria-hidden": "true" }, h("span", { class: "spinner large" })),
      h("p", { role: "status", "aria-live": "polite", text: t("processing.text") }),
    );
    (async () => {
      let state = app.state;
      try {
        if (!state.processing || !state.processing.submitted) state = await api.submit();
      } catch (e) {
        if (!alive()) return;
        if (e && e.status === 400) {
          // Something is still missing (or the session moved on): show where the person is.
          const fresh = await api.state().catch(() => null);
          if (fresh && fresh.current !== "processing") return app.go(fresh);
        }
        return app.fail(e);
      }
      while (alive()) {
        if (state.current !== "processing") return app.go(state);
        if (state.processing && state.processing.failed) return app.fail({ code: "PROCESSING_FAILED" });
        await sleep(PROCESSING_POLL_MS);
        if (!alive()) return;
        try {
          state = await api.state();
        } catch (e) {
          if (e && e.status === 401) return app.fail(e);
          // A network blip: keep polling.
        }
      }
    })();
  };
}

/** Only http(s) URLs are followed (the server checks too). */
function safeRedirect(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export function doneScreen(app) {
  return (view) => {
    const state = app.state;
    const end = state.endScreen || {};
    view.append(
      h("div", { class: "done-mark", "aria-hidden": "true" }),
      h("h1", { tabindex: "-1", text: end.title || t("done.title") }),
      h("p", { text: end.text || t("done.text") }),
    );
    emitOnce("finished");
    const target = window.top === window && state.redirectionUrl ? safeRedirect(state.redirectionUrl) : null;
    if (target) {
      view.append(h("p", { role: "status", text: t("done.redirecting") }));
      const delay = matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 1500;
      setTimeout(() => window.location.assign(target), delay);
    }
  };
}

export function expiredScreen() {
  return (view) => {
    view.append(h("h1", { tabindex: "-1", text: t("expired.title") }), h("p", { text: t("expired.text") }));
    emitOnce("expired");
  };
}

/** `code`: NETWORK, SERVER, PROCESSING_FAILED or UNKNOWN. */
export function errorScreen(app, code) {
  return (view) => {
    const key = { NETWORK: "error.network", PROCESSING_FAILED: "error.processingFailed" }[code] || "error.server";
    const retry = h("button", { type: "button", class: "primary", "data-action": "reload", text: t("error.retry") });
    retry.addEventListener("click", () => app.refresh());
    view.append(
      h("h1", { tabindex: "-1", text: t("error.title") }),
      h("p", { "data-role": "error-message", role: "alert", text: t(key) }),
      code === "PROCESSING_FAILED" ? null : h("div", { class: "actions" }, retry),
    );
    emit("error", { step: app.state ? app.state.current : undefined, code });
  };
}
