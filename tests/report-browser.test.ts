import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReportData } from '../jobs/report/data.ts';
import { renderReportHtml } from '../jobs/report/render.ts';
import { reportInputs } from './report-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';

describe('report in headless Chromium', () => {
  let browser: BrowserContext;
  let dir: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the report browser test`);
    }
    dir = mkdtempSync(join(tmpdir(), 'churn-report-'));
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
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('renders every chart with no console errors and no network requests', async () => {
    const html = renderReportHtml(buildReportData(reportInputs({ shift: 0.4 })));
    const file = join(dir, 'report.html');
    writeFileSync(file, html);
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
    page.on('request', (req) => requests.push(req.url()));
    const url = pathToFileURL(file).href;
    await page.goto(url, { waitUntil: 'load' });

    const charts = await page.$$eval('svg[data-chart]', (svgs) => svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      return { id: svg.getAttribute('data-chart'), width: box.width, height: box.height, drawn: svg.querySelectorAll('path, rect, circle').length, title: svg.querySelector('title')?.textContent ?? '' };
    }));
    expect(charts.map((c) => c.id).sort()).toEqual(['backtest', 'confusion', 'drift', 'importance', 'lift', 'pr', 'reliability', 'roc', 'tiers']);
    for (const c of charts) {
      expect(c.width, `${c.id} width`).toBeGreaterThan(100);
      expect(c.height, `${c.id} height`).toBeGreaterThan(100);
      expect(c.drawn, `${c.id} drawn marks`).toBeGreaterThan(0);
      expect(c.title, `${c.id} title`).not.toBe('');
    }
    const headline = await page.textContent('.headline');
    expect(headline).toMatch(/riskiest 10% of accounts contain \d+% of the customers who churned/);

    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    if (process.env.CHURN_REPORT_SCREENSHOT) writeFileSync(process.env.CHURN_REPORT_SCREENSHOT, png);

    expect(problems).toEqual([]);
    expect(requests).toEqual([url]);
    await page.close();
  });
});
