#!/usr/bin/env node
// The ONNX Runtime anchor of bench/anchors.py: onnxruntime-node's CPU execution provider, timed
// the way `ptinfer bench` times the Engine (W untimed calls per batch size, then calls until at
// least I calls and S seconds; img/s = batch * calls / timed seconds). Prints one JSON object.
//
//   node ort_bench.js --model M.onnx --image-size N --batch-sizes 1,32 --threads T
//                     [--warmup W] [--iters I] [--seconds S]
//                     [--check-in X.f32 --check-batch B --check-out Y.f32]
//
// --check-in: raw little-endian float32 input of shape B x 3 x N x N; its logits are written to
// --check-out (raw float32) before any timing, for bench/anchors.py to compare with PyTorch.
// Session: intra-op threads T, inter-op 1, sequential execution, all graph optimizations.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const a = {warmup: 1, iters: 2, seconds: 0};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
    a[key] = argv[i + 1];
  }
  for (const k of ['model', 'imageSize', 'batchSizes', 'threads']) {
    const flag = k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    if (a[k] === undefined) throw new Error(`missing --${flag}`);
  }
  a.imageSize = Number(a.imageSize);
  a.threads = Number(a.threads);
  a.warmup = Number(a.warmup);
  a.iters = Number(a.iters);
  a.seconds = Number(a.seconds);
  a.batchSizes = String(a.batchSizes).split(',').map(Number);
  return a;
}

function inputTensor(data, batch, size) {
  return new ort.Tensor('float32', data, [batch, 3, size, size]);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inName = session.inputNames[0];
  const outName = session.outputNames[0];
  const version = ort.env.versions ? ort.env.versions.common : '';
  const result = {path: 'onnxruntime-node', version, threads: a.threads, warmup: a.warmup,
                  rows: []};

  if (a.checkIn) {
    const buf = fs.readFileSync(a.checkIn);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const out = await session.run({[inName]: inputTensor(data, Number(a.checkBatch), a.imageSize)});
    const logits = out[outName].data;
    fs.writeFileSync(a.checkOut, Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
  }

  for (const bs of a.batchSizes) {
    const data = new Float32Array(bs * 3 * a.imageSize * a.imageSize);
    for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
    const feeds = {[inName]: inputTensor(data, bs, a.imageSize)};
    for (let i = 0; i < a.warmup; i++) await session.run(feeds);
    const times = [];
    const start = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
    while (times.length < a.iters || elapsed() < a.seconds) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const total = times.reduce((x, y) => x + y, 0);
    const sorted = times.slice().sort((x, y) => x - y);
    result.rows.push({batch_size: bs, calls: times.length,
                      images_per_second: bs * times.length / total,
                      p50_ms: 1000 * sorted[Math.floor(times.length / 2)]});
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(`ort_bench.js: ${e.message}`);
  process.exit(1);
});
