#!/usr/bin/env node
// Compile every WGSL module of a `wgbert shaders --out DIR` folder, and every (entry point,
// override set) of its manifest, through Dawn/Tint (Chrome's WebGPU implementation, from the
// npm package `webgpu`). Any compilation message (error, warning or info), any pipeline error,
// any uncaptured error or a lost device fails the run.
//
//   node check.mjs DIR [null|opengles] [--verbose]
//
// backend `null`: Dawn's validation-only adapter, every feature (shader-f16, subgroups): every
// module must be checked. backend `opengles`: Dawn's GL compatibility adapter (Mesa llvmpipe
// through EGL, surfaceless): Tint writes GLSL and Mesa compiles it; modules needing a feature
// that adapter lacks (shader-f16) are reported as skipped.

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const USAGE = 'usage: node check.mjs DIR [null|opengles] [--verbose]';
const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const positional = args.filter((a) => !a.startsWith('--'));
if (positional.length < 1 || positional.length > 2 || args.includes('--help')) {
  console.error(USAGE);
  process.exit(2);
}
const dir = positional[0];
const backend = positional[1] ?? 'null';
if (backend !== 'null' && backend !== 'opengles') {
  console.error(`unknown backend '${backend}' (null or opengles)\n${USAGE}`);
  process.exit(2);
}
// Dawn's GL backend opens EGL without a display server only on the surfaceless platform; this
// must be set before Dawn loads EGL.
if (backend === 'opengles' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';

const WATCHDOG_S = Number(process.env.TINT_CHECK_TIMEOUT_S ?? 600);
const watchdog = setTimeout(() => {
  console.error(`tint (${backend}): gave up after ${WATCHDOG_S} s (TINT_CHECK_TIMEOUT_S)`);
  process.exit(3);
}, WATCHDOG_S * 1000);

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);

const tag = `tint (${backend})`;
let errors = 0;
let warnings = 0;

function fail(kind, text) {
  if (kind === 'warning') warnings++;
  else errors++;
  console.log(`${kind.toUpperCase()} ${text}`);
}

/** The message Dawn gives, indented under the line that names what failed. */
function indent(message) {
  return message
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function readManifest(dir) {
  const file = path.join(dir, 'manifest.json');
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`${tag}: cannot read ${file}: ${e.message}`);
    process.exit(2);
  }
  if (!Array.isArray(manifest.modules) || manifest.modules.length === 0) {
    console.error(`${tag}: ${file} lists no modules`);
    process.exit(2);
  }
  return manifest;
}

/** The @compute entry points of a WGSL source, comments removed (a cross-check of the manifest). */
function computeEntryPoints(code) {
  const bare = code.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
  const names = [];
  for (const m of bare.matchAll(/@compute\b(?:\s*@\w+\s*(?:\([^)]*\))?)*\s*fn\s+([A-Za-z_]\w*)/g)) names.push(m[1]);
  return names;
}

function formatConstants(c) {
  const keys = Object.keys(c);
  return keys.length === 0 ? '{}' : `{${keys.map((k) => `${k}=${c[k]}`).join(', ')}}`;
}

const manifest = readManifest(dir);
const started = performance.now();

// Keep the object create() returns alive for the whole run: Dawn for Node crashes when it is
// collected while the adapter or device is in use.
const gpu = create([`backend=${backend}`]);
globalThis.__wgbertTintGpu = gpu;
const adapter = await gpu.requestAdapter(backend === 'opengles' ? { featureLevel: 'compatibility' } : {});
if (!adapter) {
  console.log(`ERROR ${tag}: no adapter (for opengles: EGL_PLATFORM=surfaceless and Mesa's libEGL are needed)`);
  console.log(`${tag}: 0 modules, 0 entry points, 0 specializations checked, 1 errors, 0 warnings`);
  process.exit(1);
}
const info = adapter.info ?? {};
const adapterName = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unnamed';

