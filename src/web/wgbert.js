// window.wgbert: the engine (src/web.rs, compiled to WebAssembly) as promises, for the page
// (app.js) and for scripts; tools/ci/web/check.mjs drives it through the remote-debugging protocol.
//
//   await wgbert.ready                      // the adapter: {name, backend, limits, features}
//   await wgbert.load('/models/all-MiniLM-L6-v2')   // or a FileList from a folder picker
//   await wgbert.embed(['a text'], 'mean')  // cls | pooler | mean, as `wgbert embed`
//   await wgbert.train({data, dataName: 'train.jsonl', epochs: 1, batchSize: 8, ...})
//   await wgbert.predict(['a text'])        // [{text, label, score}], as `wgbert predict --json`
//   await wgbert.evaluate(csvOrJsonl, {dataName: 'test.csv'})   // as `wgbert eval --json`
//   await wgbert.exportModel()              // [{name, bytes}], the layout of `wgbert export`
//   wgbert.archive(files)                   // those files as one zip: {name, bytes}
//
// One call runs at a time: each waits for the one before (the engine has one device).
import initWasm, * as engine from './pkg/wgbert.js';

const listeners = new Set();
let queue = Promise.resolve();
function serial(fn) {
  const p = queue.then(fn);
  queue = p.catch(() => {});
  return p;
}
function emit(event) {
  for (const f of listeners) {
    try { f(event); } catch (e) { console.error(e); }
  }
}
// The engine's errors are JsError objects: keep their message, lose nothing.
function rethrow(e) {
  throw e instanceof Error ? e : new Error(String(e));
}

const REQUIRED = ['config.json', 'model.safetensors'];
// One of these holds the vocabulary (transformers 5 saves only tokenizer.json).
const VOCABULARY = ['vocab.txt', 'tokenizer.json'];
const OPTIONAL = ['vocab.txt', 'tokenizer_config.json', 'tokenizer.json', 'special_tokens_map.json'];

// The model's files as {name: Uint8Array}: from a URL (a folder on the server), a FileList or
// array of File (a folder or files picked from disk), or such an object already.
async function modelFiles(source) {
  const out = {};
  if (typeof source === 'string') {
    const base = source.replace(/\/+$/, '');
    await Promise.all([...REQUIRED, ...OPTIONAL].map(async (name) => {
      const r = await fetch(`${base}/${name}`);
      if (r.ok) out[name] = new Uint8Array(await r.arrayBuffer());
      else if (REQUIRED.includes(name)) throw new Error(`${base}/${name}: HTTP ${r.status} ${r.statusText}`);
    }));
  } else if (source && typeof source[Symbol.iterator] === 'function') {
    for (const f of source) {
      if ([...REQUIRED, ...OPTIONAL].includes(f.name)) out[f.name] = new Uint8Array(await f.arrayBuffer());
    }
  } else if (source && typeof source === 'object') {
    Object.assign(out, source);
  }
  const missing = REQUIRED.filter((n) => !out[n]);
  if (!VOCABULARY.some((n) => out[n])) missing.push(VOCABULARY.join(' or '));
  if (missing.length) throw new Error(`the model folder lacks ${missing.join(', ')}`);
  return out;
}

const snake = (k) => k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

