// The dashboard served at GET /: one self-contained page (no build step, no dependencies).
// It holds no secrets; it asks for the token and sends it on every API call. Progress comes
// from the SSE endpoint read with fetch, since EventSource cannot send an Authorization header.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gradpool</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 24px; color: #1f2328; }
  h1 { font-size: 20px; margin: 0 0 16px; }
  form, .bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 16px; }
  label { display: flex; flex-direction: column; font-size: 12px; color: #57606a; }
  input, select { font: inherit; padding: 4px 6px; width: 9em; }
  button { font: inherit; padding: 5px 12px; cursor: pointer; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 16px; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d0d7de; }
  tr.selected { background: #f6f8fa; }
  .state-succeeded { color: #1a7f37; } .state-failed { color: #cf222e; } .state-running { color: #0969da; }
  #error { color: #cf222e; min-height: 1.2em; }
  svg { border: 1px solid #d0d7de; }
</style>
</head>
<body>
<h1>gradpool jobs</h1>
<div class="bar">
  <label>token <input id="token" type="password" autocomplete="off"></label>
  <button id="save-token" type="button">use token</button>
</div>
<form id="submit">
  <label>data <input name="data" value="mnist"></label>
  <label>hidden <input name="hidden" value="256,128"></label>
  <label>epochs <input name="epochs" value="5"></label>
  <label>batch size <input name="batchSize" value="128"></label>
  <label>lr <input name="lr" value="0.05"></label>
  <label>activation <select name="activation"><option>relu</option><option>tanh</option><option>sigmoid</option></select></label>
  <button type="submit">submit job</button>
</form>
<div id="error" role="alert"></div>
<table>
  <thead><tr><th>job</th><th>state</th><th>progress</th><th>samples/s</th><th>test accuracy</th><th></th></tr></thead>
  <tbody id="jobs"></tbody>
</table>
<div id="chart-title"></div>
<svg id="chart" width="640" height="260" aria-label="loss and accuracy per epoch"></svg>
<script>
const $ = (id) => document.getElementById(id);
let token = localStorage.getItem('gradpool-token') || '';
$('token').value = token;
let selected = null;
const live = new Map(); // id -> latest progress from SSE
const streams = new Set();

function headers(extra) { return Object.assign(token ? { authorization: 'Bearer ' + token } : {}, extra || {}); }
async function api(path, init) {
  const r = await fetch(path, Object.assign({}, init, { headers: headers(init && init.headers) }));
  const body = r.headers.get('content-type')?.includes('json') ? await r.json() : null;
  if (!r.ok) throw new Error((body && body.error) || r.status + ' ' + r.statusText);
  return body;
}
function showError(e) { $('error').textContent = e ? String(e.message || e) : ''; }

$('save-token').onclick = () => { token = $('token').value; localStorage.setItem('gradpool-token', token); refresh(); };
$('submit').onsubmit = async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const num = (k) => Number(f.get(k));
  const job = {
    data: f.get('data'), activation: f.get('activation'),
    hidden: String(f.get('hidden')).split(',').map((s) => Number(s.trim())),
    epochs: num('epochs'), batchSize: num('batchSize'), lr: num('lr'),
  };
  try { const r = await api('/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(job) }); showError(null); selected = r.id; refresh(); }
  catch (e) { showError(e); }
};

async function follow(id) {
  if (streams.has(id)) return;
  streams.add(id);
  try {
    const r = await fetch('/jobs/' + id + '/events', { headers: headers() });
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
        if (msg.metrics || ['succeeded', 'failed', 'cancelled'].includes(msg.state)) refresh();
        else render();
      }
    }
  } catch (e) { /* the list poll shows the final state */ }
  streams.delete(id);
}

let jobs = [];
async function refresh() {
  try { jobs = (await api('/jobs')).jobs; showError(null); } catch (e) { showError(e); return; }
  for (const j of jobs) if (j.state === 'running' || j.state === 'queued') follow(j.id);
  render();
}

function render() {
  const rows = jobs.map((j) => {
    const p = (live.get(j.id) || {}).progress || j.progress || {};
    const last = j.metrics[j.metrics.length - 1];
    const progress = j.state === 'running' && p.epoch ? 'epoch ' + p.epoch + (p.step ? ', step ' + p.step + '/' + p.stepsPerEpoch : '') : j.metrics.length + '/' + j.config.epochs + ' epochs';
    const cancel = j.state === 'running' || j.state === 'queued' ? '<button data-cancel="' + j.id + '">cancel</button>' : '';
    return '<tr data-id="' + j.id + '" class="' + (j.id === selected ? 'selected' : '') + '">' +
      '<td>' + j.id.slice(0, 8) + '</td><td class="state state-' + j.state + '">' + j.state + (j.error ? ': ' + escapeHtml(j.error) : '') + '</td>' +
      '<td>' + progress + '</td><td>' + (p.samplesPerSec ? Math.round(p.samplesPerSec).toLocaleString() : '') + '</td>' +
      '<td class="accuracy">' + (last ? (100 * last.testAccuracy).toFixed(2) + ' %' : '') + '</td><td>' + cancel + '</td></tr>';
  });
  $('jobs').innerHTML = rows.join('');
  const job = jobs.find((j) => j.id === selected) || jobs[0];
  if (job) chart(job);
}

document.addEventListener('click', async (ev) => {
  const cancel = ev.target.closest('[data-cancel]');
  if (cancel) { try { await api('/jobs/' + cancel.dataset.cancel, { method: 'DELETE' }); refresh(); } catch (e) { showError(e); } return; }
  const row = ev.target.closest('tr[data-id]');
  if (row) { selected = row.dataset.id; render(); }
});

function chart(job) {
  const m = job.metrics;
  $('chart-title').textContent = 'job ' + job.id.slice(0, 8) + ': train loss (orange) and test accuracy (blue) per epoch';
  const W = 640, H = 260, L = 40, R = 40, T = 10, B = 30;
  const n = Math.max(job.config.epochs, 2);
  const x = (e) => L + ((W - L - R) * (e - 1)) / (n - 1);
  const maxLoss = Math.max(0.1, ...m.map((r) => r.trainLoss));
  const yl = (v) => H - B - ((H - T - B) * v) / maxLoss;
  const ya = (v) => H - B - (H - T - B) * v;
  const path = (f) => m.map((r, i) => (i ? 'L' : 'M') + x(r.epoch).toFixed(1) + ',' + f(r).toFixed(1)).join(' ');
  $('chart').innerHTML =
    '<line x1="' + L + '" y1="' + (H - B) + '" x2="' + (W - R) + '" y2="' + (H - B) + '" stroke="#999"/>' +
    '<text x="' + L + '" y="' + (H - 8) + '" font-size="11">epoch 1</text><text x="' + (W - R - 40) + '" y="' + (H - 8) + '" font-size="11">epoch ' + n + '</text>' +
    '<text x="4" y="' + (T + 10) + '" font-size="11" fill="#d1680f">' + maxLoss.toFixed(2) + '</text><text x="' + (W - R + 4) + '" y="' + (T + 10) + '" font-size="11" fill="#0969da">100%</text>' +
    '<path d="' + path((r) => yl(r.trainLoss)) + '" fill="none" stroke="#d1680f" stroke-width="2"/>' +
    '<path d="' + path((r) => ya(r.testAccuracy)) + '" fill="none" stroke="#0969da" stroke-width="2"/>';
}
function escapeHtml(s) { return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]); }

refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
