/**
 * The report as a reader gets it: a real server, the signed link opened by headless Chromium with no
 * header, then printed to an A4 PDF. Checks: every chart drawn, no console error, no other request,
 * at most 4 printed pages with the executive summary alone on page 1, no SVG text outside its chart
 * or over another label, text contrast (WCAG AA), and the headline equal to the JSON twin's figures.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReportData, type ReportData } from '../jobs/report/data.ts';
import { createReportLink, signReportToken } from '../jobs/report/link.ts';
import { renderReportHtml } from '../jobs/report/render.ts';
import type { RealisedPerformance } from '../jobs/monitor/monitor.ts';
import { contrastRatio } from '../jobs/report/svg.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { fixedReports, startReportApp } from './report-app.ts';
import { reportInputs } from './report-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
/** A4 at 96 CSS px per inch, less the report's @page margins (11 mm top and bottom, 12 mm left and right). */
const MM = 96 / 25.4;
const PRINT_WIDTH = Math.floor((210 - 24) * MM);
const PRINT_HEIGHT = Math.floor((297 - 22) * MM);

/** Twelve months of stored scores, the last two pending: the longest "since deployment" the report shows. */
const REALISED: RealisedPerformance = {
  asOf: '2026-11-23T00:00:00.000Z', horizonDays: 30, dataEnd: '2026-11-22T00:00:00.000Z', minTenureDays: 14,
  months: Array.from({ length: 12 }, (_, k) => ({
    month: `2026-${String(k + 1).padStart(2, '0')}`, scored: 1200, labelled: k > 9 ? 0 : 1180, pending: k > 9 ? 1200 : 0, excluded: k > 9 ? 0 : 20,
    status: k > 9 ? 'pending' as const : 'realised' as const, churnRate: k > 9 ? null : 0.031, meanPredicted: k > 9 ? null : 0.029,
    auc: k > 9 ? null : 0.78, lift10: k > 9 ? null : 2.4, modelVersions: [6, 7],
  })),
};

/** Pages of a PDF: the page objects, and the page tree's count (they must agree). */
function pdfPages(pdf: Buffer): { objects: number; count: number } {
  let text = pdf.toString('latin1');
  // object streams (PDF 1.5) would hide page objects: inflate every stream and search those too
  for (const m of text.matchAll(/stream\r?\n/g)) {
    try {
      text += inflateSync(pdf.subarray(m.index! + m[0].length)).toString('latin1');
    } catch {
      // not a deflated stream (or its end is where the next object starts): nothing to add
    }
  }
  const objects = (text.match(/\/Type\s*\/Page(?![a-zA-Z])/g) ?? []).length;
  const counts = [...text.matchAll(/\/Type\s*\/Pages\b[^>]*?\/Count\s+(\d+)|\/Count\s+(\d+)[^>]*?\/Type\s*\/Pages\b/g)].map((m) => Number(m[1] ?? m[2]));
  return { objects, count: Math.max(0, ...counts) };
}

