// The capture API (docs/capture-api.md). The flow token lives in this module's memory only:
// no cookie (a cross-site iframe loses them) and no storage (it would outlive the tab).

import { sleep } from "./dom.js";

/** A failed call: `status` 0 means the network failed. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

let token = null;

export function setToken(value) {
  token = value;
}

// Answers worth another try: the request may not have been handled, is still being handled, or
// the server asked us to come back (429, 503 with Retry-After).
const RETRY_STATUSES = new Set([408, 409, 429, 502, 503, 504]);

/** How long to wait before try `attempt + 1`: the server's Retry-After when it gave one. */
function backoff(response, attempt) {
  const asked = Number(response && response.headers.get("retry-after"));
  const ours = 600 * (attempt + 1);
  return Number.isFinite(asked) && asked > 0 ? Math.max(ours, Math.min(asked, 30) * 1000) : ours;
}

/**
 * One call. `retries` is only given for calls that are safe to repeat (reads, and writes that
 * carry an Idempotency-Key or are idempotent on the server).
 */
async function request(method, path, { json, body, headers = {}, retries = 0 } = {}) {
  const sent = { accept: "application/json", ...headers };
  if (token) sent.authorization = `Bearer ${token}`;
  let payload = body;
  if (json !== undefined) {
    sent["content-type"] = "application/json";
    payload = JSON.stringify(json);
  }
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: sent,
        body: payload,
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
    } catch (e) {
      if (attempt < retries) {
        await sleep(600 * (attempt + 1));
        continue;
      }
      throw new ApiError(0, "network", null);
    }
    if (RETRY_STATUSES.has(response.status) && attempt < retries) {
      await sleep(backoff(response, attempt));
      continue;
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, data && data.message, data);
    return data;
  }
}

export const api = {
  open: (link) => request("POST", "/flow/api/open", { json: { link }, retries: 2 }),
  state: () => request("GET", "/flow/api/state", { retries: 2 }),
  consent: () => request("POST", "/flow/api/consent", { json: { accepted: true }, retries: 2 }),

  /** A document side or a selfie. `crop` is `x,y,w,h` of the guide frame, or null. */
  capture(kind, blob, { source, crop, key }) {
    const query = new URLSearchParams({ source });
    if (crop) query.set("crop", crop);
    return request("POST", `/flow/api/capture/${encodeURIComponent(kind)}?${query}`, {
      body: blob,
      headers: { "content-type": blob.type || "image/jpeg", "idempotency-key": key },
      retries: 2,
    });
  },

  challenge: () => request("POST", "/flow/api/challenge"),

  /** The head-turn film: `frames` (JPEG blobs in order), their `timestamps` (ms from the first) and the sharper `key` frame. */
  frames(challengeId, { frames, timestamps, key }, idempotencyKey) {
    const form = new FormData();
    frames.forEach((blob, i) => form.append("frame", blob, `frame-${i}.jpg`));
    form.append("timestamps", JSON.stringify(timestamps));
    if (key) form.append("key", key, "key.jpg");
    return request("POST", `/flow/api/challenge/${encodeURIComponent(challengeId)}/frames?source=camera`, {
      body: form,
      headers: { "idempotency-key": idempotencyKey },
      retries: 3,
    });
  },

  submit: () => request("POST", "/flow/api/submit", { retries: 2 }),
  handoff: () => request("POST", "/flow/api/handoff"),
};
