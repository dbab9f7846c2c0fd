// tauri-plugin-latchkey's global API, for apps with `withGlobalTauri`:
// window.__TAURI__.latchkey.{session, login, …, onSessionChanged}. Mirrors guest-js/index.ts.
if ("__TAURI__" in window) {
  var __TAURI_PLUGIN_LATCHKEY__ = (function () {
    "use strict";
    function invoke(command, args) {
      return window.__TAURI_INTERNALS__.invoke("plugin:latchkey|" + command, args || {});
    }
    return {
      session: function () { return invoke("session"); },
      login: function () { return invoke("login"); },
      loginAnotherAccount: function () { return invoke("login_another_account"); },
      signup: function () { return invoke("signup"); },
      deviceLogin: function () { return invoke("device_login"); },
      cancelLogin: function () { return invoke("cancel_login"); },
      logout: function () { return invoke("logout"); },
      endProviderSession: function () { return invoke("end_provider_session"); },
      retryNow: function () { return invoke("retry_now"); },
      reloadConfig: function () { return invoke("reload_config"); },
      callApi: function (request) { return invoke("call_api", { request: request }); },
      accounts: function () { return invoke("accounts"); },
      switchAccount: function (id) { return invoke("switch_account", { id: id }); },
      logoutAccount: function (id) { return invoke("logout_account", { id: id }); },
      logoutAll: function () { return invoke("logout_all"); },
      onSessionChanged: function (handler) {
        return window.__TAURI__.event.listen("latchkey://session-changed", function (event) {
          handler(event.payload);
        });
      },
    };
  })();
  Object.defineProperty(window.__TAURI__, "latchkey", { value: __TAURI_PLUGIN_LATCHKEY__ });
}
