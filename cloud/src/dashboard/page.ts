// The dashboard's one HTML page. It holds no data: everything is fetched from the operator API with
// the token the user gives it, so the page itself can be public. Scripts come from this origin only.

export const DASHBOARD_PATH = '/dashboard';
export const DASHBOARD_ASSETS = ['dashboard.js', 'charts.js', 'health.js', 'retraining.js'] as const;

/** Self-only CSP: no inline script, no other origin; inline styles only for the page's stylesheet. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

const NAV = [
  ['overview', 'Overview'],
  ['devices', 'Devices'],
  ['rollouts', 'Rollouts'],
  ['models', 'Models'],
  ['drift', 'Drift'],
  ['retraining', 'Retraining'],
] as const;

export function dashboardPage(): string {
  const nav = NAV.map(([page, label]) => `<a href="#/${page}" data-page="${page}">${label}</a>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeloop — fleet dashboard</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: dark; --bg: #0f1115; --panel: #181b22; --line: #2a2f3a; --text: #e6e8ee;
    --dim: #9aa3b2; --accent: #4cc38a; --bad: #f06a6a; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { padding: 12px 24px; border-bottom: 1px solid var(--line); display: flex; gap: 20px; align-items: center; }
  header h1 { font-size: 17px; margin: 0; }
  nav { display: flex; gap: 4px; }
  nav a { color: var(--dim); text-decoration: none; padding: 4px 10px; border-radius: 6px; }
  nav a.current { color: var(--text); background: var(--panel); }
  #status { margin-left: auto; color: var(--dim); font-size: 12px; }
  main { padding: 20px 24px; display: flex; flex-direction: column; gap: 16px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px; min-width: 0; }
  h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); margin: 0 0 8px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
  .tile { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px; }
  .tile b { display: block; font-size: 26px; font-variant-numeric: tabular-nums; }
  .tile span { color: var(--dim); font-size: 12px; }
  svg.chart { width: 100%; height: auto; display: block; }
  .chart-title { fill: var(--dim); font-size: 11px; }
  .axis { fill: var(--dim); font-size: 10px; }
  .grid line, line.grid { stroke: var(--line); }
  .series { stroke-width: 1.8; }
  .chart-empty { fill: var(--dim); font-size: 13px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); }
  th { color: var(--dim); font-weight: 500; font-size: 12px; }
  a { color: var(--accent); }
  .pill { padding: 1px 8px; border-radius: 9px; background: #232836; font-size: 12px; }
  .pill.online, .pill.completed, .pill.passed { color: var(--accent); }
  .pill.offline, .pill.failed, .pill.aborted { color: var(--bad); }
  .pill.critical, .pill.alert { color: #0f1115; background: var(--bad); }
  .pill.warning, .pill.warn { color: #0f1115; background: #f2b14c; }
  .pill.ok { color: var(--accent); }
  .pill.queued, .pill.training, .pill.evaluating { color: #5b9cf0; }
  .pill.canary { color: #f2b14c; }
  .pill.promoted { color: #0f1115; background: var(--accent); }
  .pill.rejected, .pill.cancelled { color: var(--bad); }
  .run-progress { display: flex; gap: 8px; align-items: center; }
  .run-progress progress { width: 140px; accent-color: var(--accent); }
  .sample-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
  figure.sample { margin: 0; padding: 8px; border: 1px solid var(--line); border-radius: 8px; }
  figure.sample img, .no-preview { width: 112px; height: 112px; image-rendering: pixelated; object-fit: contain; display: block; background: #000; }
  .no-preview { color: var(--dim); font-size: 12px; display: grid; place-items: center; }
  .sample-actions { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; }
  .sample-actions button, .sample-actions select { padding: 3px 8px; font-size: 12px; }
  select { background: #232836; color: var(--text); border: 1px solid var(--line); border-radius: 6px; }
  .refusal { color: var(--bad); font-size: 12px; margin: 6px 0 0; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 14px; margin: 0 0 10px; }
  dt { color: var(--dim); } dd { margin: 0; }
  pre { font-size: 12px; overflow: auto; max-height: 320px; }
  #token-form { display: none; gap: 8px; padding: 40px 24px; }
  body[data-state=need-token] #token-form { display: flex; }
  body[data-state=need-token] main { display: none; }
  #token-form input { width: 420px; background: #0b0d11; color: var(--text); border: 1px solid var(--line);
    border-radius: 6px; padding: 6px 8px; font: 13px ui-monospace, monospace; }
  button { background: #232836; color: var(--text); border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; }
</style>
</head>
<body data-state="loading">
<header><h1>edgeloop fleet</h1><nav>${nav}</nav><span id="status" data-testid="status">loading…</span></header>
<form id="token-form"><input id="token" type="password" placeholder="API token (el_…), viewer or above" autocomplete="off"><button>Open</button></form>
<main id="view"></main>
<script type="module" src="${DASHBOARD_PATH}/dashboard.js"></script>
</body>
</html>
`;
}
