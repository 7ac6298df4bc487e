import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import * as accountSchemas from '../serving/schemas/accounts.ts';
import * as alertSchemas from '../serving/schemas/alerts.ts';
import * as errorSchemas from '../serving/schemas/errors.ts';
import * as modelSchemas from '../serving/schemas/models.ts';
import * as scoreSchemas from '../serving/schemas/scores.ts';
import * as webhookSchemas from '../serving/schemas/webhooks.ts';
import { day, DAY_MS, storeDay } from './helpers/alerts.ts';
import { insertAccounts, insertSubscriptions, startLightApp, type LightApp } from './helpers/light-app.ts';

const ROOT = path.resolve(new URL('..', import.meta.url).pathname);
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

interface Media { schema?: { $ref?: string }; example?: unknown }
interface Operation {
  operationId?: string; security?: unknown[]; parameters?: { name: string; description?: string; example?: unknown }[];
  requestBody?: { content: Record<string, Media> }; responses: Record<string, { description: string; content?: Record<string, Media> }>;
}
type Doc = { openapi: string; servers?: unknown[]; paths: Record<string, Record<string, Operation>> };

const operations = (doc: Doc) => Object.entries(doc.paths).flatMap(([p, item]) => METHODS.filter((m) => item[m]).map((m) => ({ path: p, method: m, op: item[m] })));

