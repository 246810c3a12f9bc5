// Events to the embedding page: {source: "veriframe", type, interviewId, step?, code?}.
// They go only to the flow's allowed origins, or, when it has none, to the embedding page's own
// origin; never to "*", so no other page can read how the person is doing. They are hints for
// the integrator's UI: polling the partner API stays the source of truth.

let allowedOrigins = [];
let interviewId = null;
const sentOnce = new Set();

/** Takes the targets and the interview id from a flow state. */
export function configureEvents(state) {
  allowedOrigins = Array.isArray(state.allowedOrigins) ? state.allowedOrigins.filter(Boolean) : [];
  interviewId = state.interviewId || null;
}

/** The origin of the page that frames us, when the browser tells. */
function embeddingOrigin() {
  try {
    const ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length && ancestors[0] !== "null") return ancestors[0];
  } catch {
    // Not supported (Firefox); fall through to the referrer.
  }
  try {
    if (document.referrer) {
      const origin = new URL(document.referrer).origin;
      if (origin && origin !== "null") return origin;
    }
  } catch {
    // An unparsable referrer: nobody to tell.
  }
  return null;
}

/** Posts one event to the parent, if there is one. */
export function emit(type, { step, code } = {}) {
  if (window.parent === window) return;
  const message = { source: "veriframe", type, interviewId };
  if (step) message.step = step;
  if (code) message.code = code;
  const targets = allowedOrigins.length ? allowedOrigins : [embeddingOrigin()].filter(Boolean);
  for (const origin of targets) {
    try {
      window.parent.postMessage(message, origin);
    } catch {
      // A malformed origin in the list must not stop the others.
    }
  }
}

/** Posts an event at most once per page load (started, finished, expired). */
export function emitOnce(type, detail) {
  if (sentOnce.has(type)) return;
  sentOnce.add(type);
  emit(type, detail);
}
