// Loads the Sycamore app (WebAssembly). Kept in a file so the CSP needs no inline script.
import init from './latchkey_ui.js';
init();
