// GET /docs: a self-contained page that renders /openapi.json. No CDN and no bundled UI framework:
// operators may be offline, and the page must show exactly the document the API serves.

export function docsPage(specUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeloop operator API</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1000px; padding: 1.5rem; color: #1d232a; }
  h1 { margin-bottom: .2rem } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; text-transform: capitalize }
  details { border: 1px solid #dde; border-radius: 6px; margin: .4rem 0; background: #fafbfc }
  summary { cursor: pointer; padding: .45rem .6rem; list-style: none }
  .m { display: inline-block; width: 4.2rem; font-weight: 700; font-family: ui-monospace, monospace }
  .get { color: #0a6 } .post { color: #06c } .patch { color: #a60 } .delete { color: #c22 } .put { color: #85c }
  code, pre { font-family: ui-monospace, monospace; font-size: 12.5px }
  pre { background: #f1f3f5; padding: .6rem; border-radius: 4px; overflow-x: auto; margin: .3rem 0 }
  .body { padding: .2rem .9rem .8rem } .lock { color: #888; font-size: 12px } .muted { color: #666 }
</style></head>
<body>
<h1>edgeloop operator API</h1>
<p class="muted">Rendered from <a href="${specUrl}"><code>${specUrl}</code></a>. Send
<code>Authorization: Bearer el_&lt;id&gt;_&lt;secret&gt;</code> (create one with <code>edgeloop token create</code>).
Every error is <code>{"error":{"code","message","details?","requestId"}}</code>.</p>
<div id="ops">Loading…</div>
<script>
(async () => {
  const root = document.getElementById('ops');
  let spec;
  try { spec = await (await fetch(${JSON.stringify(specUrl)})).json(); }
  catch (e) { root.textContent = 'Could not load the OpenAPI document: ' + e; return; }
  const el = (tag, attrs = {}, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    for (const k of kids) n.append(k);
    return n;
  };
  const deref = (s, depth = 0) => {
    if (!s || typeof s !== 'object' || depth > 8) return s;
    if (s.$ref) return deref(s.$ref.split('/').slice(1).reduce((o, k) => o && o[k], spec), depth + 1);
    if (Array.isArray(s)) return s.map((x) => deref(x, depth + 1));
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, deref(v, depth + 1)]));
  };
  const show = (schema) => el('pre', {}, JSON.stringify(deref(schema), null, 2));
  const byTag = new Map();
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  root.textContent = '';
  root.append(el('p', { class: 'muted' }, (spec.info && spec.info.title) + ' ' + (spec.info && spec.info.version)));
  for (const [tag, ops] of byTag) {
    root.append(el('h2', {}, tag));
    for (const { path, method, op } of ops) {
      const head = el('summary', {}, el('span', { class: 'm ' + method }, method.toUpperCase()), el('code', {}, path),
        ' — ' + (op.summary || ''), op.security ? el('span', { class: 'lock' }, ' 🔒') : '');
      const body = el('div', { class: 'body' });
      if (op.parameters && op.parameters.length) {
        body.append(el('strong', {}, 'Parameters'));
        const ul = el('ul');
        for (const p of op.parameters) ul.append(el('li', {}, el('code', {}, p.name), ' (' + p.in + (p.required ? ', required' : '') + ') ', el('span', { class: 'muted' }, JSON.stringify(deref(p.schema)))));
        body.append(ul);
      }
      const req = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
      if (req) body.append(el('strong', {}, 'Request body'), show(req.schema));
      for (const [status, res] of Object.entries(op.responses || {})) {
        const json = res.content && res.content['application/json'];
        body.append(el('div', {}, el('strong', {}, status), ' ' + (res.description || '')));
        if (json && status < '400') body.append(show(json.schema));
      }
      root.append(el('details', {}, head, body));
    }
  }
})();
</script>
</body></html>`;
}