// Every feature the adapter offers, and its maximum limits (the defaults are smaller, and in
// compatibility mode much smaller).
const requiredFeatures = [...adapter.features];
const requiredLimits = {};
for (const key in adapter.limits) {
  const v = adapter.limits[key];
  if (typeof v === 'number') requiredLimits[key] = v;
}
let device;
try {
  device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'wgbert tint check' });
} catch (e) {
  console.log(`ERROR ${tag}: requestDevice failed: ${e.message}`);
  console.log(`${tag}: 0 modules, 0 entry points, 0 specializations checked, 1 errors, 0 warnings`);
  process.exit(1);
}
let finished = false;
let lost = false;
device.lost.then((l) => {
  if (finished) return;
  lost = true;
  fail('error', `${tag}: device lost (${l.reason}): ${l.message}`);
});
let current = 'setting up';
device.onuncapturederror = (ev) => {
  fail('error', `${tag}: uncaptured ${ev.error?.constructor?.name ?? 'error'} while ${current}:\n${indent(ev.error?.message ?? String(ev))}`);
};

const features = new Set(device.features);
const L = device.limits;
console.log(
  `${tag}: adapter ${adapterName}; ${features.has('shader-f16') ? 'shader-f16' : 'no shader-f16'}, ` +
    `${features.has('subgroups') ? 'subgroups' : 'no subgroups'}; ` +
    `${L.maxStorageBuffersPerShaderStage} storage buffers/stage, ${L.maxComputeWorkgroupStorageSize} B workgroup memory, ` +
    `${L.maxComputeInvocationsPerWorkgroup} invocations (${L.maxComputeWorkgroupSizeX}x${L.maxComputeWorkgroupSizeY}x${L.maxComputeWorkgroupSizeZ}), ` +
    `bindings ${L.maxStorageBufferBindingSize} B, buffers ${L.maxBufferSize} B`,
);

console.log(`${tag}: ${path.join(dir, 'manifest.json')} (wgbert ${manifest.wgbert ?? 'unknown'})`);

let modulesChecked = 0;
let entriesChecked = 0;
let specsChecked = 0;
const skipped = [];

