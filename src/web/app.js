// The page: drives window.wgbert (wgbert.js) and draws what it reports. Training started from
// a script (the browser check) is drawn too: the page listens to the engine's events.
import wgbert from './wgbert.js';

const $ = (id) => document.getElementById(id);
const log = (line) => { $('log').textContent += line + '\n'; $('log').scrollTop = 1e9; };
const fmt = (x, d = 4) => (x === null || x === undefined ? '–' : Number(x).toFixed(d));
let busy = false;

function setBusy(b) {
  busy = b;
  $('load-url').disabled = b;
  $('train').disabled = b || !wgbert.model;
  $('predict').disabled = b || !canPredict;
  $('evaluate').disabled = b || !canPredict;
  $('export').disabled = b || !canPredict;
  $('stop').disabled = !b || !training;
}
let canPredict = false;
let training = false;

function showError(where, e) {
  const msg = String(e && e.message ? e.message : e);
  where.className = 'error';
  where.textContent = msg;
  log('error: ' + msg);
}

// ---------- the adapter ----------
wgbert.ready.then((a) => {
  const l = a.limits;
  const mib = (b) => `${Math.round(b / 2 ** 20)} MiB`;
  $('adapter').innerHTML = '';
  $('adapter').append(
    `Adapter: ${a.name} — ${a.device_type}, ${a.backend}${a.driver ? ', ' + a.driver : ''}. `,
    `Limits: buffers ${mib(l.max_buffer_size)}, storage bindings ${mib(l.max_storage_buffer_binding_size)}, ` +
    `${l.max_storage_buffers_per_shader_stage} storage buffers per stage, ${l.max_compute_invocations_per_workgroup} invocations, ` +
    `${l.max_compute_workgroup_storage_size / 1024} KiB workgroup memory. ` +
    `Features: shader-f16 ${a.features.shader_f16 ? 'yes' : 'no'}, subgroups ${a.features.subgroups ? 'yes' : 'no'}.`);
  setBusy(false);
}, (e) => {
  showError($('adapter'), e);
  for (const b of document.querySelectorAll('button')) b.disabled = true;
});

// ---------- events from the engine ----------
let steps = [];      // [global step, batch loss]
let epochRows = [];  // EpochRow
let total = 0;
wgbert.on((e) => {
  switch (e.type) {
    case 'busy': setBusy(true); $('status').textContent = e.what + '…'; break;
    case 'idle': setBusy(false); break;
    case 'loaded': {
      const i = e.info;
      clearResults();
      canPredict = !!i.classes;
      $('model-info').className = 'box';
      $('model-info').textContent = `${i.source}: ${i.layers} layers, hidden ${i.hidden_size}, ${i.heads} heads, ` +
        `vocabulary ${i.vocab_size}, ${(i.parameters / 1e6).toFixed(2)} M parameters` +
        (i.classes ? `; a classifier for ${i.classes.join(', ')}` : '') + '.';
      for (const n of i.notices) log('notice: ' + n);
      $('status').textContent = 'model loaded';
      break;
    }
    case 'train_start': {
      training = true;
      clearResults();
      // A run started by a script shows its settings in the form.
      for (const [k, v] of Object.entries(e.options)) {
        const input = $(k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()));
        if (input && input.tagName === 'INPUT') input.value = v;
      }
      break;
    }
    case 'data': log(`data: ${e.train} training, ${e.validation} validation, ${e.test} test examples; classes ${e.classes.join(', ')}`); break;
    case 'epoch_start': total = e.steps; break;
    case 'step':
      steps.push([steps.length + 1, e.batch_loss]);
      $('progress').value = e.step / e.steps;
      $('status').textContent = `epoch ${e.epoch}, step ${e.step}/${e.steps}: loss ${fmt(e.loss)}, accuracy ${fmt(e.accuracy)} ` +
        `(${fmt(e.seconds / steps.length, 2)} s per step)`;
      draw();
      break;
    case 'scoring':
      $('progress').value = e.done / Math.max(e.total, 1);
      $('status').textContent = `scoring the ${e.set} set: ${e.done}/${e.total}`;
      break;
    case 'epoch_end': epochRows.push(e.row); draw(); table(); break;
    case 'test': log(`test: loss ${fmt(e.report.loss)}, accuracy ${fmt(e.report.accuracy)} (${e.report.examples} examples)`); showReport(e.report); break;
    case 'notice': log('notice: ' + e.message); break;
    case 'train_end': {
      training = false;
      canPredict = true;
      const r = e.result;
      const t = r.test ? ` — test accuracy ${fmt(r.test.accuracy)}` : '';
      $('status').textContent = `${r.stopped ? 'stopped' : 'done'}: ${r.history.steps.length} steps in ${fmt(r.train_seconds, 1)} s ` +
        `(${fmt(r.seconds_per_step, 2)} s per step)${t}`;
      break;
    }
    case 'predictions': showPredictions(e.predictions); break;
    case 'evaluated': showReport(e.report); $('status').textContent = `evaluated: accuracy ${fmt(e.report.accuracy)} on ${e.report.examples} examples`; break;
    case 'exported': showDownloads(e.files); break;
    case 'error': training = false; log('error: ' + e.message); $('status').textContent = 'failed: ' + e.message; break;
  }
});

