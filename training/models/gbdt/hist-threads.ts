import { once } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ChurnError } from '../../../core/errors.ts';
import { accumulate1, accumulate4, accumulate8, accumulateHistogram, gatherGradients } from './histogram.ts';
import { createSerialBuilder, type HistogramBuilder, type HistPool, type TrainingBins } from './hist-pool.ts';

/**
 * Histogram building shared out by feature groups between the calling thread and worker threads.
 * Everything the kernel reads lives in SharedArrayBuffers (packed bins, row order, ordered gradients,
 * histogram slots); a batch is dispatched by bumping a counter in a shared Int32Array and the workers
 * are awaited with Atomics.wait, so a batch costs microseconds rather than a message round trip.
 * Each feature's histogram is built by one thread with the same kernel and row order, so the model does
 * not depend on the number of threads.
 */

// control words
const GEN = 0;
const DONE = 1;
const JOBS = 2;
const GROUPS = 3;
const SLOT = 4;
const HIST_GEN = 5;
const STOP = 6;
const CONTROL_WORDS = 8;
const STALL_MS = 120_000;

// the kernel's functions by their own source (declared under their names, as accumulateHistogram calls them)
const kernelSource = () => [accumulate1, accumulate4, accumulate8, accumulateHistogram].map((f) => f.toString()).join('\n');

const workerSource = (kernel: string) => `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
${kernel}
const bases = new Int32Array(8);
const { ctl, packed, n, offsets, nBins, rows, ordered, jobs, groups, masks, port, index, threads } = workerData;
let hist = workerData.hist;
let histGen = 0;
let gen = 0;
for (;;) {
  Atomics.wait(ctl, ${GEN}, gen);
  gen = Atomics.load(ctl, ${GEN});
  if (ctl[${STOP}] === 1) break;
  while (histGen !== ctl[${HIST_GEN}]) { hist = receiveMessageOnPort(port).message; histGen++; }
  const nGroups = ctl[${GROUPS}];
  const from = Math.floor((index * nGroups) / threads);
  const to = Math.floor(((index + 1) * nGroups) / threads);
  for (let j = 0; j < ctl[${JOBS}]; j++) {
    accumulateHistogram(packed, n, groups, masks, from, to, offsets, nBins, rows, jobs[3 * j], jobs[3 * j + 1], ordered, hist, jobs[3 * j + 2] * ctl[${SLOT}], bases);
  }
  Atomics.add(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
}
`;

const sharedInt32 = (n: number) => new Int32Array(new SharedArrayBuffer(4 * Math.max(1, n)));

/**
 * A histogram builder for `threads` threads (1: the calling thread only). `rows` is the row-order
 * array every build will be given (from sharedRows: shared memory when threads read it).
 */
export async function createHistogramBuilder(data: TrainingBins, threads: number, pool: HistPool, rows: Uint32Array): Promise<HistogramBuilder> {
  if (threads <= 1) return createSerialBuilder(data);
  const ctl = sharedInt32(CONTROL_WORDS);
  const ordered = new Float64Array(new SharedArrayBuffer(16 * Math.max(1, data.n)));
  const jobs = sharedInt32(3 * 2 * data.n);
  const groups = sharedInt32(data.nBins.length >> 2);
  const masks = sharedInt32(data.nBins.length >> 2);
  const bases = new Int32Array(8);
  const channels = Array.from({ length: threads - 1 }, () => new MessageChannel());
  const workers = channels.map((ch, k) => new Worker(workerSource(kernelSource()), {
    eval: true,
    workerData: { ctl, packed: data.packed, n: data.n, offsets: data.offsets, nBins: data.nBins, rows, ordered, jobs, groups, masks, hist: pool.hist, port: ch.port2, index: k + 1, threads },
    transferList: [ch.port2],
  }));
  await Promise.all(workers.map((w) => once(w, 'online')));
  pool.onGrow = () => {
    for (const ch of channels) ch.port1.postMessage(pool.hist);
    ctl[HIST_GEN]++;
  };
  const waitDone = (expected: number) => {
    const since = Date.now();
    for (let seen = Atomics.load(ctl, DONE); seen < expected; seen = Atomics.load(ctl, DONE)) {
      Atomics.wait(ctl, DONE, seen, 1000);
      if (Date.now() - since > STALL_MS) throw new ChurnError('CHURN_ERR_INTERNAL', 'a GBDT histogram thread stopped answering');
    }
  };
  return {
    ordered,
    build(jobList, nJobs, buildRows, gh, groupList, maskList, nGroups, p) {
      if (buildRows !== rows) throw new ChurnError('CHURN_ERR_INTERNAL', 'the threaded histogram builder was given rows it does not share');
      for (let j = 0; j < nJobs; j++) gatherGradients(rows, jobList[3 * j], jobList[3 * j + 1], gh, ordered);
      jobs.set(jobList.subarray(0, 3 * nJobs));
      groups.set(groupList.subarray(0, nGroups));
      masks.set(maskList.subarray(0, nGroups));
      ctl[JOBS] = nJobs; ctl[GROUPS] = nGroups; ctl[SLOT] = p.slotSize;
      const expected = Atomics.load(ctl, DONE) + workers.length;
      Atomics.add(ctl, GEN, 1);
      Atomics.notify(ctl, GEN);
      const to = Math.floor(nGroups / threads);
      for (let j = 0; j < nJobs; j++) {
        accumulateHistogram(data.packed, data.n, groups, masks, 0, to, data.offsets, data.nBins, rows, jobs[3 * j], jobs[3 * j + 1], ordered, p.hist, jobs[3 * j + 2] * p.slotSize, bases);
      }
      waitDone(expected);
    },
    async close() {
      ctl[STOP] = 1;
      Atomics.add(ctl, GEN, 1);
      Atomics.notify(ctl, GEN);
      await Promise.all(workers.map((w) => once(w, 'exit')));
      for (const ch of channels) ch.port1.close();
      pool.onGrow = null;
    },
  };
}

/** Rows for the grower: shared memory when histogram threads read them. */
export function sharedRows(n: number, threads: number): Uint32Array {
  return new Uint32Array(threads > 1 ? new SharedArrayBuffer(4 * Math.max(1, n)) : new ArrayBuffer(4 * Math.max(1, n)));
}
