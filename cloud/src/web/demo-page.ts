// The demo page at /demo: draw a digit or upload a photo and see what the model says, with the model
// loaded through the web SDK exactly as an app would (from this cloud, with an app key). Nothing is
// loaded from anywhere else; the CSP says so and the browser enforces it.

/** Served with the page: isolation for threads, and a CSP that allows only this origin. */
export const DEMO_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Content-Security-Policy': [
    "default-src 'self'",
    // onnxruntime compiles its wasm; nothing else is evaluated.
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "img-src 'self' blob: data:",
    "style-src 'self' 'unsafe-inline'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; '),
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

export const DEMO_SCRIPT_PATH = '/demo/demo.js';

function escapeAttribute(value: string): string {
  return value.replace(/[&"<>]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** `wasmPaths` is the versioned ORT folder, so the 14 MB wasm is cached as immutable. */
export function demoPage(options: { wasmPaths: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeloop — web SDK demo</title>
<style>
  :root { color-scheme: dark; --bg: #0f1115; --panel: #181b22; --line: #2a2f3a; --text: #e6e8ee;
    --dim: #9aa3b2; --accent: #4cc38a; --warn: #f2b14c; --bad: #f06a6a; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { padding: 14px 24px; border-bottom: 1px solid var(--line); display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: var(--dim); font-size: 13px; }
  main { display: grid; grid-template-columns: auto minmax(280px, 420px); gap: 24px; padding: 24px; align-items: start; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); margin: 0 0 10px; }
  #pad { display: block; width: 280px; height: 280px; background: #000; border-radius: 6px; touch-action: none; cursor: crosshair; }
  .row { display: flex; gap: 8px; margin-top: 12px; align-items: center; flex-wrap: wrap; }
  button, .file { background: #232836; color: var(--text); border: 1px solid var(--line); border-radius: 6px;
    padding: 6px 12px; font: inherit; cursor: pointer; }
  button:hover, .file:hover { border-color: var(--accent); }
  .file input { display: none; }
  #seen { width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid var(--line); background: #000; }
  .hint { color: var(--dim); font-size: 13px; }
  #label { font-size: 64px; font-weight: 700; line-height: 1; }
  #confidence { font-size: 20px; color: var(--accent); margin-left: 8px; }
  ol { list-style: none; padding: 0; margin: 12px 0; }
  li { display: grid; grid-template-columns: 48px 1fr 56px; gap: 8px; align-items: center; margin: 4px 0; }
  .bar { height: 10px; background: #232836; border-radius: 5px; overflow: hidden; }
  .bar i { display: block; height: 100%; background: var(--accent); }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 0; font-size: 14px; }
  dt { color: var(--dim); }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
  progress { width: 100%; height: 8px; }
  #status[data-kind=error] { color: var(--bad); }
  #status[data-kind=ready] { color: var(--accent); }
  #update { color: var(--warn); font-size: 13px; min-height: 1em; }
  #key-form { display: none; gap: 8px; }
  body[data-state=need-key] #key-form { display: flex; }
  #key-form input { flex: 1; min-width: 0; background: #0b0d11; color: var(--text); border: 1px solid var(--line);
    border-radius: 6px; padding: 6px 8px; font: 13px ui-monospace, monospace; }
  @media (max-width: 760px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body data-state="starting" data-wasm-paths="${escapeAttribute(options.wasmPaths)}">
<header><h1>edgeloop web SDK demo</h1><span>the model runs in this browser (onnxruntime-web); the cloud only ships it</span></header>
<main>
  <section>
    <h2>Draw a digit</h2>
    <canvas id="pad" width="280" height="280" aria-label="drawing pad"></canvas>
    <div class="row">
      <button id="clear" type="button">Clear</button>
      <label class="file">Upload a photo<input id="photo" type="file" accept="image/*"></label>
      <span class="hint">the model sees</span><canvas id="seen" width="28" height="28" aria-label="model input"></canvas>
    </div>
    <p class="hint">White on black, like MNIST. Photos of dark digits on paper are inverted.</p>
  </section>
  <section>
    <h2>Prediction</h2>
    <div><span id="label" data-testid="label">–</span><span id="confidence" data-testid="confidence"></span></div>
    <ol id="top" data-testid="top"></ol>
    <dl>
      <dt>latency</dt><dd id="latency" data-testid="latency">–</dd>
      <dt>model</dt><dd id="model" data-testid="model">–</dd>
      <dt>runtime</dt><dd id="runtime" data-testid="runtime">–</dd>
      <dt>loaded from</dt><dd id="source" data-testid="source">–</dd>
    </dl>
    <p id="update" data-testid="update"></p>
    <h2>Model</h2>
    <progress id="progress" max="1" value="0"></progress>
    <p id="status" data-testid="status">loading the SDK…</p>
    <form id="key-form"><input id="key" placeholder="app key (app_…)" autocomplete="off" spellcheck="false"><button>Load</button></form>
  </section>
</main>
<script type="module" src="${DEMO_SCRIPT_PATH}"></script>
</body>
</html>
`;
}