// What belongs to the previous model: its epochs, report, scores and downloads.
function clearResults() {
  for (const id of ['epochs-table', 'report', 'predictions', 'downloads']) $(id).textContent = '';
  steps = []; epochRows = []; total = 0;
  draw();
}

// ---------- the curves: batch loss per step (left), accuracy per epoch (right) ----------
function draw() {
  const c = $('curves');
  const g = c.getContext('2d');
  const W = c.width, H = c.height;
  g.clearRect(0, 0, W, H);
  g.font = '12px system-ui, sans-serif';
  const panel = (x0, w, title, series, xmax, ymin, ymax) => {
    const L = x0 + 44, R = x0 + w - 10, T = 24, B = H - 28;
    g.strokeStyle = '#bbb'; g.lineWidth = 1;
    g.strokeRect(L, T, R - L, B - T);
    g.fillStyle = '#333'; g.fillText(title, L, 16);
    g.fillStyle = '#777';
    for (let k = 0; k <= 4; k++) {
      const v = ymin + (ymax - ymin) * k / 4, y = B - (B - T) * k / 4;
      g.fillText(v.toFixed(ymax - ymin < 0.1 ? 3 : 2), x0 + 4, y + 4);
    }
    g.fillText('0', L, B + 16); g.fillText(String(xmax), R - 20, B + 16);
    let lx = L + 8;
    for (const s of series) {
      if (!s.points.length) continue;
      g.strokeStyle = s.color; g.fillStyle = s.color; g.lineWidth = 2;
      g.beginPath();
      s.points.forEach(([x, y], i) => {
        const px = L + (R - L) * x / Math.max(xmax, 1), py = B - (B - T) * (y - ymin) / Math.max(ymax - ymin, 1e-9);
        if (i) g.lineTo(px, py); else g.moveTo(px, py);
        if (s.dots) g.fillRect(px - 2.5, py - 2.5, 5, 5);
      });
      g.stroke();
      g.fillText(s.name, lx, T + 14); lx += g.measureText(s.name).width + 16;
    }
  };
  // The loss axis spans the losses drawn (a fine-tuning loss moves little around ln 2).
  const losses = [...steps.map((s) => s[1]), ...epochRows.flatMap((r) => [r.loss, r.val_loss ?? r.loss])];
  const lo = losses.length ? Math.min(...losses) : 0, hi = losses.length ? Math.max(...losses) : 1;
  const pad = Math.max((hi - lo) * 0.15, 0.01);
  const lmin = Math.max(0, lo - pad), lmax = hi + pad;
  const perEpoch = Math.max(total, 1);
  const epochLoss = epochRows.map((r) => [r.epoch * perEpoch, r.loss]);
  const valLoss = epochRows.filter((r) => r.val_loss !== null).map((r) => [r.epoch * perEpoch, r.val_loss]);
  panel(0, W * 0.6, 'loss per step', [
    { name: 'batch loss', color: '#4a7fd4', points: steps },
    { name: 'epoch mean', color: '#e08a1e', points: epochLoss, dots: true },
    { name: 'validation', color: '#2a9d5b', points: valLoss, dots: true },
  ], Math.max(steps.length, perEpoch * Math.max(epochRows.length, 1)), lmin, lmax);
  const n = Math.max(epochRows.length, 1);
  panel(W * 0.6, W * 0.4, 'accuracy per epoch', [
    { name: 'training', color: '#e08a1e', points: epochRows.map((r) => [r.epoch, r.accuracy]), dots: true },
    { name: 'validation', color: '#2a9d5b', points: epochRows.filter((r) => r.val_accuracy !== null).map((r) => [r.epoch, r.val_accuracy]), dots: true },
  ], n, 0, 1);
}
draw();

