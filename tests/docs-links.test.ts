import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');

const withoutCode = (text: string): string => text.replace(/```[\s\S]*?```/g, '');

function anchorsOf(file: string): Set<string> {
  const headings = withoutCode(readFileSync(file, 'utf8')).split('\n').filter((l) => l.startsWith('#'));
  return new Set(headings.map((l) => slug(l.replace(/^#+/, ''))));
}

/** Relative link targets of a Markdown file that do not exist (a missing file, or a missing heading). */
function brokenLinks(doc: string): string[] {
  const file = path.join(ROOT, doc);
  const broken: string[] = [];
  for (const [, target] of withoutCode(readFileSync(file, 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target)) continue;
    const [relative, anchor] = target.split('#');
    const resolved = relative ? path.resolve(path.dirname(file), relative) : file;
    if (!existsSync(resolved)) broken.push(target);
    else if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(target);
  }
  return broken;
}

describe('documentation', () => {
  it.each(DOCS)('%s: every relative link points at a file (and heading) that exists', (doc) => {
    expect(brokenLinks(doc)).toEqual([]);
  });

  it('README.md stays a front page: at most 10,000 bytes, and names the test command', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'));
    expect(readme.length).toBeLessThanOrEqual(10_000);
    expect(readme.toString('utf8')).toContain('`npm test`');
  });
});
