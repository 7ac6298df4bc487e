import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { silentLogger } from '../core/log.ts';
import { deliverDue, syncWebhooks } from '../jobs/alerts/deliver.ts';
import { describeDeliveryError, displayUrl } from '../jobs/alerts/webhooks.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { day, DAY_MS, storeDay } from './helpers/alerts.ts';
import { insertAccounts, startLightApp, type LightApp } from './helpers/light-app.ts';
import { bearer } from './serving-fixture.ts';

const config = DEFAULT_SERVING_CONFIG;
const BIN = new URL('../bin/churn.js', import.meta.url).pathname;
const DOCS = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');

/** The code block after a marker of docs/operations.md, as written there. */
function documented(marker: string): string {
  const after = DOCS.split(`<!-- ${marker} -->`)[1];
  const block = /```\w+\n([\s\S]*?)```/.exec(after ?? '');
  if (!block) throw new Error(`docs/operations.md has no code block after <!-- ${marker} -->`);
  return block[1];
}

interface Hit { body: Buffer; headers: http.IncomingHttpHeaders }

/** A webhook receiver that keeps every request's raw body and headers and answers `status`. */
async function receiver(status = 204) {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const T0 = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);

describe('alerts people can work with, and webhooks managed through the API and the CLI', () => {
  let h: LightApp;
  let down: Awaited<ReturnType<typeof receiver>>;
  let up: Awaited<ReturnType<typeof receiver>>;
  let tmp: string;
  beforeAll(async () => {
    h = await startLightApp();
    down = await receiver(503);
    up = await receiver(204);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'churn-webhooks-'));
    await insertAccounts(h.db.pool, ['acc_1', 'acc_2', 'acc_3', 'acc_4'].map((id, i) => ({ id, name: `Account ${i + 1}`, segment: 'smb', plan: 'starter', createdAt: day(T0, -400) })));
  });
  afterAll(async () => {
    await h?.close();
    await down?.close();
    await up?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const api = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, key = h.adminKey) => h.app.inject({ method, url, headers: bearer(key), ...(payload === undefined ? {} : { payload: payload as object }) });

  it('adds a subscription with a generated secret shown once, refuses a second on the same URL (409) and lists it without the secret', async () => {
    const res = await api('POST', '/v1/webhooks', { url: down.url, description: 'the CS platform' });
    expect(res.statusCode, res.body).toBe(201);
    const { webhook, secret } = res.json();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{32}$/);
    expect(webhook).toMatchObject({ url: down.url, active: true, source: 'api', description: 'the CS platform', pending: 0, dead: 0 });
    const again = await api('POST', '/v1/webhooks', { url: down.url, secret: 'a-secret-of-enough-length' });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toBe('CHURN_ERR_WEBHOOK_EXISTS');
    const listed = await api('GET', '/v1/webhooks');
    expect(listed.json().webhooks.map((w: { id: number }) => w.id)).toEqual([webhook.id]);
    expect(listed.body).not.toContain(secret);
    // admin only; and a bad body is a 400
    expect((await api('GET', '/v1/webhooks', undefined, h.readKey)).statusCode).toBe(403);
    expect((await api('POST', '/v1/webhooks', { url: 'ftp://x.example.com' })).statusCode).toBe(400);
    expect((await api('POST', '/v1/webhooks', { url: up.url, secret: 'short' })).statusCode).toBe(400);
  });

  it('lists alerts newest first, filtered by account, kind and state, across cursor pages', async () => {
    // day 1 -> day 2 -> day 3: tier drops, a score drop within a tier, and a small move that raises nothing
    await storeDay(h.db.pool, config, day(T0, -3), { acc_1: 80, acc_2: 69, acc_3: 80, acc_4: 60 });
    await storeDay(h.db.pool, config, day(T0, -2), { acc_1: 50, acc_2: 50, acc_3: 30, acc_4: 58 });
    await storeDay(h.db.pool, config, day(T0, -1), { acc_1: 20 });
    const stored = await query<{ alert_id: number; account_id: string; kind: string }>(h.db.pool, 'SELECT alert_id, account_id, kind FROM churn.alerts ORDER BY alert_id DESC');
    expect(new Set(stored.map((a) => a.kind))).toEqual(new Set(['tier_drop', 'score_drop']));
    const pages: { alert_id: number; account_id: string; account_name: string; kind: string; state: string }[] = [];
    let cursor: string | null = null;
    do {
      const res = await api('GET', `/v1/alerts?limit=1${cursor ? `&cursor=${cursor}` : ''}`, undefined, h.readKey);
      expect(res.statusCode, res.body).toBe(200);
      pages.push(...res.json().alerts);
      cursor = res.json().next_cursor;
    } while (cursor);
    expect(pages.map((a) => a.alert_id)).toEqual(stored.map((a) => a.alert_id));
    expect(pages.every((a) => a.state === 'open' && a.account_name === `Account ${a.account_id.slice(4)}`)).toBe(true);
    const ofAccount = (await api('GET', '/v1/alerts?account_id=acc_1', undefined, h.readKey)).json().alerts;
    expect(ofAccount.map((a: { alert_id: number }) => a.alert_id)).toEqual(stored.filter((a) => a.account_id === 'acc_1').map((a) => a.alert_id));
    const drops = (await api('GET', '/v1/alerts?type=score_drop', undefined, h.readKey)).json().alerts;
    expect(drops.map((a: { alert_id: number }) => a.alert_id)).toEqual(stored.filter((a) => a.kind === 'score_drop').map((a) => a.alert_id));
    const [first] = ofAccount;
    expect(first).toMatchObject({ from: { health_score: 50, tier: 'at_risk' }, to: { health_score: 20, tier: 'critical' } });
    expect(Date.parse(first.to.as_of)).toBe(day(T0, -1).getTime());
  });

  it('acknowledges (for good, once) and snoozes (until a time; open again after), refusing a snooze of an acknowledged alert', async () => {
    const [a, b, c] = (await api('GET', '/v1/alerts', undefined, h.readKey)).json().alerts as { alert_id: number }[];
    const acked = await api('POST', `/v1/alerts/${a.alert_id}/ack`, undefined, h.readKey);
    expect(acked.statusCode, acked.body).toBe(200);
    expect(acked.json()).toMatchObject({ alert_id: a.alert_id, state: 'acknowledged', acknowledged_by: 'reader' });
    const at = acked.json().acknowledged_at;
    expect((await api('POST', `/v1/alerts/${a.alert_id}/ack`)).json()).toMatchObject({ acknowledged_at: at, acknowledged_by: 'reader' }); // first one kept
    const until = new Date(Date.now() + 2 * DAY_MS).toISOString();
    const snoozed = await api('POST', `/v1/alerts/${b.alert_id}/snooze`, { until }, h.readKey);
    expect(snoozed.json()).toMatchObject({ state: 'snoozed', snoozed_until: until, snoozed_by: 'reader' });
    const refused = await api('POST', `/v1/alerts/${a.alert_id}/snooze`, { until }, h.readKey);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toBe('CHURN_ERR_ALERT_STATE');
    for (const body of [{ until: new Date(Date.now() - 60_000).toISOString() }, { until: new Date(Date.now() + 400 * DAY_MS).toISOString() }, { until: '2026-13-01' }, {}]) {
      expect((await api('POST', `/v1/alerts/${c.alert_id}/snooze`, body, h.readKey)).statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await api('POST', '/v1/alerts/999999/ack', undefined, h.readKey)).statusCode).toBe(404);
    const state = async (s: string) => (await api('GET', `/v1/alerts?state=${s}`, undefined, h.readKey)).json().alerts.map((x: { alert_id: number }) => x.alert_id);
    expect(await state('acknowledged')).toEqual([a.alert_id]);
    expect(await state('snoozed')).toEqual([b.alert_id]);
    expect(await state('open')).not.toContain(a.alert_id);
    expect(await state('open')).not.toContain(b.alert_id);
    // the snooze runs out: open again
    await query(h.db.pool, "UPDATE churn.alerts SET snoozed_until = now() - interval '1 second' WHERE alert_id = $1", [b.alert_id]);
    expect(await state('open')).toContain(b.alert_id);
  });

  it('sends a signed sample on a test delivery that the documented Node and Python recipes verify', async () => {
    const created = (await api('POST', '/v1/webhooks', { url: up.url, secret: 'whsec_documented_recipe_check' })).json();
    const res = await api('POST', `/v1/webhooks/${created.webhook.id}/test`);
    expect(res.statusCode, res.body).toBe(200);
    const sent = res.json();
    expect(sent).toMatchObject({ id: created.webhook.id, url: up.url, delivered: true, status: 204, error: null });
    const hit = up.hits.at(-1)!;
    expect(hit.body.toString('utf8')).toBe(sent.body);
    expect(hit.headers['x-churn-signature']).toBe(sent.signature);
    expect(hit.headers['x-churn-delivery']).toBe(sent.delivery);
    expect(JSON.parse(sent.body)).toMatchObject({ type: 'churn.test', test: true, kind: 'tier_drop' });
    // the Node recipe, as written in docs/operations.md
    const file = path.join(tmp, 'verify.mjs');
    writeFileSync(file, documented('verify-signature-node'));
    const { verifyChurnSignature } = await import(pathToFileURL(file).href) as { verifyChurnSignature: (s: string, b: Buffer | string, h: string) => boolean };
    const header = String(hit.headers['x-churn-signature']);
    expect(verifyChurnSignature(created.secret, hit.body, header)).toBe(true);
    expect(verifyChurnSignature(created.secret, hit.body.toString('utf8'), header)).toBe(true);
    expect(verifyChurnSignature('whsec_another_secret_altogether', hit.body, header)).toBe(false);
    expect(verifyChurnSignature(created.secret, Buffer.from(sent.body.replace('tier_drop', 'score_drop')), header)).toBe(false);
    const stale = header.replace(/^t=(\d+)/, (_, t: string) => `t=${Number(t) - 600}`);
    expect(verifyChurnSignature(created.secret, hit.body, stale)).toBe(false);
    // the Python recipe, as written there
    const py = `${documented('verify-signature-python')}\nimport sys\nbody = sys.stdin.buffer.read()\nprint(verify_churn_signature(sys.argv[1], body, sys.argv[2]), verify_churn_signature(sys.argv[1], body + b" ", sys.argv[2]))\n`;
    const run = spawnSync('python3', ['-c', py, created.secret, header], { input: hit.body, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('True False');
  });

  it('reports a receiver that refuses the test delivery, and shows deliveries per subscription', async () => {
    const [hook] = (await api('GET', '/v1/webhooks')).json().webhooks.filter((w: { url: string }) => w.url === down.url);
    const res = await api('POST', `/v1/webhooks/${hook.id}/test`);
    expect(res.json()).toMatchObject({ delivered: false, status: 503, error: 'receiver answered 503' });
    // the alerts raised above were queued for this subscription (added before them), the other has none
    const deliveries = (await api('GET', `/v1/webhooks/${hook.id}/deliveries`)).json().deliveries;
    const [{ n }] = await query<{ n: number }>(h.db.pool, 'SELECT count(*)::int AS n FROM churn.alerts');
    expect(deliveries).toHaveLength(n);
    expect(deliveries.every((d: { state: string }) => d.state === 'pending')).toBe(true);
    expect((await api('GET', '/v1/webhooks')).json().webhooks.find((w: { id: number }) => w.id === hook.id).pending).toBe(n);
  });

  it('removes a subscription: its undelivered deliveries are discarded and nothing more is sent to it; its URL can be added again', async () => {
    const [hook] = (await api('GET', '/v1/webhooks')).json().webhooks.filter((w: { url: string }) => w.url === down.url);
    const removed = await api('DELETE', `/v1/webhooks/${hook.id}`);
    expect(removed.statusCode, removed.body).toBe(200);
    expect(removed.json()).toMatchObject({ webhook: { id: hook.id, active: false }, discarded: hook.pending });
    expect((await api('DELETE', `/v1/webhooks/${hook.id}`)).statusCode).toBe(404);
    // a new alert is queued for the active subscription only, and a delivery round sends nothing to the removed one
    const before = down.hits.length;
    await storeDay(h.db.pool, config, T0, { acc_4: 10 });
    await deliverDue(h.db.pool, { ...config.alerts, timeout_ms: 2000 }, silentLogger);
    expect(down.hits.length).toBe(before);
    expect(up.hits.at(-1)!.body.toString()).toContain('"churn.alert"');
    expect((await api('GET', '/v1/webhooks')).json().webhooks.map((w: { url: string }) => w.url)).toEqual([up.url]);
    expect((await api('GET', '/v1/webhooks?all=true')).json().webhooks).toHaveLength(2);
    const again = await api('POST', '/v1/webhooks', { url: down.url });
    expect(again.statusCode).toBe(201);
    expect(again.json().webhook.id).not.toBe(hook.id);
    await api('DELETE', `/v1/webhooks/${again.json().webhook.id}`);
  });

  it('keeps syncing the configuration file\'s webhooks: listed as source config, and back at the next start after a removal', async () => {
    const url = `${up.url}/from-config`;
    await syncWebhooks(h.db.pool, [{ url, secret: 'config-secret-0123456789' }]);
    const listed = (await api('GET', '/v1/webhooks')).json().webhooks.find((w: { url: string }) => w.url === url);
    expect(listed).toMatchObject({ source: 'config', active: true });
    expect((await api('POST', '/v1/webhooks', { url })).statusCode).toBe(409);
    await syncWebhooks(h.db.pool, [{ url, secret: 'config-secret-changed-0123' }]); // a new secret in the file: the same subscription
    expect((await api('GET', '/v1/webhooks')).json().webhooks.filter((w: { url: string }) => w.url === url).map((w: { id: number }) => w.id)).toEqual([listed.id]);
    await api('DELETE', `/v1/webhooks/${listed.id}`);
    await syncWebhooks(h.db.pool, [{ url, secret: 'config-secret-changed-0123' }]);
    const back = (await api('GET', '/v1/webhooks')).json().webhooks.find((w: { url: string }) => w.url === url);
    expect(back).toMatchObject({ source: 'config', active: true });
    expect(back.id).not.toBe(listed.id);
    await api('DELETE', `/v1/webhooks/${back.id}`);
  });

  it('refuses a configured webhook whose URL is a subscription made through the API, and leaves that subscription and its secret alone', async () => {
    const url = `${up.url}/from-api`;
    const made = (await api('POST', '/v1/webhooks', { url })).json().webhook;
    const secretOf = async (id: number) => (await query<{ secret: string; source: string }>(h.db.pool, 'SELECT secret, source FROM churn.webhook_subscriptions WHERE subscription_id = $1', [id]))[0];
    const before = await secretOf(made.id);
    // (it took the subscription over: source config and the file's secret, so the receiver's signature check failed)
    await expect(syncWebhooks(h.db.pool, [{ url, secret: 'config-secret-0123456789' }])).rejects.toMatchObject({
      code: 'CHURN_ERR_CONFIG', message: expect.stringContaining(`webhook ${url} is also subscription ${made.id}, made through the API`),
    });
    expect(await secretOf(made.id)).toEqual(before);
    expect(before.source).toBe('api');
    await api('DELETE', `/v1/webhooks/${made.id}`);
  });

  it('does the same from the command line: churn webhooks add, list, test, deliveries and remove', async () => {
    const env = { ...process.env, DATABASE_URL: h.db.url, CHURN_LOG_LEVEL: 'warn', CHURN_API_KEYS: '' };
    // not spawnSync: the receivers live in this process and must answer meanwhile
    const churn = (...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'webhooks', ...args], { env, timeout: 60_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    const url = `${up.url}/cli`;
    const added = await churn('add', url, '--description', 'from the CLI');
    expect(added.status, added.stderr).toBe(0);
    const secret = /secret: (whsec_\S+)/.exec(added.stdout)?.[1];
    expect(secret).toBeDefined();
    const id = /added webhook (\d+)/.exec(added.stdout)![1];
    const list = await churn('list');
    expect(list.stdout).toContain(url);
    expect(list.stdout).not.toContain(secret);
    const tested = await churn('test', id);
    expect(tested.status, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/delivered \(204\)/);
    expect(tested.stdout).toContain(String(up.hits.at(-1)!.headers['x-churn-signature']));
    const failing = await churn('test', down.url);
    expect(failing.status).toBe(1);
    expect(failing.stderr).toMatch(/^CHURN_ERR_NOT_FOUND: /m); // removed above
    expect((await churn('deliveries', id, '--json')).status).toBe(0);
    const removed = await churn('remove', url);
    expect(removed.status, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(`removed webhook ${id}`);
    // a password in a receiver's URL stays out of the terminal (the API, for admins, returns the URL whole)
    const withAuth = up.url.replace('http://', 'http://hooks:s3cret-pass@');
    const addedAuth = await churn('add', withAuth);
    expect(addedAuth.stdout).toContain(withAuth.replace('s3cret-pass', '***'));
    const listed = await churn('list');
    expect(listed.stdout).toContain('hooks:***@');
    expect(`${addedAuth.stdout}${listed.stdout}`).not.toContain('s3cret-pass');
    expect((await api('GET', '/v1/webhooks')).json().webhooks.map((w: { url: string }) => w.url)).toContain(withAuth);
    expect((await churn('remove', withAuth)).stdout).not.toContain('s3cret-pass');
  });

  it('says why a receiver could not be reached, not fetch\'s bare "fetch failed"', async () => {
    // a port nothing listens on, a host that does not exist, and a port fetch never uses (1)
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const cases: [string, RegExp][] = [
      [`http://127.0.0.1:${port}/hook`, new RegExp(`^fetch failed: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`)],
      ['http://churn-receiver.invalid/hook', /^fetch failed: getaddrinfo (ENOTFOUND|EAI_AGAIN) churn-receiver\.invalid$/],
      ['http://127.0.0.1:1/hook', /^fetch failed: bad port$/],
    ];
    for (const [url, error] of cases) {
      const created = await api('POST', '/v1/webhooks', { url });
      expect(created.statusCode, created.body).toBe(201);
      const res = await api('POST', `/v1/webhooks/${created.json().webhook.id}/test`);
      expect(res.json().delivered, url).toBe(false);
      expect(res.json().error, url).toMatch(error);
      expect((await api('DELETE', `/v1/webhooks/${created.json().webhook.id}`)).statusCode).toBe(200);
    }
  });

  it('words a receiver that does not answer in time by the timeout', async () => {
    const silent = http.createServer(() => undefined); // takes the request, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const err = await fetch(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(100) }).then(() => null, (e: unknown) => e);
    silent.closeAllConnections();
    silent.close();
    expect(describeDeliveryError(err, 100)).toBe('no answer within 100 ms');
    expect(describeDeliveryError(new Error('receiver answered 503'), 100)).toBe('receiver answered 503');
    // what delivery logs show of a receiver's URL
    expect(displayUrl('https://hooks:pw@example.com/in?x=1')).toBe('https://hooks:***@example.com/in?x=1');
    expect(displayUrl('https://example.com/in')).toBe('https://example.com/in');
    expect(displayUrl('https://receiver.example')).toBe('https://receiver.example');
    // tokens receivers put in the path (Slack, Discord) and in the query
    expect(displayUrl('https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/x7Rk2mQpL9vW3zN8bY4cD1fH')).toBe('https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/***');
    expect(displayUrl('https://discord.com/api/webhooks/112233445566778899/Ab3_cD4-eF5gH6iJ7kL8mN9oP0qR1sT2')).toBe('https://discord.com/api/webhooks/112233445566778899/***');
    expect(displayUrl('https://crm.example/in?token=s3cr3t&team=cs')).toBe('https://crm.example/in?token=[REDACTED]&team=cs');
    expect(displayUrl('https://hooks:pw@crm.example/churn-alerts/a1b2c3d4e5f6a7b8c9d0?api_key=k')).toBe('https://hooks:***@crm.example/churn-alerts/***?api_key=[REDACTED]');
  });
});