function table() {
  const rows = epochRows.map((r) => `<tr><td>${r.epoch}</td><td>${fmt(r.loss)}</td><td>${fmt(r.accuracy)}</td>` +
    `<td>${fmt(r.val_loss)}</td><td>${fmt(r.val_accuracy)}</td><td>${fmt(r.seconds, 1)}</td></tr>`).join('');
  $('epochs-table').innerHTML = `<table><tr><th>epoch</th><th>loss</th><th>accuracy</th><th>val loss</th><th>val accuracy</th><th>seconds</th></tr>${rows}</table>`;
}

// ---------- actions ----------
$('load-url').onclick = () => wgbert.load($('model-url').value).catch((e) => showError($('model-info'), e));
$('model-files').onchange = (ev) => wgbert.load(ev.target.files).catch((e) => showError($('model-info'), e));

async function readData() {
  const own = document.querySelector('input[name=data]:checked').value === 'own';
  if (!own) {
    const get = async (p) => { const r = await fetch(p); if (!r.ok) throw new Error(`${p}: HTTP ${r.status}`); return r.text(); };
    return { data: await get('/data/train.jsonl'), dataName: 'train.jsonl', testData: await get('/data/test.jsonl'), testDataName: 'test.jsonl' };
  }
  const train = $('train-file').files[0];
  if (!train) throw new Error('pick a training file (CSV or JSONL)');
  const test = $('test-file').files[0];
  return {
    data: await train.text(), dataName: train.name,
    testData: test ? await test.text() : undefined, testDataName: test ? test.name : undefined,
  };
}

$('train').onclick = async () => {
  try {
    const num = (id) => ($(id).value.trim() === '' ? undefined : Number($(id).value));
    const opts = {
      ...(await readData()),
      epochs: num('epochs'), batchSize: num('batchSize'), maxLen: num('maxLen'), lr: num('lr'), warmup: num('warmup'),
      dropout: num('dropout'), weightDecay: num('weightDecay'), seed: num('seed'),
      limitTrain: num('limitTrain'), limitTest: num('limitTest'),
      textColumn: $('textColumn').value, labelColumn: $('labelColumn').value,
    };
    await wgbert.train(opts);
  } catch (e) {
    log('error: ' + (e.message || e));
  }
};
$('stop').onclick = () => wgbert.stop();

$('predict').onclick = () => {
  const texts = $('texts').value.split('\n').filter((t) => t.trim() !== '');
  wgbert.predict(texts).catch((e) => log('error: ' + (e.message || e)));
};
function showPredictions(preds) {
  const t = $('predictions');
  t.innerHTML = '<tr><th>text</th><th>label</th><th>score</th></tr>';
  for (const p of preds) {
    const tr = document.createElement('tr');
    for (const v of [p.text, p.label, p.score.toFixed(6)]) { const td = document.createElement('td'); td.textContent = v; tr.append(td); }
    t.append(tr);
  }
}

$('evaluate').onclick = async () => {
  try {
    const d = await readData();
    if (d.testData === undefined) throw new Error('pick a test file to evaluate on');
    const num = (id) => ($(id).value.trim() === '' ? undefined : Number($(id).value));
    await wgbert.evaluate(d.testData, { dataName: d.testDataName, maxLen: num('maxLen'), batchSize: num('batchSize'),
      limitTest: num('limitTest'), seed: num('seed'), textColumn: $('textColumn').value, labelColumn: $('labelColumn').value });
  } catch (e) { log('error: ' + (e.message || e)); }
};
function showReport(r) {
  const rows = r.classes.map((c, i) => `<tr><td>${c}</td><td>${fmt(r.precision[i])}</td><td>${fmt(r.recall[i])}</td><td>${fmt(r.f1[i])}</td>` +
    `<td>${r.confusion[i].join(' / ')}</td></tr>`).join('');
  $('report').innerHTML = `<p>${r.examples} examples: loss ${fmt(r.loss)}, accuracy ${fmt(r.accuracy)}</p>` +
    `<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>predicted as ${r.classes.join(' / ')}</th></tr>${rows}</table>`;
}

$('export').onclick = () => wgbert.exportModel().catch((e) => log('error: ' + (e.message || e)));
function showDownloads(files) {
  const box = $('downloads');
  const link = (f) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([f.bytes]));
    a.download = f.name;
    a.textContent = `${f.name} (${(f.bytes.length / 1024).toFixed(0)} KiB)`;
    return a;
  };
  box.textContent = '';
  try {
    const zip = wgbert.archive(files);
    box.append('The model folder as one archive: ', link(zip), document.createElement('br'));
    box.append('or its files, to save into one folder: ');
  } catch (e) {
    log('error: ' + (e.message || e));
    box.append('Save these into one folder: ');
  }
  for (const f of files) box.append(link(f));
}