for (const mod of manifest.modules) {
  if (lost) break;
  const where = `${mod.name} [${mod.file}]`;
  if (mod.wgpu_only) {
    const n = mod.entry_points.reduce((s, e) => s + e.specializations.length, 0);
    skipped.push(mod.name);
    console.log(`SKIP ${where}: Tint cannot take it: ${mod.wgpu_only} (${n} specializations not checked here)`);
    continue;
  }
  const missing = (mod.features ?? []).filter((f) => !features.has(f));
  if (missing.length > 0) {
    if (backend === 'null') {
      fail('error', `${where}: the null adapter lacks ${missing.join(', ')}: every module must be checked there`);
    } else {
      const n = mod.entry_points.reduce((s, e) => s + e.specializations.length, 0);
      skipped.push(mod.name);
      console.log(`SKIP ${where}: needs ${missing.join(', ')}, which this adapter lacks (${mod.entry_points.length} entry points, ${n} specializations not checked)`);
    }
    continue;
  }
  let code;
  try {
    code = fs.readFileSync(path.join(dir, mod.file), 'utf8');
  } catch (e) {
    fail('error', `${where}: cannot read: ${e.message}`);
    continue;
  }
  const lines = code.split('\n');

  // The manifest must name every compute entry point of the source, and only those.
  const inSource = computeEntryPoints(code);
  const inManifest = mod.entry_points.map((e) => e.name);
  for (const e of inSource.filter((n) => !inManifest.includes(n))) fail('error', `${where}: entry point ${e} is not in the manifest`);
  for (const e of inManifest.filter((n) => !inSource.includes(n))) fail('error', `${where}: the manifest's entry point ${e} is not a @compute fn of the source`);

  // The module: every message Tint has about the source fails the run.
  current = `compiling ${where}`;
  device.pushErrorScope('internal');
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code, label: mod.name });
  const moduleErrors = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
  const compilation = await module.getCompilationInfo();
  modulesChecked++;
  let moduleFailed = false;
  // Tint gives the notes of an error or warning as 'info' messages right after it: those are
  // printed with it; an 'info' message of its own counts as a warning.
  let noteOf = null;
  for (const m of compilation.messages) {
    const text = lines[m.lineNum - 1];
    const caret = text === undefined ? '' : `\n    ${text}\n    ${' '.repeat(Math.max(0, m.linePos - 1))}${'^'.repeat(Math.max(1, m.length))}`;
    const at = `${mod.file}:${m.lineNum}:${m.linePos}`;
    if (m.type === 'info' && noteOf !== null) {
      console.log(`  note (of the ${noteOf} above) ${at}: ${m.message}${caret}`);
      continue;
    }
    fail(m.type === 'error' ? 'error' : 'warning', `${where} ${at}: ${m.type}: ${m.message}${caret}`);
    if (m.type === 'error') moduleFailed = true;
    noteOf = m.type === 'info' ? null : m.type;
  }
  for (const e of moduleErrors.filter(Boolean)) {
    // The compilation messages above already say why a module is invalid; report the scope's
    // error only if they did not.
    if (!moduleFailed) fail('error', `${where}: createShaderModule:\n${indent(e.message)}`);
    moduleFailed = true;
  }
  if (moduleFailed) {
    const n = mod.entry_points.reduce((s, e) => s + e.specializations.length, 0);
    console.log(`  (${where} does not compile: its ${mod.entry_points.length} entry points, ${n} specializations not checked)`);
    continue;
  }

  // Every (entry point, override set): a compute pipeline with an automatic layout.
  for (const ep of mod.entry_points) {
    entriesChecked++;
    const t0 = performance.now();
    const declared = [...(ep.overrides ?? [])].sort().join(',');
    const pending = [];
    for (const constants of ep.specializations) {
      const keys = Object.keys(constants).sort().join(',');
      if (keys !== declared) fail('error', `${where} ${ep.name} ${formatConstants(constants)}: the manifest's overrides are [${declared}]`);
      current = `creating ${where} ${ep.name} ${formatConstants(constants)}`;
      device.pushErrorScope('internal');
      device.pushErrorScope('validation');
      device.createComputePipeline({
        label: `${mod.name} ${ep.name} ${formatConstants(constants)}`,
        layout: 'auto',
        compute: { module, entryPoint: ep.name, constants },
      });
      pending.push(Promise.all([device.popErrorScope(), device.popErrorScope()]).then((errs) => [constants, errs]));
    }
    // One line per distinct message, with the override sets that got it.
    const byMessage = new Map();
    for (const [constants, errs] of await Promise.all(pending)) {
      specsChecked++;
      for (const e of errs.filter(Boolean)) {
        errors++;
        const key = `${e.constructor?.name ?? 'error'}: ${e.message}`;
        if (!byMessage.has(key)) byMessage.set(key, []);
        byMessage.get(key).push(constants);
      }
    }
    for (const [message, sets] of byMessage) {
      const shown = verbose ? sets : sets.slice(0, 4);
      const more = sets.length > shown.length ? `\n      … and ${sets.length - shown.length} more` : '';
      console.log(
        `ERROR ${where} entry point ${ep.name}, ${sets.length} of ${ep.specializations.length} override sets:\n` +
          `${shown.map((c) => `      ${formatConstants(c)}`).join('\n')}${more}\n${indent(message)}`,
      );
    }
    if (verbose) {
      const status = byMessage.size === 0 ? 'ok' : 'FAILED';
      console.log(`  ${status} ${where} ${ep.name}: ${ep.specializations.length} specializations, ${(performance.now() - t0).toFixed(0)} ms`);
    }
  }
}

// Let late device errors arrive before the summary.
current = 'finishing';
await device.queue.onSubmittedWorkDone();
finished = true;
device.destroy();
clearTimeout(watchdog);

const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (skipped.length > 0) console.log(`${tag}: skipped (features this adapter lacks): ${skipped.join('; ')}`);
console.log(
  `${tag}: ${modulesChecked} modules, ${entriesChecked} entry points, ${specsChecked} specializations checked, ` +
    `${errors} errors, ${warnings} warnings`,
);
console.log(`${tag}: ${seconds} s`);
process.exitCode = errors > 0 || warnings > 0 ? 1 : 0;
// Dawn for Node keeps the event loop alive; exit explicitly (gpu stays referenced until here).
void gpu;
process.exit(process.exitCode);