describe('report in headless Chromium, through a signed link', () => {
  let browser: BrowserContext;
  let dir: string;
  let db: TestDatabase;
  let server: Awaited<ReturnType<typeof startReportApp>>;
  let base: string;
  let data: ReportData;
  let link: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the report browser test`);
    }
    dir = mkdtempSync(join(tmpdir(), 'churn-report-'));
    // the catalogue's 64 features, 12 backtest months, drift, revenue and pending outcomes: a full-size report
    data = buildReportData(reportInputs({ shift: 0.4, wide: true }));
    const json = { ...data, realised: REALISED };
    db = await createTestDatabase();
    server = await startReportApp(db.pool, fixedReports(7, renderReportHtml(data, REALISED), JSON.parse(JSON.stringify(json))));
    base = await server.app.listen({ host: '127.0.0.1', port: 0 });
    link = (await createReportLink(db.pool, { target: 'latest', now: new Date(), baseUrl: base })).url;
    // a fresh profile directory per run (playwright passes it to Chromium as --user-data-dir)
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(url: string): Promise<{ page: Page; status: number | undefined; problems: string[]; requests: string[] }> {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (msg) => {
      if (msg.location().url.endsWith('/favicon.ico')) return; // the browser's own favicon probe (404): not the report's doing
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
    // (the browser's own favicon probe is not the page's doing)
    page.on('request', (req) => {
      if (!req.url().endsWith('/favicon.ico')) requests.push(req.url());
    });
    const res = await page.goto(url, { waitUntil: 'load' });
    return { page, status: res?.status(), problems, requests };
  }

  it('opens from the link with no header and renders every chart, with no console errors and no other request', async () => {
    const { page, status, problems, requests } = await open(link);
    expect(status).toBe(200);
    const charts = await page.$$eval('svg[data-chart]', (svgs) => svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      return { id: svg.getAttribute('data-chart'), width: box.width, height: box.height, drawn: svg.querySelectorAll('path, rect, circle').length, title: svg.querySelector('title')?.textContent ?? '' };
    }));
    expect(charts.map((c) => c.id).sort()).toEqual(['backtest', 'confusion', 'drift', 'gains', 'importance', 'lift', 'reliability', 'roc', 'tiers']);
    for (const c of charts) {
      expect(c.width, `${c.id} width`).toBeGreaterThan(100);
      expect(c.height, `${c.id} height`).toBeGreaterThan(100);
      expect(c.drawn, `${c.id} drawn marks`).toBeGreaterThan(0);
      expect(c.title, `${c.id} title`).not.toBe('');
    }
    const shot = await page.screenshot({ fullPage: true });
    expect(shot.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    if (process.env.CHURN_REPORT_SCREENSHOT) writeFileSync(process.env.CHURN_REPORT_SCREENSHOT, shot);
    expect(problems).toEqual([]);
    expect(requests).toEqual([link]);
    await page.close();
  });

  it('does not open from an expired or a forged link', async () => {
    const expired = await createReportLink(db.pool, { target: 'latest', now: new Date(Date.now() - 8 * 86_400_000), days: 7, baseUrl: base });
    const forged = `${base}/v1/reports/latest?token=${signReportToken(Buffer.alloc(32, 1), 'latest', new Date(Date.now() + 86_400_000))}`;
    for (const [url, code] of [[expired.url, 'CHURN_ERR_LINK_EXPIRED'], [forged, 'CHURN_ERR_LINK_INVALID']]) {
      const page = await browser.newPage();
      const res = await page.goto(url);
      expect(res?.status(), code).toBe(401);
      expect(JSON.parse(await page.innerText('body'))).toMatchObject({ error: code });
      expect(await page.$('svg[data-chart]')).toBeNull();
      await page.close();
    }
  });

  it('prints on at most 4 A4 pages with the executive summary alone on page 1', async () => {
    const { page } = await open(link);
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    writeFileSync(join(dir, 'report.pdf'), pdf);
    const pages = pdfPages(pdf);
    expect(pages.objects).toBe(pages.count);
    expect(pages.count).toBeGreaterThanOrEqual(2);
    expect(pages.count).toBeLessThanOrEqual(4);

    // the print layout at the A4 content width: the summary ends within the first page, and the page breaks after it
    await page.setViewportSize({ width: PRINT_WIDTH, height: PRINT_HEIGHT });
    await page.emulateMedia({ media: 'print' });
    const layout = await page.evaluate(() => {
      const summary = document.querySelector('#summary')!;
      const style = getComputedStyle(summary);
      const box = summary.getBoundingClientRect();
      return { top: box.top + scrollY, bottom: box.bottom + scrollY, breakAfter: style.breakAfter, h2: [...summary.querySelectorAll('h2')].map((h) => h.textContent) };
    });
    expect(layout.top).toBeLessThan(5);
    expect(layout.bottom).toBeLessThanOrEqual(PRINT_HEIGHT);
    expect(layout.breakAfter).toBe('page');
    expect(layout.h2).toEqual(['Churners caught', 'Revenue at risk', 'What changed since the last model', 'What to do']);
    await page.close();
  });

  it('keeps every chart text inside its chart and clear of the other labels, on screen and in print', async () => {
    const { page } = await open(link);
    for (const media of ['screen', 'print'] as const) {
      await page.emulateMedia({ media });
      const problems = await page.$$eval('svg[data-chart]', (svgs) => svgs.flatMap((svg) => {
        const id = svg.getAttribute('data-chart');
        const [, , width, height] = svg.getAttribute('viewBox')!.split(' ').map(Number);
        // each text's box in the chart's own units (getBoundingClientRect applies rotations; the viewBox scale is undone)
        const frame = svg.getBoundingClientRect();
        const k = width / frame.width;
        const boxes = [...svg.querySelectorAll('text')].map((t) => {
          const r = t.getBoundingClientRect();
          return { text: t.textContent, box: { x: (r.left - frame.left) * k, y: (r.top - frame.top) * k, width: r.width * k, height: r.height * k } };
        });
        const out: string[] = [];
        for (const { text, box } of boxes) {
          if (box.x < -0.5 || box.y < -0.5 || box.x + box.width > width + 0.5 || box.y + box.height > height + 0.5) {
            out.push(`${id}: "${text}" at ${box.x.toFixed(1)},${box.y.toFixed(1)} ${box.width.toFixed(1)}x${box.height.toFixed(1)} outside 0,0 ${width}x${height}`);
          }
        }
        // labels (ticks, legend, titles) must not overlap one another (1 unit of slack)
        for (let i = 0; i < boxes.length; i++) {
          for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i].box;
            const b = boxes[j].box;
            const overlap = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x) > 1 && Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y) > 1;
            if (overlap) out.push(`${id}: "${boxes[i].text}" overlaps "${boxes[j].text}"`);
          }
        }
        return out;
      }));
      expect(problems, media).toEqual([]);
    }
    await page.close();
  });

  it('passes WCAG AA contrast (4.5:1) for every text, HTML and SVG', async () => {
    const { page } = await open(link);
    const pairs = await page.evaluate(() => {
      const rgb = (c: string) => {
        const m = /rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)/.exec(c);
        return m ? { hex: `#${[m[1], m[2], m[3]].map((v) => Math.round(Number(v)).toString(16).padStart(2, '0')).join('')}`, alpha: m[4] === undefined ? 1 : Number(m[4]) } : null;
      };
      const background = (el: Element | null): string => {
        for (let e = el; e; e = e.parentElement) {
          const c = rgb(getComputedStyle(e).backgroundColor);
          if (c && c.alpha > 0) return c.hex;
        }
        return '#ffffff';
      };
      const out: { text: string; ink: string; paper: string }[] = [];
      for (const el of document.querySelectorAll('body *')) {
        const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim());
        if (!own || el.closest('title, desc, style')) continue;
        const svgText = el.closest('svg') !== null;
        const ink = rgb(svgText ? getComputedStyle(el).fill : getComputedStyle(el).color);
        const paper = svgText ? (el.closest('text')?.getAttribute('data-bg') ?? '#ffffff') : background(el);
        if (ink) out.push({ text: el.textContent!.trim().slice(0, 40), ink: ink.hex, paper });
      }
      return out;
    });
    expect(pairs.length).toBeGreaterThan(200);
    const failing = pairs.filter((p) => contrastRatio(p.ink, p.paper) < 4.5).map((p) => `"${p.text}" ${p.ink} on ${p.paper}: ${contrastRatio(p.ink, p.paper).toFixed(2)}`);
    expect(failing).toEqual([]);
    await page.close();
  });

  it('shows the headline figures of its JSON twin', async () => {
    const { page } = await open(link);
    const headline = await page.innerText('.headline');
    const twin = await (await page.request.get(`${link}&format=json`)).json() as ReportData;
    const d1 = twin.metrics.deciles[0];
    const d2 = twin.metrics.deciles[1];
    const pct = (v: number) => `${Math.round(v * 100)}%`;
    expect(headline).toContain(`riskiest 10% of accounts (${d1.n.toLocaleString('en-US')} of ${twin.metrics.n.toLocaleString('en-US')}) contain ${pct(d1.cumulativeCapture)} of the customers who churned (${d1.churners} of ${twin.metrics.positives})`);
    expect(headline).toContain(`${pct(twin.scorecard!.deciles[0].cumulativeCapture)} for the weighted scorecard and ${pct(twin.previous!.metrics.deciles[0].cumulativeCapture)} for the previous model (v${twin.previous!.version})`);
    expect(headline).toContain(`Its riskiest 20% contain ${pct(d2.cumulativeCapture)}`);
    expect(d1.cumulativeCapture).toBe(twin.metrics.capture10);
    // the revenue table on page 1 is the twin's
    const revenue = await page.$$eval('table.revenue tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)));
    expect(revenue.slice(0, -1).map((r) => [r[0], r[1], r[2]])).toEqual(twin.revenue!.tiers.map((t) => [t.tier.replace(/_/g, ' '), t.accounts.toLocaleString('en-US'), Math.round(t.mrr).toLocaleString('en-US')]));
    expect(twin).toMatchObject({ generatedAt: data.generatedAt, schemaVersion: 2 });
    await page.close();
  });
});