/** Compiles files with the project's TypeScript and compiler options; the diagnostics as text. */
function compile(files: string[]): string[] {
  const { config } = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const program = ts.createProgram(files, { ...options, noEmit: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules/@types')] });
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file ? `${path.basename(d.file.fileName)}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('the OpenAPI document generates a working client', () => {
  let h: LightApp;
  let doc: Doc;
  let tmp: string;
  beforeAll(async () => {
    h = await startLightApp();
    const t0 = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
    await insertAccounts(h.db.pool, [{ id: 'acc_1', name: 'Alpha', segment: 'enterprise', plan: 'enterprise', owner: 'dana', createdAt: day(t0, -400) }]);
    await insertSubscriptions(h.db.pool, [{ id: 's1', account: 'acc_1', plan: 'enterprise', mrr: 4000, billing: 'annual', start: day(t0, -100) }]);
    await storeDay(h.db.pool, DEFAULT_SERVING_CONFIG, day(t0, -7), { acc_1: 80 });
    await storeDay(h.db.pool, DEFAULT_SERVING_CONFIG, t0, { acc_1: 50 });
    doc = (await h.app.inject({ url: '/openapi.json' })).json();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'churn-client-'));
  });
  afterAll(async () => {
    await h?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('is a valid OpenAPI 3.1 document (a maintained validator) with servers', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.servers?.length).toBeGreaterThan(0);
  });

  it('names every operation once, says which are public, and describes every parameter and error with an example each', () => {
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThan(20);
    const ids = ops.map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]+$/.test(id)), JSON.stringify(ids)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path: p, method, op } of ops) {
      const where = `${method.toUpperCase()} ${p}`;
      // the two report routes also open with a signed report link (?token=)
      const secured = p.startsWith('/v1/reports/') ? [{ bearer: [] }, { reportLink: [] }] : [{ bearer: [] }];
      expect(op.security, where).toEqual(p.startsWith('/v1/') ? secured : []);
      for (const param of op.parameters ?? []) {
        expect(param.description, `${where} ${param.name}`).toBeTruthy();
        expect(param.example, `${where} ${param.name}`).not.toBeUndefined();
      }
      for (const media of Object.values(op.requestBody?.content ?? {})) expect(media.example, `${where} body`).not.toBeUndefined();
      expect(Object.keys(op.responses).some((s) => s.startsWith('2')), where).toBe(true);
      for (const [status, response] of Object.entries(op.responses)) {
        expect(response.description, `${where} ${status}`).not.toBe('Default Response');
        for (const media of Object.values(response.content ?? {})) expect(media.example, `${where} ${status}`).not.toBeUndefined();
        // every 4xx and 5xx is the error shape (the readiness probe's 503 is its own answer, by design)
        if (Number(status) >= 400 && !(p === '/readyz' && status === '503')) expect(response.content?.['application/json']?.schema, `${where} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
      }
      if (p.startsWith('/v1/')) for (const status of ['400', '401', '403', '429', '500', '503']) expect(op.responses[status], `${where} ${status}`).toBeDefined();
    }
  });

  it('gives examples that their own schemas accept', () => {
    const modules = { accountSchemas, alertSchemas, errorSchemas, modelSchemas, scoreSchemas, webhookSchemas };
    let checked = 0;
    for (const [mod, exports] of Object.entries(modules)) {
      for (const [name, schema] of Object.entries(exports)) {
        if (!(schema instanceof z.ZodType)) continue;
        const meta = z.globalRegistry.get(schema) as { examples?: unknown[]; example?: unknown } | undefined;
        for (const example of [...(meta?.examples ?? []), ...(meta?.example === undefined ? [] : [meta.example])]) {
          const r = schema.safeParse(example);
          expect(r.success, `${mod}.${name}: ${r.error?.message}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('generates TypeScript with openapi-typescript that compiles with the project\'s compiler, refuses a wrong call, and works against a live server', async () => {
    writeFileSync(path.join(tmp, 'api.d.ts'), astToString(await openapiTS(doc as never)));
    writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ type: 'module' }));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(tmp, 'node_modules'), 'dir');
    writeFileSync(path.join(tmp, 'client.ts'), `import createClient from 'openapi-fetch';
import type { components, paths } from './api.js';

type Summary = components['schemas']['ScoreSummary'];

/** What a CS tool reads: the accounts falling fastest, their context, the totals and the open alerts. */
export async function csView(baseUrl: string, key: string) {
  const client = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${key}\` } });
  const health = await client.GET('/healthz');
  const accounts = await client.GET('/v1/accounts', { params: { query: { sort: 'change_7d', segment: 'enterprise', limit: 10 } } });
  if (!accounts.data) throw new Error(accounts.error?.message ?? 'no data');
  const first: Summary | undefined = accounts.data.accounts[0];
  const change: number | null = first ? first.account.change_7d : null;
  const summary = await client.GET('/v1/accounts/summary', { params: { query: { owner: 'dana' } } });
  const alerts = await client.GET('/v1/alerts', { params: { query: { state: 'open' } } });
  const missing = await client.GET('/v1/accounts/{id}/history', { params: { path: { id: 'acc_missing' } } });
  return {
    health: health.data?.status, ids: accounts.data.accounts.map((a) => a.account_id), owner: first?.account.owner ?? null, change,
    revenue: summary.data?.tiers.map((t) => [t.tier, t.revenue_at_risk] as const) ?? [], alerts: alerts.data?.alerts.length ?? -1,
    missing: [missing.response.status, missing.error?.error] as const,
  };
}
`);
    writeFileSync(path.join(tmp, 'wrong.ts'), `import createClient from 'openapi-fetch';
import type { paths } from './api.js';
const client = createClient<paths>({ baseUrl: 'http://localhost' });
export const wrong = client.GET('/v1/accounts', { params: { query: { sort: 'by_name' } } });
`);
    // one program for both (a second would double the test's time): the client compiles clean, the wrong call does not
    const problems = compile([path.join(tmp, 'client.ts'), path.join(tmp, 'wrong.ts')]);
    expect(problems.filter((p) => !p.startsWith('wrong.ts: '))).toEqual([]);
    expect(problems.join('\n')).toMatch(/by_name/);

    const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const { csView } = await import(pathToFileURL(path.join(tmp, 'client.ts')).href) as { csView: (u: string, k: string) => Promise<Record<string, unknown>> };
    const view = await csView(url, h.readKey);
    expect(view).toEqual({
      health: 'ok', ids: ['acc_1'], owner: 'dana', change: -30,
      revenue: [['healthy', 0], ['at_risk', 4000], ['critical', 0]], alerts: 1,
      missing: [404, 'CHURN_ERR_ACCOUNT_NOT_FOUND'],
    });
  });
});
