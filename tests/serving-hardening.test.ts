import net from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../core/db.ts';
import { buildApp, type ChurnApp } from '../serving/app.ts';
import { RAW_SECURITY_HEADERS } from '../serving/errors.ts';
import { bearer, startHarness, type ServingHarness } from './serving-fixture.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends raw bytes and returns everything the server wrote until it closed the socket. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: net.Socket = net.connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.on('data', (c: Buffer) => (out += c.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => reject(new Error(`no close; got ${out.slice(0, 200)}`)));
  });
}

function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const [head, body] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

describe('hardening: NUL, disconnects, client errors, logs, caching and abandoned backends', () => {
  let h: ServingHarness;
  let app: ChurnApp;
  let port: number;
  const lines: string[] = [];
  beforeAll(async () => {
    h = await startHarness();
    // the same app with a log we can read, listening on a real socket
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    app = await buildApp({ ...h.deps, log });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });
  const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  it('answers 400 to a NUL character in a body, a feature name or a decoded cursor, never 500', async () => {
    const cursor = Buffer.from(JSON.stringify([0.5, 'acc\u0000x'])).toString('base64url');
    const cases = [
      { method: 'PUT' as const, url: `/v1/models/${h.champion}/aliases/x`, payload: { reason: 'a\u0000b' }, where: 'reason' },
      { method: 'POST' as const, url: '/v1/predict', payload: { instances: [{ ['active\u0000days']: 1 }] }, where: 'instances.0' },
      { method: 'POST' as const, url: '/v1/scores', payload: { account_ids: [h.accountIds[0], 'x\u0000'] }, where: 'account_ids.1' },
      { method: 'GET' as const, url: `/v1/accounts?cursor=${cursor}`, where: 'cursor' },
      { method: 'GET' as const, url: '/v1/accounts?tier=a%00b', where: 'tier' },
    ];
    for (const c of cases) {
      const res = await app.inject({ method: c.method, url: c.url, headers: bearer(h.adminKey), ...(c.payload ? { payload: c.payload } : {}) });
      expect(res.statusCode, `${c.method} ${c.url}: ${res.body}`).toBe(400);
      expect(res.json()).toMatchObject({ error: 'CHURN_ERR_VALIDATION', message: expect.stringContaining(c.where) });
    }
    // the alias did not move
    expect((await h.db.pool.query("SELECT count(*)::int AS n FROM churn.model_aliases WHERE alias = 'x'")).rows[0].n).toBe(0);
  });

  it('finds a NUL escaped anywhere in a JSON body, in any charset form, and takes an escaped backslash before u0000 for text', async () => {
    // the body is walked only when its text holds the escape: a deep one, a key, and the JSON media type with parameters
    const deep = `{"instances":[{"a":1},{"b":[1,{"c":"x\\u0000"}]}]}`;
    const key = `{"instances":[{"f\\u0000":1}]}`;
    for (const [payload, type, where] of [[deep, 'application/json', 'instances.1'], [key, 'application/json; charset=utf-8', 'instances.0']]) {
      const res = await app.inject({ method: 'POST', url: '/v1/predict', headers: { ...bearer(h.adminKey), 'content-type': type }, payload });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().message).toContain(where);
      expect(res.json().message).toContain('NUL');
    }
    // "\\u0000" in JSON is a backslash followed by the text u0000: no NUL, so no NUL error (the model's contract refuses the name)
    const res = await app.inject({ method: 'POST', url: '/v1/predict', headers: { ...bearer(h.adminKey), 'content-type': 'application/json' }, payload: `{"instances":[{"x\\\\u0000":1}]}` });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().message).not.toContain('NUL');
    // malformed and empty JSON keep Fastify's own answers
    const bad = await app.inject({ method: 'POST', url: '/v1/predict', headers: { ...bearer(h.adminKey), 'content-type': 'application/json' }, payload: '{"instances":' });
    expect(bad.statusCode).toBe(400);
    const empty = await app.inject({ method: 'POST', url: '/v1/predict', headers: { ...bearer(h.adminKey), 'content-type': 'application/json' }, payload: '' });
    expect(empty.statusCode).toBe(400);
  });

  it('logs a client that leaves mid-body at info, not as a database outage at error', async () => {
    lines.length = 0;
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write(`POST /v1/scores HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.readKey}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"account_ids":["`);
    await sleep(150);
    s.resetAndDestroy();
    await sleep(300);
    const entries = logged();
    expect(entries.filter((e) => (e.level as number) >= 50), JSON.stringify(entries)).toEqual([]);
    expect(JSON.stringify(entries)).not.toContain('CHURN_ERR_DATABASE');
    expect(entries.some((e) => e.msg === 'client closed the connection before the answer')).toBe(true);
  });

  it('logs a refused POST whose client waits for the answer as rejected, not as a client that left', async () => {
    // Node marks a request destroyed once its body has been read: that alone does not mean the client left
    lines.length = 0;
    const res = await fetch(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', headers: { ...bearer(h.readKey), 'content-type': 'application/json' }, body: '{"instances":[{"not_a_feature":1}]}' });
    expect(res.status).toBe(400);
    await res.text();
    const entries = logged();
    expect(entries.some((e) => e.msg === 'client closed the connection before the answer'), JSON.stringify(entries)).toBe(false);
    expect(entries.find((e) => e.msg === 'request rejected')).toMatchObject({ code: 'CHURN_ERR_VALIDATION', status: 400 });
  });

  it('answers a request with headers over the limit, or malformed, with the error shape, a request id, security headers and Connection: close', async () => {
    const healthz = await app.inject({ url: '/healthz' });
    const security = Object.keys(RAW_SECURITY_HEADERS).filter((k) => k !== 'cache-control');
    for (const k of security) expect(healthz.headers, k).toHaveProperty(k); // the same set as every other answer
    for (const [bytes, status] of [
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400],
    ] as const) {
      const res = parseRaw(await raw(port, bytes));
      expect(res.status).toBe(status);
      expect(res.headers.connection).toBe('close');
      const body = JSON.parse(res.body);
      expect(body).toEqual({ error: 'CHURN_ERR_BAD_REQUEST', message: expect.any(String), request_id: expect.any(String) });
      expect(res.headers['x-request-id']).toBe(body.request_id);
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
      for (const k of security) expect(res.headers, k).toHaveProperty(k);
    }
  });

  it('logs a rejected request with one msg key, and never a secret sent in the query string', async () => {
    lines.length = 0;
    await app.inject({ url: '/v1/accounts?limit=0&api_key=chl_deadbeef_supersecretvalue&token=t0ken', headers: bearer(h.readKey) });
    await app.inject({ url: '/v1/models?api_key=chl_deadbeef_supersecretvalue' });
    const text = lines.join('');
    expect(text).not.toContain('supersecretvalue');
    expect(text).not.toContain('t0ken');
    expect(text).toContain('api_key=[REDACTED]');
    const rejected = lines.filter((l) => l.includes('request rejected'));
    expect(rejected.length).toBeGreaterThan(0);
    for (const l of rejected) expect(l.match(/"msg":/g)).toHaveLength(1);
    expect(JSON.parse(rejected[0])).toMatchObject({ msg: 'request rejected', code: 'CHURN_ERR_VALIDATION', status: 400, reason: expect.stringContaining('limit') });
  });

  it('sends Cache-Control: no-store with every /v1 answer, errors included', async () => {
    for (const [url, headers] of [[`/v1/accounts/${h.accountIds[0]}/score`, bearer(h.readKey)], ['/v1/models', {}], ['/v1/nothing', bearer(h.readKey)]] as const) {
      expect((await app.inject({ url, headers })).headers['cache-control'], url).toBe('no-store');
    }
  });

  it('ends the backend of a client that went away within seconds (client_connection_check_interval)', async () => {
    const pool = createPool(h.db.url, { max: 1, applicationName: 'churnlens abandoned' });
    try {
      const client = await pool.connect();
      client.on('error', () => undefined); // its connection is about to be cut
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const running = client.query('SELECT pg_sleep(30)').catch(() => undefined);
      await sleep(200);
      (client as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy(); // the client is killed
      const t0 = performance.now();
      let alive = true;
      while (alive && performance.now() - t0 < 8000) {
        alive = (await h.db.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 1;
        if (alive) await sleep(200);
      }
      expect(alive).toBe(false);
      expect(performance.now() - t0).toBeLessThan(5000);
      await running;
      client.release(true);
    } finally {
      await pool.end().catch(() => undefined);
    }
  });
});
