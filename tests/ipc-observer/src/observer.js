// Runs before the page's scripts, after Tauri's own. Tauri's `invoke` and `transformCallback`
// cannot be replaced (they are read-only), but every answer and every event reaches the page
// through one map of callbacks, which Tauri exposes; and every command leaves through `fetch`.
(() => {
  const seen = [];
  const keep = (value) => {
    try {
      seen.push(typeof value === "string" ? value : JSON.stringify(value));
    } catch (_) {
      seen.push(String(value));
    }
  };
  Object.defineProperty(window, "__latchkeyIpcObserved", { value: () => seen.slice() });
  const internals = window.__TAURI_INTERNALS__;
  if (!internals || !(internals.callbacks instanceof Map)) {
    keep("OBSERVER-NOT-ATTACHED: no __TAURI_INTERNALS__.callbacks");
    return;
  }
  const set = Map.prototype.set;
  internals.callbacks.set = function (id, callback) {
    return set.call(this, id, (data) => {
      keep(data);
      return callback(data);
    });
  };
  const fetch = window.fetch;
  window.fetch = function (resource, options) {
    const url = typeof resource === "string" ? resource : String(resource && resource.url);
    if (url.startsWith("ipc:") || url.includes("://ipc.localhost/")) {
      keep(`invoked ${decodeURIComponent(url.replace(/^[^/]*\/\/[^/]*\//, ""))}`);
    }
    return fetch.apply(this, arguments);
  };
})();
