import { CONFIG_FIELDS, defaultConfig, type TrainConfig } from '../train/config.js';

// The dashboard served at GET /: one self-contained page (no build step, no dependencies).
// It holds no secrets; it asks for the token and sends it on every API call. Progress comes
// from the SSE endpoint read with fetch, since EventSource cannot send an Authorization header.
// The form is built from CONFIG_FIELDS, so a setting added there appears here unedited.

/** What the page needs of a setting to build its input and read the input back. */
interface FormField {
  key: string;
  kind: string;
  choices?: readonly string[];
  describe: string;
  /** the default, shown in the input; a value left at it is not sent, so the server's rules apply */
  value: string;
}

// threads' default is the server's --threads (under --queue, the worker's), not this
// machine's core count, and keep's depends on the validation split, so their inputs start
// empty and an empty input is left to the server
const SERVER_DEFAULTS: ReadonlySet<string> = new Set<keyof TrainConfig>(['threads', 'keep']);

function formFields(): FormField[] {
  const defaults = defaultConfig();
  return (Object.keys(CONFIG_FIELDS) as (keyof TrainConfig)[]).map((key) => {
    const { kind, choices, describe } = CONFIG_FIELDS[key];
    const value = SERVER_DEFAULTS.has(key) ? '' : String(defaults[key]);
    return { key, kind, choices, describe, value };
  });
}

