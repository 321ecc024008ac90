// The waiting page's client, injected into every theme (custom ones too): it follows the start
// over Server-Sent Events and loads the site the moment it is ready. It knows the page only by
// its data-dv attributes, and writes what the server sends as text, never as markup.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("dv-data").textContent);
  const each = (name, apply) => document.querySelectorAll(`[data-dv="${name}"]`).forEach(apply);
  const text = (name, value) => each(name, (el) => { el.textContent = value; });
  // No clock sync with the server: its elapsed time plus what this page counted since.
  let { elapsedMs, estimateMs } = data;
  let since = Date.now();

  const tick = () => {
    const elapsed = elapsedMs + Date.now() - since;
    const left = Math.ceil((estimateMs - elapsed) / 1000);
    text("elapsed", Math.floor(elapsed / 1000));
    text("estimate", Math.ceil(estimateMs / 1000));
    text("left", left > 0 ? left : "a few");
    // Short of full until ready: a full bar that still waits reads as stuck.
    const share = estimateMs > 0 ? Math.min(0.95, elapsed / estimateMs) : 0;
    each("bar", (el) => {
      el.style.setProperty("--dv-progress", share.toFixed(3));
      if (el.getAttribute("role") === "progressbar") el.setAttribute("aria-valuenow", Math.round(share * 100));
    });
  };
  const ticker = setInterval(tick, 1000);

  const span = (className, value) => Object.assign(document.createElement("span"), { className, textContent: value });
  const line = ({ name, phase }) => {
    const li = document.createElement("li");
    li.dataset.phase = phase;
    li.append(span("dv-name", name), " ", span("dv-phase", phase === "pending" ? "waiting" : phase));
    return li;
  };

  const source = new EventSource(data.events);
  const finish = (state) => {
    source.close();
    clearInterval(ticker);
    document.documentElement.dataset.dvState = state;
  };
  const fail = (message) => {
    finish("failed");
    // A theme without the block gets waiting-page.ts's markup; the message goes in as text.
    if (!document.querySelector('[data-dv="failure"]')) {
      document.body.insertAdjacentHTML("beforeend", '<div class="dv-failure" data-dv="failure" role="alert"><p data-dv="failure-text"></p><button type="button" class="dv-retry" data-dv="retry">Try again</button></div>');
    }
    text("failure-text", message);
    each("failure", (el) => { el.hidden = false; });
  };

  source.addEventListener("progress", (event) => {
    const snapshot = JSON.parse(event.data);
    ({ elapsedMs, estimateMs } = snapshot);
    since = Date.now();
    text("message", snapshot.message);
    each("progress", (el) => el.replaceChildren(...snapshot.containers.map(line)));
    tick();
    if (snapshot.failure) fail(snapshot.failure);
  });
  // The same URL by GET, in place of the waiting page in history: Back leaves the site.
  source.addEventListener("ready", () => {
    finish("ready");
    location.replace(location.href);
  });
  source.addEventListener("failed", (event) => fail(JSON.parse(event.data).message));
  // EventSource retries a dropped stream itself; CLOSED means it gave up (an error status).
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) setTimeout(() => location.reload(), 2000);
  });
  // Reloading is the retry: the page's GET wakes the unit (a stream never wakes a failed one).
  document.addEventListener("click", (event) => {
    if (event.target.closest('[data-dv="retry"]')) location.reload();
  });
  tick();
})();
