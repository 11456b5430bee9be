// The /demo page's script: an app built on the web SDK, loaded from this cloud. It reads the app key
// from the URL fragment (#key=…, never sent to a server in the URL), loads the model with progress,
// and classifies what is drawn or uploaded. Plain JavaScript: the browser runs this file as served.
import * as edgeloop from '/sdk/edgeloop-web-sdk.js';

const $ = (id) => document.getElementById(id);
const pad = $('pad');
const ctx = pad.getContext('2d', { willReadFrequently: true });
const fragment = new URLSearchParams(location.hash.slice(1));
const modelName = fragment.get('model') ?? 'digits';
const alias = fragment.get('alias') ?? 'champion';
/** MNIST strokes are 2–3 px of 28; on a 280 px pad that is ~22 px. */
const STROKE = 22;

let model;
let drawing = false;
let dirty = false;

function setState(state, text, kind = '') {
  document.body.dataset.state = state;
  $('status').textContent = text;
  $('status').dataset.kind = kind;
}

function clearPad() {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad.width, pad.height);
  dirty = false;
}

/**
 * MNIST digits were size-normalised to 20×20 and centred by mass in 28×28. Doing the same to the
 * drawing (crop to the ink, scale, centre) is what makes a small or off-centre digit recognisable.
 */
function mnistFrame(source) {
  const { width, height } = source;
  const pixels = source.getContext('2d').getImageData(0, 0, width, height).data;
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  let mass = 0;
  let sumX = 0;
  let sumY = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = pixels[(y * width + x) * 4];
      if (v < 40) continue;
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
      mass += v;
      sumX += v * x;
      sumY += v * y;
    }
  }
  if (maxX < 0) return undefined;
  const out = document.createElement('canvas');
  out.width = 280;
  out.height = 280;
  const o = out.getContext('2d');
  o.fillStyle = '#000';
  o.fillRect(0, 0, 280, 280);
  const scale = 200 / Math.max(maxX - minX + 1, maxY - minY + 1);
  // Place the centre of mass at the centre, clamped so the ink stays on the canvas.
  const dx = Math.min(Math.max(140 - (sumX / mass - minX) * scale, 0), 280 - (maxX - minX + 1) * scale);
  const dy = Math.min(Math.max(140 - (sumY / mass - minY) * scale, 0), 280 - (maxY - minY + 1) * scale);
  o.imageSmoothingQuality = 'high';
  o.drawImage(
    source,
    minX,
    minY,
    maxX - minX + 1,
    maxY - minY + 1,
    dx,
    dy,
    (maxX - minX + 1) * scale,
    (maxY - minY + 1) * scale,
  );
  return out;
}

/** Shows the 28×28 tensor the model receives (after the SDK's own preprocessing). */
async function showModelInput(canvas) {
  const spec = model.manifest.preprocessing;
  if (spec.channels !== 1) return;
  const tensor = await edgeloop.toInputTensor(canvas, spec);
  const seen = $('seen');
  seen.width = spec.width;
  seen.height = spec.height;
  const image = new ImageData(spec.width, spec.height);
  const mean = spec.mean?.[0] ?? 0;
  const std = spec.std?.[0] ?? 1;
  for (let i = 0; i < spec.width * spec.height; i++) {
    const v = Math.min(255, Math.max(0, Math.round((tensor[i] * std + mean) / spec.scale)));
    image.data.set([v, v, v, 255], i * 4);
  }
  seen.getContext('2d').putImageData(image, 0, 0);
}

function showResult(result) {
  $('label').textContent = result.label;
  $('confidence').textContent = `${(result.confidence * 100).toFixed(1)}%`;
  const top = $('top');
  top.replaceChildren(
    ...result.topK.slice(0, 3).map((score) => {
      const li = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('i');
      fill.style.width = `${(score.confidence * 100).toFixed(1)}%`;
      bar.append(fill);
      const name = document.createElement('span');
      name.textContent = score.label;
      const pct = document.createElement('span');
      pct.textContent = `${(score.confidence * 100).toFixed(1)}%`;
      li.append(name, bar, pct);
      return li;
    }),
  );
  $('latency').textContent =
    `${result.latencyMs.toFixed(2)} ms inference + ${result.preprocessMs.toFixed(2)} ms preprocessing`;
  $('model').textContent = `${result.model.name} v${result.model.version} (${result.model.variant})`;
  document.body.dataset.version = result.model.version;
  document.body.dataset.label = result.label;
}

