// The same start-up mark Latchkey's UI sends on its first render.
requestAnimationFrame(() => window.__TAURI__.core.invoke("mark", { name: "firstPaint" }));
