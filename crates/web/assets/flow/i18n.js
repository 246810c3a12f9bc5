// Translation catalogues: one JSON file per language next to this module (so they share its
// versioned, immutable URL). Every string the page shows, and every problem code the server can
// answer, has a key in each catalogue; a test keeps the catalogues in step.

export const LANGUAGES = ["en-US", "es-ES"];
const FALLBACK = "en-US";

let strings = {};
let fallback = {};
let current = FALLBACK;

/** The best available language for a list of BCP 47 tags: exact tag, then same base language. */
export function pickLanguage(tags) {
  for (const tag of tags) {
    if (!tag) continue;
    const wanted = String(tag).replace("_", "-").toLowerCase();
    const exact = LANGUAGES.find((l) => l.toLowerCase() === wanted);
    if (exact) return exact;
    const base = wanted.split("-")[0];
    const sameBase = LANGUAGES.find((l) => l.split("-")[0].toLowerCase() === base);
    if (sameBase) return sameBase;
  }
  return FALLBACK;
}

async function fetchCatalogue(language) {
  const response = await fetch(new URL(`./i18n/${language}.json`, import.meta.url), { credentials: "same-origin" });
  if (!response.ok) throw new Error(`catalogue ${language}: HTTP ${response.status}`);
  return response.json();
}

/** Loads the catalogue for `tags` (first match wins) and the fallback behind it. */
export async function loadLanguage(...tags) {
  const language = pickLanguage(tags);
  if (!Object.keys(fallback).length) fallback = await fetchCatalogue(FALLBACK);
  strings = language === FALLBACK ? fallback : await fetchCatalogue(language).catch(() => fallback);
  current = strings === fallback ? FALLBACK : language;
  document.documentElement.lang = current;
  document.title = t("page.title");
  return current;
}

/** The language in use. */
export function language() {
  return current;
}

/** Whether the catalogue has `key`. */
export function has(key) {
  return key in strings || key in fallback;
}

/** The string for `key` with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = strings[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
