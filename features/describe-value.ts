import type { FeatureDef } from './definitions/schema.ts';

/*
 * `toLocaleString('en-US', options)` builds a new Intl.NumberFormat on every call (about 30 us); the
 * few formats used here are built once and reused (the same output, ~1 us).
 */
const formats = new Map<string, Intl.NumberFormat>();
function en(minimumFractionDigits: number | undefined, maximumFractionDigits: number | undefined): Intl.NumberFormat {
  const key = `${minimumFractionDigits}/${maximumFractionDigits}`;
  let f = formats.get(key);
  if (!f) formats.set(key, (f = new Intl.NumberFormat('en-US', { minimumFractionDigits, maximumFractionDigits })));
  return f;
}

/**
 * `value` to `digits` decimals as Intl.NumberFormat('en-US') writes it (thousands grouped; trailing
 * zeros dropped unless `keepZeros`), when `toFixed` gives the same digits (null otherwise): unless the
 * value's shortest decimal form (`String`), which Intl rounds, ends in a 5 just past the digits kept,
 * where `toFixed`, which rounds the exact binary value, may differ (1.005: Intl 1.01, toFixed 1.00), or
 * is in exponent form, or the value is -0 (Intl: "-0"), or 1e12 or more (safely below 2^43, where the
 * spacing of doubles reaches a thousandth and `toFixed` can show digits the shortest form does not
 * have: 155915691612603.4 as currency is 603.41 by `toFixed`, 603.40 by Intl). About a
 * tenth of the time of `format`, which was the larger part of an explained score's sentences (MRR is
 * shown as currency).
 */
function quickFixed(value: number, digits: number, keepZeros = false): string | null {
  const abs = Math.abs(value);
  if (abs >= 1e12 || Object.is(value, -0)) return null;
  const shortest = String(abs);
  const dot = shortest.indexOf('.');
  if (shortest.includes('e') || (dot >= 0 && shortest.length - dot - 1 === digits + 1 && shortest.endsWith('5'))) return null;
  let text = value.toFixed(digits);
  if (digits > 0 && !keepZeros) text = text.replace(/\.?0+$/, '');
  return abs >= 999.5 ? grouped(text) : text;
}

/** "-1234567.5" -> "-1,234,567.5": the integer digits in groups of three, as en-US writes them. */
function grouped(text: string): string {
  const sign = text.startsWith('-') ? '-' : '';
  const dot = text.indexOf('.');
  const int = text.slice(sign.length, dot < 0 ? text.length : dot);
  const head = int.length % 3 || 3;
  let out = sign + int.slice(0, head);
  for (let i = head; i < int.length; i += 3) out += `,${int.slice(i, i + 3)}`;
  return dot < 0 ? out : out + text.slice(dot);
}

/** A number as people read it: integers plainly, small fractions with two significant decimals. */
export function formatNumber(value: number, unit?: FeatureDef['unit']): string {
  if (!Number.isFinite(value)) return String(value);
  if (unit === 'share') return `${Math.round(value * 100)}%`;
  if (unit === 'change') return `${value > 0 ? '+' : ''}${Math.round(value * 100)}%`;
  if (unit === 'currency') return Number.isInteger(value) ? quickFixed(value, 0) ?? en(0, 2).format(value) : quickFixed(value, 2, true) ?? en(2, 2).format(value);
  if (Number.isInteger(value)) return quickFixed(value, 0) ?? en(undefined, undefined).format(value);
  const digits = decimalsOf(value);
  return quickFixed(value, digits) ?? en(undefined, digits).format(value);
}

/** Decimals `formatNumber` shows for a fraction: two significant ones below 10, one to 100, none above. */
function decimalsOf(value: number): number {
  const abs = Math.abs(value);
  return abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
}

/** `value` with `extra` more decimals than `formatNumber` shows (shares and changes as percentages). */
function formatFiner(value: number, unit: FeatureDef['unit'] | undefined, extra: number): string {
  if (unit === 'share') return `${en(0, extra).format(value * 100)}%`;
  if (unit === 'change') return `${value > 0 ? '+' : ''}${en(0, extra).format(value * 100)}%`;
  if (unit === 'currency') return en(2, 2 + extra).format(value);
  return en(undefined, decimalsOf(value) + extra).format(value);
}