async function classify() {
  if (!model || !dirty) return;
  const framed = mnistFrame(pad);
  if (!framed) return;
  try {
    const result = await model.classify(framed, { topK: 3 });
    showResult(result);
    await showModelInput(framed);
    document.body.dataset.classified = String(Number(document.body.dataset.classified ?? 0) + 1);
  } catch (err) {
    setState('error', `classify failed: ${err.code ?? ''} ${err.message}`, 'error');
  }
}

function showInfo() {
  const info = model.info;
  $('model').textContent = `${info.name} v${info.version} (${info.variant}) @ ${info.alias}`;
  $('runtime').textContent =
    `${info.backend}, ${info.threads} thread${info.threads === 1 ? '' : 's'}` +
    (globalThis.crossOriginIsolated ? ', cross-origin isolated' : ', not isolated');
  $('source').textContent = info.source === 'cache' ? 'Cache Storage (no download)' : 'network';
  document.body.dataset.version = info.version;
  document.body.dataset.source = info.source;
}

async function start(appKey) {
  setState('loading', `resolving ${modelName}@${alias}…`);
  const started = performance.now();
  try {
    model = await edgeloop.load({
      cloud: location.origin,
      appKey,
      model: modelName,
      alias,
      wasmPaths: new URL(document.body.dataset.wasmPaths, location.href).href,
      updateIntervalMs: 15_000,
      onProgress: ({ loaded, total, version }) => {
        $('progress').value = total ? loaded / total : 0;
        setState(
          'loading',
          `downloading v${version}: ${(loaded / 1024).toFixed(0)} / ${(total / 1024).toFixed(0)} KB`,
        );
      },
    });
  } catch (err) {
    const code = err?.code ?? 'ERROR';
    setState(
      code === 'UNAUTHENTICATED' ? 'need-key' : 'error',
      `could not load the model: ${code} — ${err.message}`,
      'error',
    );
    document.body.dataset.error = code;
    return;
  }
  $('progress').value = 1;
  showInfo();
  setState('ready', `ready in ${Math.round(performance.now() - started)} ms — draw a digit`, 'ready');
  model.onUpdate(({ previous, current }) => {
    $('update').textContent = `updated v${previous.version} → v${current.version} (the alias moved)`;
    showInfo();
    dirty = true;
    classify();
  });
  model.onError((err) => {
    $('update').textContent = `update check failed (${err.code}); still serving v${model.info.version}`;
  });
  if (dirty) classify();
}

function point(event) {
  const rect = pad.getBoundingClientRect();
  return [
    ((event.clientX - rect.left) * pad.width) / rect.width,
    ((event.clientY - rect.top) * pad.height) / rect.height,
  ];
}

pad.addEventListener('pointerdown', (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  const [x, y] = point(event);
  ctx.strokeStyle = '#fff';
  ctx.fillStyle = '#fff';
  ctx.lineWidth = STROKE;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.beginPath();
  ctx.arc(x, y, STROKE / 2, 0, Math.PI * 2);
  ctx.fill();
  ctx.beginPath();
  ctx.moveTo(x, y);
  dirty = true;
});
pad.addEventListener('pointermove', (event) => {
  if (!drawing) return;
  const [x, y] = point(event);
  ctx.lineTo(x, y);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(x, y);
});
const finish = () => {
  if (!drawing) return;
  drawing = false;
  classify();
};
pad.addEventListener('pointerup', finish);
pad.addEventListener('pointercancel', finish);

$('clear').addEventListener('click', () => {
  clearPad();
  $('label').textContent = '–';
  $('confidence').textContent = '';
  $('top').replaceChildren();
});

$('photo').addEventListener('change', async () => {
  const file = $('photo').files?.[0];
  if (!file) return;
  const bitmap = await createImageBitmap(file);
  clearPad();
  const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
  const w = bitmap.width * scale;
  const h = bitmap.height * scale;
  ctx.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  // Greyscale, and dark ink on light paper becomes light on dark (what the model was trained on).
  const image = ctx.getImageData(0, 0, pad.width, pad.height);
  const d = image.data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
  const invert = sum / (d.length / 4) > 127;
  for (let i = 0; i < d.length; i += 4) {
    let v = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    if (invert) v = 255 - v;
    d[i] = d[i + 1] = d[i + 2] = v;
  }
  ctx.putImageData(image, 0, 0);
  dirty = true;
  classify();
});

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('key').value.trim();
  if (!key) return;
  fragment.set('key', key);
  history.replaceState(null, '', `#${fragment}`);
  start(key);
});

clearPad();
const key = fragment.get('key');
if (key) start(key);
else
  setState(
    'need-key',
    'paste an app key (edgeloop app-key create demo), or open the link the quick start printed',
  );