async function start() {
  if (!('gpu' in navigator)) {
    throw new Error('This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Firefox over https or localhost; in Chromium on Linux start it with --enable-unsafe-webgpu.');
  }
  // ?adapter=compatibility: ask for WebGPU's compatibility feature level (on some systems the
  // only adapter there is, e.g. Chromium on OpenGL ES).
  const level = new URLSearchParams(location.search).get('adapter');
  if (level === 'compatibility') {
    const request = navigator.gpu.requestAdapter.bind(navigator.gpu);
    navigator.gpu.requestAdapter = (o = {}) => request({ ...o, featureLevel: 'compatibility' });
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) {
    throw new Error('WebGPU is there but offers no adapter: a blocklisted GPU or driver, or WebGPU switched off (Chromium on Linux needs --enable-unsafe-webgpu); chrome://gpu says why.');
  }
  await initWasm();
  const info = JSON.parse(await engine.init());
  // Browsers keep the adapter's name to themselves; vendor and architecture they may tell.
  const i = adapter.info || {};
  info.vendor = i.vendor || '';
  info.architecture = i.architecture || '';
  if (!info.name) info.name = [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') || 'unnamed adapter';
  return info;
}

const ready = start();
ready.catch(() => {}); // the page shows the error; scripts await `ready` and see it

const wgbert = {
  ready,
  model: null,
  on(f) { listeners.add(f); return () => listeners.delete(f); },

  load(source) {
    return serial(async () => {
      await ready;
      emit({ type: 'busy', what: 'loading the model' });
      try {
        const f = await modelFiles(source);
        const info = JSON.parse(engine.load_model(
          f['config.json'], f['vocab.txt'], f['model.safetensors'],
          f['tokenizer_config.json'], f['tokenizer.json'], f['special_tokens_map.json']));
        info.source = typeof source === 'string' ? source : 'files from disk';
        wgbert.model = info;
        emit({ type: 'loaded', info });
        return info;
      } catch (e) { rethrow(e); } finally { emit({ type: 'idle' }); }
    });
  },

  embed(texts, pool = 'cls', { maxLen, batchSize } = {}) {
    return serial(async () => {
      await ready;
      try {
        return JSON.parse(await engine.embed(JSON.stringify(texts), pool, maxLen, batchSize));
      } catch (e) { rethrow(e); }
    });
  },

  // options: the CLI's flags in camelCase (epochs, batchSize, maxLen, lr, warmup, dropout,
  // weightDecay, seed, limitTrain, limitTest, textColumn, labelColumn, precision), plus the
  // data: `data` (CSV or JSONL text) and `dataName` (its file name: .csv or .jsonl says the
  // format), optionally `testData` / `testDataName`, and `onEvent(event)`.
  train(options) {
    return serial(async () => {
      await ready;
      const { data, dataName = 'train.jsonl', testData, testDataName = 'test.jsonl', onEvent, ...flags } = options;
      if (typeof data !== 'string') throw new Error('train: give the training data as text in options.data');
      const opts = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [snake(k), v]));
      emit({ type: 'train_start', options: opts });
      emit({ type: 'busy', what: 'training' });
      try {
        const result = JSON.parse(await engine.train(JSON.stringify(opts), dataName, data,
          testData === undefined ? undefined : testDataName, testData, (json) => {
            const e = JSON.parse(json);
            emit(e);
            if (onEvent) onEvent(e);
          }));
        emit({ type: 'train_end', result });
        return result;
      } catch (e) { emit({ type: 'error', message: String(e.message || e) }); rethrow(e); } finally { emit({ type: 'idle' }); }
    });
  },

  // Ends a running training after its step (not queued: it must reach the running call).
  stop() { engine.stop(); },

  // [{text, label, score}] for each text, as `wgbert predict --json` (max len 128 unless given).
  predict(texts, { maxLen, batchSize } = {}) {
    return serial(async () => {
      await ready;
      try {
        const predictions = JSON.parse(await engine.predict(JSON.stringify(texts), maxLen, batchSize));
        emit({ type: 'predictions', predictions });
        return predictions;
      } catch (e) { rethrow(e); }
    });
  },

  // The classifier on labelled data (CSV or JSONL text), as `wgbert eval --json`: options
  // dataName (.csv or .jsonl), maxLen, batchSize, limitTest, seed, textColumn, labelColumn.
  evaluate(data, { dataName = 'test.jsonl', ...flags } = {}) {
    return serial(async () => {
      await ready;
      emit({ type: 'busy', what: 'evaluating' });
      try {
        const opts = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [snake(k), v]));
        const report = JSON.parse(await engine.evaluate(dataName, data, JSON.stringify(opts)));
        emit({ type: 'evaluated', report });
        return report;
      } catch (e) { rethrow(e); } finally { emit({ type: 'idle' }); }
    });
  },

  // Files ([{name, bytes}], as exportModel gives them) in one zip archive (entries stored):
  // {name: 'wgbert-model.zip', bytes}. Unzipped into a folder, it is what `wgbert export` writes.
  archive(files, name = 'wgbert-model.zip') {
    return { name, bytes: engine.zip_files(files.map((f) => [f.name, f.bytes])) };
  },

  // The classifier's files in the layout of `wgbert export`: [{name, bytes: Uint8Array}].
  exportModel() {
    return serial(async () => {
      await ready;
      try {
        const files = (await engine.export_model()).map(([name, bytes]) => ({ name, bytes }));
        emit({ type: 'exported', files });
        return files;
      } catch (e) { rethrow(e); }
    });
  },
};

window.wgbert = wgbert;
export default wgbert;
