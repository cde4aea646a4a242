// What Stremio Web's src/services/Core/CoreTransport.js does, without React:
// the package's Bridge between this window and the core's Web Worker,
// window.onCoreEvent, init with the app version, then dispatch/getState.
const Bridge = require("@stremio/stremio-core-web/bridge");

const worker = new Worker("worker.js");
const bridge = new Bridge(window, worker);
window.coreEvents = [];
window.onCoreEvent = ({ name, args }) => {
  window.coreEvents.push({ name, args });
};
const params = new URLSearchParams(location.search);
window.core = {
  ready: bridge.call(["init"], [{ appVersion: params.get("appVersion"), shellVersion: null }]).then(
    () => "ready",
    (error) => `init failed: ${error && error.message ? error.message : JSON.stringify(error)}`,
  ),
  dispatch: (action, field) => bridge.call(["dispatch"], [action, field, location.hash]),
  getState: (field) => bridge.call(["getState"], [field]),
};