// inside <script>, '</' would end the element; \u003c is the same character to JSON
const FIELDS_JSON = JSON.stringify(formFields()).replace(/</g, '\\u003c');

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gradpool</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 24px; color: #1f2328; }
  h1 { font-size: 20px; margin: 0 0 16px; }
  form, .bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 8px; }
  #fields { display: contents; }
  label { display: flex; flex-direction: column; font-size: 12px; color: #57606a; }
  input, select { font: inherit; padding: 4px 6px; width: 9em; }
  [aria-invalid="true"] { outline: 2px solid #cf222e; }
  button { font: inherit; padding: 5px 12px; cursor: pointer; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 16px; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d0d7de; white-space: nowrap; }
  td.state { white-space: normal; }
  tr.selected { background: #f6f8fa; }
  .state-succeeded { color: #1a7f37; } .state-failed { color: #cf222e; } .state-running { color: #0969da; }
  .error { color: #cf222e; margin-bottom: 8px; } .error:empty { display: none; }
  svg { border: 1px solid #d0d7de; }
  svg text { font-size: 11px; fill: #57606a; }
  svg .tick-loss, svg .label-loss { fill: #d1680f; } svg .tick-acc, svg .label-acc { fill: #0969da; }
</style>
</head>
<body>
<h1>gradpool jobs</h1>
<div class="bar">
  <label>token <input id="token" type="password" autocomplete="off"></label>
  <button id="save-token" type="button">use token</button>
</div>
<div id="error" class="error" role="alert"></div>
<form id="submit">
  <div id="fields"></div>
  <button type="submit">submit job</button>
</form>
<div id="form-error" class="error" role="alert"></div>
<div id="job-error" class="error" role="alert"></div>
<table>
  <thead><tr><th>job</th><th>data</th><th>layers</th><th>optimizer</th><th>created</th><th>finished</th>
    <th>state</th><th>progress</th><th>samples/s</th><th>test accuracy (R²)</th><th></th></tr></thead>
  <tbody id="jobs"></tbody>
</table>
<div id="chart-title"></div>
<svg id="chart" width="640" height="280" aria-label="loss and accuracy per epoch"></svg>
<script>
const FIELDS = ${FIELDS_JSON};
const TERMINAL = ['succeeded', 'failed', 'cancelled'];
const $ = (id) => document.getElementById(id);
let token = localStorage.getItem('gradpool-token') || '';
$('token').value = token;
let selected = null;
const live = new Map(); // id -> latest progress from SSE
const streams = new Set();

function headers(extra) { return Object.assign(token ? { authorization: 'Bearer ' + token } : {}, extra || {}); }
const isJson = (r) => r.headers.get('content-type')?.includes('json');
async function send(path, init) {
  const r = await fetch(path, Object.assign({}, init, { headers: headers(init && init.headers) }));
  if (r.ok) return r;
  const body = isJson(r) ? await r.json() : null;
  throw Object.assign(new Error((body && body.error) || r.status + ' ' + r.statusText), { field: body && body.field });
}
async function api(path, init) {
  const r = await send(path, init);
  return isJson(r) ? r.json() : null;
}
const jobPath = (id) => '/jobs/' + encodeURIComponent(id);
// each message has one owner that sets and clears it, so the 2 s poll cannot erase a form error
function showError(id, e) { $(id).textContent = e ? String(e.message || e) : ''; }

$('save-token').onclick = () => { token = $('token').value; localStorage.setItem('gradpool-token', token); refresh(); };

function fieldInput(f) {
  const name = ' name="' + escapeHtml(f.key) + '"';
  if (f.kind === 'choice' || f.kind === 'boolean') {
    const choices = f.kind === 'boolean' ? ['false', 'true'] : f.choices;
    const options = choices.map((c) => '<option' + (c === f.value ? ' selected' : '') + '>' + escapeHtml(c) + '</option>');
    const auto = f.value === '' ? '<option value="" selected>server default</option>' : '';
    return '<select' + name + '>' + auto + options.join('') + '</select>';
  }
  const mode = f.kind === 'int' ? ' inputmode="numeric"' : f.kind === 'number' ? ' inputmode="decimal"' : '';
  const placeholder = f.value === '' ? ' placeholder="server default"' : '';
  return '<input' + name + mode + placeholder + ' value="' + escapeHtml(f.value) + '">';
}
const words = (key) => key.replace(/[A-Z]/g, (c) => ' ' + c.toLowerCase());
$('fields').innerHTML = FIELDS.map((f) => '<label title="' + escapeHtml(f.describe) + '">' + escapeHtml(words(f.key)) + ' ' + fieldInput(f) + '</label>').join('');

// text that is no number is sent as it is, so the server's message names the field
function numberOrText(s) { const n = Number(s); return s !== '' && Number.isFinite(n) ? n : s; }
function jobBody(form) {
  const data = new FormData(form);
  const job = {};
  for (const f of FIELDS) {
    const raw = String(data.get(f.key) ?? '').trim();
    // left empty or at its default: the server's default applies, and a setting of another
    // optimizer or schedule (beta1 under sgd) is not sent unless changed
    if (raw === '' || raw === f.value) continue;
    if (f.kind === 'intList') job[f.key] = raw.split(',').map((s) => numberOrText(s.trim()));
    else if (f.kind === 'stringList') job[f.key] = raw.split(',').map((s) => s.trim());
    else if (f.kind === 'boolean') job[f.key] = raw === 'true';
    else job[f.key] = f.kind === 'int' || f.kind === 'number' ? numberOrText(raw) : raw;
  }
  return job;
}
function showFormError(e) {
  showError('form-error', e);
  for (const el of $('submit').querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  // a field like 'hidden.1' is an item of the hidden input
  const input = e && e.field ? $('submit').elements.namedItem(String(e.field).split('.')[0]) : null;
  if (input) input.setAttribute('aria-invalid', 'true');
}
$('submit').onsubmit = async (ev) => {
  ev.preventDefault();
  showFormError(null);
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(jobBody(ev.target)) };
  try { selected = (await api('/jobs', init)).id; refresh(); } catch (e) { showFormError(e); }
};

async function follow(id) {
  if (streams.has(id)) return;
  streams.add(id);
  try {
    const r = await fetch(jobPath(id) + '/events', { headers: headers() });
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\\n\\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, i).replace(/^data: /, ''));
        buf = buf.slice(i + 2);
        live.set(id, msg);
        if (msg.metrics || TERMINAL.includes(msg.state)) refresh();
        else render();
      }
    }
  } catch (e) { /* the list poll shows the final state */ }
  streams.delete(id);
}

let jobs = [];
async function refresh() {
  try { jobs = (await api('/jobs')).jobs; showError('error', null); } catch (e) { showError('error', e); return; }
  for (const j of jobs) if (j.state === 'running' || j.state === 'queued') follow(j.id);
  render();
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const today = d.toDateString() === new Date().toDateString();
  const short = today ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  return '<time datetime="' + escapeHtml(iso) + '" title="' + escapeHtml(d.toLocaleString()) + '">' + escapeHtml(d.toLocaleString(undefined, short)) + '</time>';
}
function optimizer(c) {
  const name = c.optimizer || 'sgd';
  const own = name === 'sgd' ? 'momentum ' + c.momentum + (c.nesterov ? ' nesterov' : '') : 'betas ' + c.beta1 + ', ' + c.beta2;
  const schedule = c.lrSchedule && c.lrSchedule !== 'constant' ? ' ' + c.lrSchedule : '';
  const text = name + ' lr ' + (c.lr ?? 'default') + schedule + ' · ' + own + ' · weight decay ' + c.weightDecay + ' · batch ' + c.batchSize;
  // every setting in the tooltip, so one added to the config shows without a new column
  const all = Object.entries(c).map(([k, v]) => k + ' ' + v).join(', ');
  return '<td class="optimizer" title="' + escapeHtml(all) + '">' + escapeHtml(text) + '</td>';
}
function progressText(j, p) {
  if (j.state === 'running' && p.epoch) return 'epoch ' + p.epoch + (p.step ? ', step ' + p.step + '/' + p.stepsPerEpoch : '');
  const done = j.metrics.length + '/' + j.config.epochs + ' epochs';
  if (!p.keptEpoch) return done;
  // a finished job whose model is another epoch than the last, or that early stopping ended
  const stopped = p.stopped === 'early-stopping' ? ', stopped early' : '';
  const kept = p.keptEpoch !== p.epoch ? ', kept ' + p.keptEpoch : '';
  return done + stopped + kept;
}
function actions(j) {
  const id = escapeHtml(j.id);
  if (j.state === 'succeeded') return '<a href="#" data-download="' + id + '">model</a>';
  return j.state === 'running' || j.state === 'queued' ? '<button data-cancel="' + id + '">cancel</button>' : '';
}
function jobRow(j) {
  const c = j.config;
  const last = j.metrics[j.metrics.length - 1];
  const p = (live.get(j.id) || {}).progress || j.progress || {};
  // the accuracy of the epoch whose model the job wrote (with a validation split, its best)
  const kept = j.metrics.find((m) => m.epoch === p.keptEpoch) || last;
  // a finished job's speed is its last epoch's; a running one's, the latest step's
  const speed = j.state === 'running' ? p.samplesPerSec : last && last.samplesPerSec;
  const cells = [
    '<td class="id"><code title="' + escapeHtml(j.id) + '">' + escapeHtml(j.id.slice(0, 8)) + '</code></td>',
    '<td class="data">' + escapeHtml(c.data) + '</td>',
    '<td class="layers">' + escapeHtml(c.hidden + ' ' + c.activation) + '</td>',
    optimizer(c),
    '<td class="created">' + when(j.createdAt) + '</td>',
    '<td class="finished">' + when(j.finishedAt) + '</td>',
    '<td class="state state-' + escapeHtml(j.state) + '">' + escapeHtml(j.state + (j.error ? ': ' + j.error : '')) + '</td>',
    '<td class="progress">' + escapeHtml(progressText(j, p)) + '</td>',
    '<td class="speed">' + (speed ? Math.round(speed).toLocaleString() : '') + '</td>',
    // a regression job has R² where a classifier has accuracy
    '<td class="accuracy">' + (!kept ? '' : kept.testAccuracy === undefined ? 'R² ' + kept.testR2.toFixed(4) : (100 * kept.testAccuracy).toFixed(2) + ' %') + '</td>',
    '<td>' + actions(j) + '</td>',
  ];
  return '<tr data-id="' + escapeHtml(j.id) + '" class="' + (j.id === selected ? 'selected' : '') + '">' + cells.join('') + '</tr>';
}
function render() {
  $('jobs').innerHTML = jobs.map(jobRow).join('');
  const job = jobs.find((j) => j.id === selected) || jobs[0];
  if (job) chart(job);
}

// the model needs the Authorization header, which a plain link cannot send
async function download(id) {
  const url = URL.createObjectURL(await (await send(jobPath(id) + '/model')).blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = id + '.safetensors';
  a.click();
  // the browser reads the blob after click() returns; revoking at once can cancel the download
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
async function rowAction(run) {
  showError('job-error', null);
  try { await run(); } catch (e) { showError('job-error', e); }
}
document.addEventListener('click', (ev) => {
  const cancel = ev.target.closest('[data-cancel]');
  if (cancel) rowAction(async () => { await api(jobPath(cancel.dataset.cancel), { method: 'DELETE' }); refresh(); });
  const model = ev.target.closest('[data-download]');
  if (model) { ev.preventDefault(); rowAction(() => download(model.dataset.download)); }
  const row = ev.target.closest('tr[data-id]');
  if (row) { selected = row.dataset.id; render(); }
});

// a step of 1, 2 or 5 times a power of ten, near raw
function niceStep(raw) {
  const unit = 10 ** Math.floor(Math.log10(raw));
  const f = raw / unit;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * unit;
}
// round ticks covering the values, within [floor, ceil]; one value alone gets a small pad so
// the axis still has a range
function valueAxis(values, floor, ceil) {
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-9) { const pad = Math.abs(lo) * 0.01 || 0.01; lo -= pad; hi += pad; }
  lo = Math.max(floor, lo);
  hi = Math.min(ceil, hi);
  const step = niceStep((hi - lo) / 5);
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  const ticks = [];
  // the tolerance keeps float error (0.93 / 0.01 = 93.00000000000001) from adding a tick
  for (let k = Math.floor(lo / step + 1e-9); k <= Math.ceil(hi / step - 1e-9); k++) ticks.push(Number((k * step).toFixed(digits)));
  return { ticks, digits, lo: ticks[0], hi: ticks[ticks.length - 1] };
}
// epochs 1..n: every epoch while they fit, else 1 and the multiples of a round step
function epochTicks(n) {
  const step = Math.max(1, Math.round(niceStep(n / 10)));
  const ticks = [1];
  for (let e = step; e <= n; e += step) if (e > 1) ticks.push(e);
  return ticks;
}
const svgText = (cls, x, y, anchor, text) => '<text class="' + cls + '" x="' + x + '" y="' + y.toFixed(1) + '" text-anchor="' + anchor + '" dominant-baseline="middle">' + text + '</text>';
const svgLine = (x1, y1, x2, y2, stroke) => '<line x1="' + x1.toFixed(1) + '" y1="' + y1.toFixed(1) + '" x2="' + x2.toFixed(1) + '" y2="' + y2.toFixed(1) + '" stroke="' + stroke + '"/>';
const LOSS = '#d1680f', ACC = '#0969da', GRID = '#eaeef2', AXIS = '#8c959f';

function chart(job) {
  const m = job.metrics;
  $('chart-title').textContent = 'job ' + job.id.slice(0, 8) + ': train loss (orange, left) and test accuracy (blue, right) per epoch';
  if (!m.length) { $('chart').innerHTML = svgText('', 320, 140, 'middle', 'no epoch has finished yet'); return; }
  const W = 640, H = 280, L = 56, R = 72, T = 14, B = 42;
  const n = Math.max(job.config.epochs, m[m.length - 1].epoch);
  const x = (e) => L + (W - L - R) * (n === 1 ? 0.5 : (e - 1) / (n - 1));
  const loss = valueAxis(m.map((r) => r.trainLoss), 0, Infinity);
  // regression: R² in percent on the same axis
  const score = (r) => 100 * (r.testAccuracy ?? r.testR2);
  const acc = valueAxis(m.map(score), 0, 100);
  const y = (axis) => (v) => H - B - ((H - T - B) * (v - axis.lo)) / (axis.hi - axis.lo);
  const yl = y(loss), ya = y(acc);
  const parts = [];
  for (const e of epochTicks(n)) parts.push(svgLine(x(e), T, x(e), H - B, GRID), svgText('tick-x', x(e), H - B + 12, 'middle', e));
  for (const v of loss.ticks) parts.push(svgLine(L, yl(v), W - R, yl(v), GRID), svgText('tick-loss', L - 6, yl(v), 'end', v.toFixed(loss.digits)));
  for (const v of acc.ticks) parts.push(svgLine(W - R, ya(v), W - R + 4, ya(v), ACC), svgText('tick-acc', W - R + 7, ya(v), 'start', v.toFixed(acc.digits) + ' %'));
  parts.push(
    svgLine(L, T, L, H - B, AXIS), svgLine(W - R, T, W - R, H - B, AXIS), svgLine(L, H - B, W - R, H - B, AXIS),
    svgText('axis-label', (L + W - R) / 2, H - 10, 'middle', 'epoch'),
    '<text class="axis-label label-loss" transform="translate(14 ' + (T + H - B) / 2 + ') rotate(-90)" text-anchor="middle">train loss</text>',
    '<text class="axis-label label-acc" transform="translate(' + (W - 10) + ' ' + (T + H - B) / 2 + ') rotate(90)" text-anchor="middle">test accuracy</text>',
  );
  const curve = (cls, color, f) => {
    const d = m.map((r, i) => (i ? 'L' : 'M') + x(r.epoch).toFixed(1) + ',' + f(r).toFixed(1)).join(' ');
    // dots, since a path of one epoch draws nothing
    const dots = m.map((r) => '<circle cx="' + x(r.epoch).toFixed(1) + '" cy="' + f(r).toFixed(1) + '" r="2.5" fill="' + color + '"/>');
    return '<path class="' + cls + '" d="' + d + '" fill="none" stroke="' + color + '" stroke-width="2"/>' + dots.join('');
  };
  parts.push(curve('line-loss', LOSS, (r) => yl(r.trainLoss)), curve('line-acc', ACC, (r) => ya(score(r))));
  $('chart').innerHTML = parts.join('');
}
function escapeHtml(s) { return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]); }

refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
