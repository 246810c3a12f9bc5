/**
 * veriframe embed helper: shows the hosted onboarding flow in an iframe on the integrator's
 * page and reports what happens.
 *
 *   <script src="https://VERIFRAME_HOST/embed.js"></script>
 *   const frame = VeriframeEmbed.mount(document.getElementById("app"), onboardingUrl, {
 *     statusUrl: "/my-backend/onboarding-status", // optional: your backend, answers {onboardingStatus}
 *     pollMs: 2000,                                // optional, default 2000 (minimum 500)
 *     onEvent(event) {},   // every event from the flow (below)
 *     onStatus(status) {}, // each new onboardingStatus from statusUrl
 *     onFinish(status) {}, // once: ONBOARDING_FINISHED (or a manual-review status) from statusUrl;
 *                          // without statusUrl, on the flow's "finished" event (status null)
 *     onError(error) {},   // "error" and "expired" events, and failed status polls
 *   });
 *   frame.unmount();       // stops polling and removes the iframe through its parent node
 *
 * As an ES module: import { mount } from "https://VERIFRAME_HOST/embed.mjs".
 *
 * Events the flow posts (objects `{source: "veriframe", type, interviewId, step?, code?}`),
 * accepted only from the onboarding URL's origin and only from this iframe:
 *   started         the page opened its session
 *   step-completed  a step was accepted; `step`: consent, front, back, selfie or liveness
 *   capture-failed  a capture was rejected and will be retaken; `step`, and `code`: the first
 *                   problem (e.g. BLURRY, NO_FACE, WRONG_SIDE, NO_TURN, UPLOAD_UNSUPPORTED)
 *   finished        verification is complete and the end screen is shown
 *   error           something the person cannot fix; `code`: NETWORK, SERVER,
 *                   PROCESSING_FAILED or UNKNOWN, `step` where it happened
 *   expired         the link or the session has expired (`interviewId` may be null)
 * Failed status polls reach onError as `{source: "embed", type: "error", code: "STATUS_POLL_FAILED", status}`.
 *
 * Events are hints for your UI; your backend's status (polled or from webhooks) is the truth.
 */
(function (global) {
  "use strict";

  var ALLOW = "camera *; microphone *; geolocation *; accelerometer *; gyroscope *";
  var COMPLETE = ["ONBOARDING_FINISHED", "MANUAL_REVIEW_APPROVED", "MANUAL_REVIEW_REJECTED"];

  function call(fn, value) {
    if (typeof fn !== "function") return;
    try {
      fn(value);
    } catch (e) {
      setTimeout(function () {
        throw e;
      });
    }
  }

  function mount(container, onboardingUrl, options) {
    var opts = options || {};
    var host = typeof container === "string" ? document.querySelector(container) : container;
    if (!host || typeof host.appendChild !== "function") throw new Error("VeriframeEmbed.mount: no container element");
    var url = new URL(String(onboardingUrl), global.location.href);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("VeriframeEmbed.mount: the onboarding URL must be http(s)");
    var origin = url.origin;

    var frame = document.createElement("iframe");
    // The policy is fixed when the frame navigates: `allow` must be set before it is inserted.
    frame.setAttribute("allow", ALLOW);
    frame.setAttribute("title", opts.title || "Identity verification");
    frame.setAttribute("referrerpolicy", "origin");
    frame.setAttribute("frameborder", "0");
    frame.width = "100%";
    frame.height = "100%";
    frame.style.width = "100%";
    frame.style.height = "100%";
    frame.style.border = "0";
    frame.style.display = "block";
    frame.src = url.href;

    var stopped = false;
    var finished = false;
    var expired = false;
    var timer = null;
    var lastStatus = null;
    var pollMs = Math.max(500, Number(opts.pollMs) || 2000);

    function finish(status) {
      if (finished) return;
      finished = true;
      stopPolling();
      call(opts.onFinish, status);
    }

    function stopPolling() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    }

    function schedule(delay) {
      stopPolling();
      if (stopped || finished || !opts.statusUrl) return;
      timer = setTimeout(poll, delay);
    }

    function poll() {
      timer = null;
      if (stopped || finished) return;
      fetch(opts.statusUrl, { headers: { accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) throw { status: response.status };
          return response.json();
        })
        .then(function (body) {
          if (stopped || finished) return;
          var status = body && body.onboardingStatus;
          if (status && status !== lastStatus) {
            lastStatus = status;
            call(opts.onStatus, status);
          }
          if (COMPLETE.indexOf(status) >= 0) return finish(status);
          if (status === "EXPIRED") {
            expired = true;
            stopPolling();
            call(opts.onError, { source: "embed", type: "expired", code: "EXPIRED" });
            return;
          }
          schedule(pollMs);
        })
        .catch(function (e) {
          if (stopped || finished) return;
          call(opts.onError, { source: "embed", type: "error", code: "STATUS_POLL_FAILED", status: (e && e.status) || 0 });
          schedule(pollMs * 2);
        });
    }

    function onMessage(event) {
      if (event.origin !== origin || event.source !== frame.contentWindow) return;
      var data = event.data;
      if (!data || typeof data !== "object" || data.source !== "veriframe" || typeof data.type !== "string") return;
      call(opts.onEvent, data);
      if (data.type === "error" || data.type === "expired") call(opts.onError, data);
      if (data.type === "finished") {
        // The status poll is the source of truth; without one, the event is all there is.
        // A late `finished` after the poll saw EXPIRED does not restart polling.
        if (!opts.statusUrl) finish(null);
        else if (!expired) schedule(0);
      }
    }

    global.addEventListener("message", onMessage);
    host.appendChild(frame);
    schedule(pollMs);

    return {
      iframe: frame,
      unmount: function () {
        if (stopped) return;
        stopped = true;
        stopPolling();
        global.removeEventListener("message", onMessage);
        if (frame.parentNode) frame.parentNode.removeChild(frame);
      },
    };
  }

  global.VeriframeEmbed = { mount: mount, version: 1 };
})(typeof globalThis !== "undefined" ? globalThis : window);
