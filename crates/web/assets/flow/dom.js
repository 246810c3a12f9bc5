// Element building without innerHTML: no string from the server, a catalogue or a URL is ever
// parsed as markup, so the page needs no sanitiser and its CSP can stay strict.

/**
 * Creates an element. `attrs`: `class`, `text`, `dataset` (object), `on<event>` (function),
 * `true` for boolean attributes; `false`, `null` and `undefined` are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Shows or hides an element (the stylesheet makes `[hidden]` win over any display rule). */
export function show(el, visible) {
  if (el) el.hidden = !visible;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const SVG_ELEMENTS = new Set(["svg", "rect", "path", "g"]);
const SVG_ATTRIBUTES = new Set([
  "xmlns",
  "version",
  "width",
  "height",
  "viewBox",
  "shape-rendering",
  "x",
  "y",
  "fill",
  "d",
  "stroke",
]);

/**
 * Imports the QR code SVG that our own server rendered. It is still parsed as XML (never as
 * HTML) and cut down to the few shapes a QR code uses, so even a compromised response could not
 * run script or load anything.
 */
export function importSvg(markup) {
  const doc = new DOMParser().parseFromString(String(markup), "image/svg+xml");
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== SVG_NS || root.localName !== "svg" || doc.getElementsByTagName("parsererror").length) {
    throw new Error("not an SVG document");
  }
  const clean = (el) => {
    for (const child of Array.from(el.children)) {
      if (child.namespaceURI !== SVG_NS || !SVG_ELEMENTS.has(child.localName)) child.remove();
      else clean(child);
    }
    for (const attr of Array.from(el.attributes)) {
      if (!SVG_ATTRIBUTES.has(attr.name) || /^\s*(javascript|data):/i.test(attr.value)) el.removeAttribute(attr.name);
    }
  };
  clean(root);
  return document.importNode(root, true);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A fresh token for `Idempotency-Key`. */
export function newKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Phones and tablets: no QR hand-off is offered there (they are the device to hand off to). */
export function isMobile() {
  const data = navigator.userAgentData;
  if (data && typeof data.mobile === "boolean" && data.mobile) return true;
  const ua = navigator.userAgent || "";
  if (/Android|iPhone|iPad|iPod|Mobile|Silk|Kindle|Opera Mini/i.test(ua)) return true;
  // iPadOS reports itself as a Mac; touch gives it away.
  return /Macintosh/.test(ua) && navigator.maxTouchPoints > 1;
}

/** In-app browsers (social apps, WebViews) that often lack or block getUserMedia. */
export function isInAppBrowser() {
  const ua = navigator.userAgent || "";
  return /FBAN|FBAV|FB_IAB|Instagram|Line\/|TikTok|musical_ly|BytedanceWebview|Snapchat|Twitter|LinkedInApp|Pinterest|GSA\/|; wv\)/i.test(
    ua,
  );
}