/**
 * A value and its reference as a sentence shows them: as `formatNumber` writes them, or, when those
 * read the same but the numbers differ, with as many more decimals as tell them apart (up to six): a
 * model can split between 0.138 and 0.142, and "0.14; typical retained account: 0.14" would then
 * explain a risk by nothing the reader can see.
 */
export function shownPair(value: number, reference: number, unit?: FeatureDef['unit']): [string, string] {
  const v = formatNumber(value, unit);
  const r = formatNumber(reference, unit);
  if (v !== r || value === reference) return [v, r];
  for (let extra = 1; extra <= 6; extra++) {
    const fv = formatFiner(value, unit, extra);
    const fr = formatFiner(reference, unit, extra);
    if (fv !== fr) return [fv, fr];
  }
  return [v, r]; // apart by float rounding only: as usual
}

/**
 * The plain-language sentence of one feature against a fixed reference, e.g. "Active on 3 of the last
 * 28 days; typical retained account: 17": the template is split and the reference formatted once, so
 * each call only formats the value. A flag at 1 or 0 reads as its `yesNo` sentence ("Billed annually;
 * typical retained account: billed monthly"), and an ordinal's whole values carry their `levels` name
 * ("Plan tier 3 (business)"). A NULL value uses the definition's `whenNull` text, or its label with
 * "no value", and the reference is then worded in full, as that text names no number. A value shown
 * as 1 takes the `singular` wording when there is one, and a value that would read as the reference
 * but is not gets the decimals that tell them apart (`shownPair`). A feature the catalogue does not
 * define (a model trained on a prepared table) is described by its name. `who` names the reference
 * (young accounts are explained against the typical retained account of their age).
 */
export function sentenceOf(name: string, def: FeatureDef | undefined, reference: number | string | null | undefined, who = 'typical retained account'): (value: number | string | null | undefined) => string {
  const label = name.replace(/_/g, ' ');
  const levels = def?.levels;
  const shown = (v: number | string): string => {
    if (typeof v !== 'number') return v;
    const text = formatNumber(v, def?.unit);
    return levels && Number.isInteger(v) && v >= 0 && v < levels.length ? `${text} (${levels[v]})` : text;
  };
  const yesNo = def?.yesNo;
  const flagText = (v: unknown): string | null => (yesNo && (v === 1 || v === 0) ? (v === 1 ? yesNo.yes : yesNo.no) : null);
  const refText = reference === null || reference === undefined || (typeof reference === 'number' && !Number.isFinite(reference)) ? null : shown(reference);
  const against = (r: string | null) => (r === null ? '' : `; ${who}: ${r}`);
  const parts = def ? def.description.split('{value}') : [`${label}: `, ''];
  const one = def?.singular ? def.singular.split('{value}') : parts;
  const sentence = (text: string, tail: string) => `${(text === '1' ? one : parts).join(text)}${tail}`;
  const refFlag = flagText(reference);
  const suffix = refFlag === null ? against(refText) : against(lowerFirst(refFlag));
  // after a text that names no number, the reference in full: "No invoices due in the last 180 days;
  // typical retained account: invoices due ... were paid 0 days late on average"
  const refInFull = refFlag ?? (refText === null ? null : sentence(refText, ''));
  const whenNull = def ? `${def.whenNull ?? `${def.label ?? label}: no value`}${refInFull === null ? '' : against(lowerFirst(refInFull))}` : `${label}: no value${suffix}`;
  return (value) => {
    if (value === null || value === undefined || Number.isNaN(value)) return whenNull;
    const flag = flagText(value);
    if (flag !== null) return `${flag}${suffix}`;
    const text = shown(value);
    if (text === refText && typeof value === 'number' && typeof reference === 'number' && value !== reference) {
      // equal as shown, different as numbers: the digits that tell them apart
      const [v, r] = shownPair(value, reference, def?.unit);
      return sentence(v, against(r));
    }
    return sentence(text, suffix);
  };
}

/** "Invoices due ..." -> "invoices due ..." as the second half of a sentence; "MRR", "NPS" stay. */
function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}

/** The sentence for one value (see `sentenceOf`). */
export function describeFeature(def: FeatureDef, value: number | null | undefined, reference?: number | null, who?: string): string {
  return sentenceOf(def.name, def, reference, who)(value);
}
