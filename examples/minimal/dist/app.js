const latchkey = window.__TAURI__.latchkey;
const $ = (id) => document.getElementById(id);
const say = (error) => ($("answer").textContent = error.message ?? String(error));

function show(view) {
  const signedIn = view.signedIn;
  if (signedIn) $("status").textContent = `Signed in as ${signedIn.profile.name}`;
  else if (view === "loading") $("status").textContent = "Loading…";
  else if (view.waitingForBrowser) $("status").textContent = "Finish signing in in your browser…";
  else if (view.offline) $("status").textContent = view.offline.reason;
  else if (view.notConfigured) $("status").textContent = view.notConfigured.problem ?? "Not configured";
  else $("status").textContent = view.signedOut.ended ?? view.signedOut.message ?? "Signed out";
  $("login").hidden = !!signedIn || view === "loading";
  $("call").hidden = $("logout").hidden = !signedIn;
}

latchkey.onSessionChanged(show);
latchkey.session().then(show, say);
$("login").onclick = () => latchkey.login().catch(say);
$("logout").onclick = () => latchkey.logout().catch(say);
$("call").onclick = () =>
  latchkey
    .callApi({ path: "/api/messages/protected" })
    .then((answer) => ($("answer").textContent = `${answer.status} ${answer.body}`), say);
