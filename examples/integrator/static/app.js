// The integrator's page, one guide step per function. No framework, no build step.
'use strict';

const FRAME_ID = 'onboarding-frame';
const POLL_MS = 1000;
// Statuses after which polling stops: the flow finished, a reviewer decided (a late poller can
// see these instead of ONBOARDING_FINISHED), or the session ran out of time.
const OVER = ['ONBOARDING_FINISHED', 'MANUAL_REVIEW_APPROVED', 'MANUAL_REVIEW_REJECTED', 'EXPIRED'];
// Consecutive failed polls tolerated before giving up (a restart of the backend is fine).
const MAX_POLL_FAILURES = 10;

const startButton = document.getElementById('start');
const userIdInput = document.getElementById('user-id');
const host = document.getElementById('frame-host');
const progress = document.getElementById('progress');
const result = document.getElementById('result');

// GET or POST JSON; errors carry the backend's message (its body is {status, message, ...}).
async function callBackend(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.message || `HTTP ${response.status}`);
  }
  return body;
}

function showResult(status, text) {
  result.dataset.status = status;
  result.textContent = text;
}

// Step 1 (our backend does 1.1 to 1.4): a new session and its onboarding URL.
function createSession(userId) {
  return callBackend('create-session-and-onboarding-url', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
}

// Step 2: the iframe, full size, allowed to use the camera and motion sensors. The `*` lets the
// permissions follow the flow to whatever origin serves it.
function createIframe(url) {
  const frame = document.createElement('iframe');
  frame.src = url;
  frame.id = FRAME_ID;
  frame.width = '100%';
  frame.height = '100%';
  frame.allowUserMedia = true; // legacy property, harmless where unsupported
  frame.setAttribute('frameborder', '0');
  frame.setAttribute('allow', 'geolocation *; microphone *; camera *; accelerometer *; gyroscope *;');
  host.appendChild(frame);
}

// Step 4: the iframe cannot be watched, so ask our backend (step 3) every second.
function pollUntilOver(interviewId) {
  return new Promise((resolve, reject) => {
    let busy = false;
    let failures = 0;
    const timer = setInterval(async () => {
      if (busy) return; // a slow answer must not pile up requests
      busy = true;
      try {
        const { onboardingStatus } = await callBackend(
          `onboarding-status?interviewId=${encodeURIComponent(interviewId)}`);
        failures = 0;
        progress.textContent = `Status: ${onboardingStatus}`;
        if (OVER.includes(onboardingStatus)) {
          clearInterval(timer);
          resolve(onboardingStatus);
        }
      } catch (error) {
        failures += 1;
        progress.textContent = `Checking the status failed (${error.message}); retrying…`;
        if (failures >= MAX_POLL_FAILURES) {
          clearInterval(timer);
          reject(error);
        }
      } finally {
        busy = false;
      }
    }, POLL_MS);
  });
}

// Step 5: remove the iframe through its parent node, which really stops it (camera included).
function removeIframe() {
  const frame = document.getElementById(FRAME_ID);
  if (frame && frame.parentNode) {
    frame.parentNode.removeChild(frame);
  }
}

// Step 6: our backend fetches the score and returns its decision.
function fetchScore(interviewId) {
  return callBackend(`fetch-score?interviewId=${encodeURIComponent(interviewId)}`);
}

function describe(decision) {
  switch (decision.status) {
    case 'OK': return 'You are onboarded: your identity was verified.';
    case 'WARN': return `Your onboarding needs a manual review. ${decision.reason}`;
    case 'FAIL': return `You did not pass: ${decision.reason}`;
    default:
      return decision.finished
        ? `The onboarding ended without a decision: ${decision.reason}`
        : `No decision yet: ${decision.reason}`;
  }
}

async function onboard() {
  startButton.disabled = true;
  removeIframe();
  showResult('', '');
  try {
    progress.textContent = 'Creating your onboarding session…';
    const { url, interviewId } = await createSession(userIdInput.value);
    result.dataset.interviewId = interviewId;
    createIframe(url);
    progress.textContent = 'Follow the steps in the frame below.';
    await pollUntilOver(interviewId);
    removeIframe();
    progress.textContent = 'Fetching the result…';
    const decision = await fetchScore(interviewId);
    progress.textContent = '';
    showResult(decision.status, describe(decision));
  } catch (error) {
    removeIframe();
    progress.textContent = '';
    showResult('ERROR', `Something went wrong: ${error.message}`);
  } finally {
    startButton.disabled = false;
  }
}

startButton.addEventListener('click', onboard);
