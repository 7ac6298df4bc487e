/**
 * Open-loop load at a fixed rate, for bench:serve (run in a process of its own: see `pacedInChild`).
 * Request i is sent at start + i / rate whatever the responses before it did, over keep-alive
 * connections opened as needed, and its latency runs from that scheduled time to the end of its
 * response, so time spent queued anywhere (client, socket, server) counts and a slow spell cannot
 * hide the requests it delays. autocannon's rate mode is not this: it lets each connection send its
 * share of each second back to back from the top of the second (bursts at full speed, then idle),
 * and corrects for coordinated omission with an expected interval of 1 ms. A first phase at the
 * rate (`warmSeconds`, default 1) warms the connections and the server and is not counted.
 *
 * Protocol: the parent sends one `PacedOptions` message; the child sends `{ type: 'measuring' }` when
 * the measured phase begins, then answers with one `PacedResult`.
 */
import http from 'node:http';

export interface PacedOptions {
  base: string;
  /** request paths, used in turn */
  paths: string[];
  headers: Record<string, string>;
  rate: number;
  seconds: number;
  /** seconds at the rate before the measured phase, not counted (default 1) */
  warmSeconds?: number;
}

export interface PacedResult {
  /** requests answered (or failed) per second over the measured phase */
  rps: number;
  p50: number;
  p99: number;
  max: number;
  /** failed requests and answers other than 200 */
  errors: number;
  /** this client's own CPU time (user + system) per request over the measured phase, in ms */
  cpuMs: number;
}

/** `onMeasuring` is called when the warm-up phase ends and the measured phase begins. */
export async function pacedRun(opts: PacedOptions, onMeasuring?: () => void): Promise<PacedResult> {
  const target = new URL(opts.base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;
  const phase = (seconds: number) => new Promise<{ latencies: number[]; errors: number; elapsed: number }>((resolve) => {
    const total = Math.round(opts.rate * seconds);
    const interval = 1000 / opts.rate;
    const latencies: number[] = [];
    let errors = 0;
    let sent = 0;
    let settled = 0;
    const start = performance.now();
    const finish = (due: number, ok: boolean) => {
      if (ok) latencies.push(performance.now() - due);
      else errors++;
      if (++settled === total) resolve({ latencies, errors, elapsed: (performance.now() - start) / 1000 });
    };
    const tick = () => {
      const now = performance.now();
      for (; sent < total && start + sent * interval <= now; sent++) {
        const due = start + sent * interval;
        const path = opts.paths[next++ % opts.paths.length];
        const req = http.get({ host: target.hostname, port: target.port, path, agent, headers: opts.headers }, (res) => {
          res.resume();
          res.on('end', () => finish(due, res.statusCode === 200));
        });
        req.on('error', () => finish(due, false));
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
  await phase(opts.warmSeconds ?? 1);
  onMeasuring?.();
  const cpu0 = process.cpuUsage();
  const { latencies, errors, elapsed } = await phase(opts.seconds);
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] : NaN);
  const sent = latencies.length + errors;
  return { rps: sent / elapsed, p50: pct(0.5), p99: pct(0.99), max: latencies[latencies.length - 1] ?? NaN, errors, cpuMs: (cpu.user + cpu.system) / 1000 / Math.max(1, sent) };
}

if (process.send) {
  process.once('message', (opts: PacedOptions) => {
    void pacedRun(opts, () => process.send!({ type: 'measuring' })).then((r) => {
      process.send!(r, undefined, undefined, () => process.exit(0));
    });
  });
}
