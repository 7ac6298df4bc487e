/**
 * A small simulator of a consumer product unlike our own SaaS world (features/generate/): a social
 * app with monthly paid subscriptions, one user per account. It writes the four CSVs a customer of
 * Churnlens would have (accounts.csv, subscriptions.csv, event_types.csv, events.csv) in the shapes
 * of the ingestion contracts (features/ingest/tables.ts), with the account attributes `channel`,
 * `country` and `age` as extra columns of accounts.csv.
 *
 * What drives churn (the truth the evaluation should recover):
 * - each account has a latent engagement level that drifts week by week around its own baseline, with
 *   "souring" spells where it falls for several weeks; activity (active days, events) follows it;
 * - while engagement is below its baseline, the share of negative events (dislike, unfriend) and of
 *   passive ad views rises;
 * - at each monthly renewal the account cancels with a probability that rises with low and falling
 *   engagement, with the negative share, for paid acquisition channels (ads, paid_social) and for the
 *   youngest users; `country` carries no signal.
 * Events are exported one row per account, day and event type, with the day's count as `quantity`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { noProgress, type Progress } from '../core/progress.ts';
import { mulberry32 } from '../core/random.ts';

export interface SocialSimOptions {
  accounts: number;
  seed?: number;
  /** months of events before `end` (default 12) */
  months?: number;
  /** end of the data (exclusive, 00:00 UTC; default: today); the data must not end after the load time */
  end?: Date;
  /** write the account attributes channel, country and age as extra columns of accounts.csv (default true) */
  attributes?: boolean;
  /** advanced by one per account written */
  progress?: Progress;
}

export interface SocialSimResult {
  dir: string;
  accounts: number;
  subscriptions: number;
  events: number;
  /** accounts whose paid subscription ended (canceled) inside the window */
  churned: number;
  start: string;
  end: string;
}

const DAY = 86_400_000;
export const SOCIAL_EVENT_TYPES = [
  { type: 'post', area: 'create', key: true, description: 'published a post' },
  { type: 'like', area: 'react', key: false, description: 'liked a post' },
  { type: 'reply', area: 'converse', key: true, description: 'replied to a post' },
  { type: 'message', area: 'converse', key: true, description: 'sent a direct message' },
  { type: 'newfriend', area: 'network', key: false, description: 'added a friend' },
  { type: 'unfriend', area: 'network', key: false, description: 'removed a friend' },
  { type: 'adview', area: 'ads', key: false, description: 'viewed an ad' },
  { type: 'dislike', area: 'react', key: false, description: 'disliked a post' },
] as const;

/** events per active day of each type for an engaged account (the positive part) */
const POSITIVE_MIX: Record<string, number> = { post: 0.6, like: 4, reply: 1.2, message: 2, newfriend: 0.15 };
const CHANNELS = [
  { name: 'organic', weight: 0.35, churn: -0.35, engagement: 0.15 },
  { name: 'referral', weight: 0.2, churn: -0.55, engagement: 0.25 },
  { name: 'app_store', weight: 0.2, churn: 0, engagement: 0 },
  { name: 'paid_social', weight: 0.15, churn: 0.45, engagement: -0.2 },
  { name: 'ads', weight: 0.1, churn: 0.75, engagement: -0.3 },
];
const COUNTRIES = [['US', 0.35], ['GB', 0.12], ['DE', 0.1], ['BR', 0.13], ['IN', 0.15], ['FR', 0.08], ['JP', 0.07]] as const;
const PLANS = [{ plan: 'plus', mrr: 4.99, weight: 0.7 }, { plan: 'premium', mrr: 9.99, weight: 0.3 }];

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function addMonthsUtc(ms: number, n: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, Math.min(d.getUTCDate(), 28), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds());
}

/** A buffered CSV writer with backpressure. */
class CsvFile {
  private stream: fs.WriteStream;
  private buf = '';
  rows = 0;
  constructor(file: string, header: string[]) {
    this.stream = fs.createWriteStream(file);
    this.buf = `${header.join(',')}\n`;
  }

  async row(cells: (string | number | boolean | null)[]): Promise<void> {
    this.buf += `${cells.map((c) => (c === null ? '' : String(c))).join(',')}\n`;
    this.rows++;
    if (this.buf.length > 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    const chunk = this.buf;
    this.buf = '';
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

/** Writes the four CSVs into `dir` (created if missing). Deterministic for the same options. */
export async function simulateSocialApp(dir: string, opts: SocialSimOptions): Promise<SocialSimResult> {
  const seed = opts.seed ?? 42;
  const months = opts.months ?? 12;
  const today = new Date();
  const endMs = (opts.end ?? new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()))).getTime();
  const endDay = Math.floor(endMs / DAY);
  const startDay = Math.floor(addMonthsUtc(endDay * DAY, -months) / DAY);
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const pick = <T>(items: readonly T[], weight: (t: T) => number): T => {
    let u = rand() * items.reduce((s, t) => s + weight(t), 0);
    for (const t of items) if ((u -= weight(t)) <= 0) return t;
    return items[items.length - 1];
  };
  const poisson = (lambda: number) => {
    if (lambda <= 0) return 0;
    if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= rand();
    } while (p > l);
    return k - 1;
  };

  fs.mkdirSync(dir, { recursive: true });
  const withAttributes = opts.attributes ?? true;
  const accounts = new CsvFile(path.join(dir, 'accounts.csv'), ['account_id', 'name', 'segment', 'plan', 'industry', 'region', 'created_at', 'owner', ...(withAttributes ? ['channel', 'country', 'age'] : [])]);
  const subs = new CsvFile(path.join(dir, 'subscriptions.csv'), ['subscription_id', 'account_id', 'plan', 'mrr', 'seats', 'billing_period', 'discount_pct', 'is_trial', 'change_type', 'started_at', 'ended_at', 'canceled_at', 'status']);
  const types = new CsvFile(path.join(dir, 'event_types.csv'), ['event_type', 'feature_area', 'is_key_feature', 'description']);
  const events = new CsvFile(path.join(dir, 'events.csv'), ['event_id', 'account_id', 'user_id', 'event_type', 'occurred_at', 'quantity']);
  for (const t of SOCIAL_EVENT_TYPES) await types.row([t.type, t.area, t.key, t.description]);

  let eventId = 0;
  let churned = 0;
  const progress = opts.progress ?? noProgress;
  progress.start(opts.accounts);
  for (let a = 0; a < opts.accounts; a++) {
    progress.increment();
    const id = `sa_${String(a + 1).padStart(6, '0')}`;
    const user = `su_${String(a + 1).padStart(6, '0')}`;
    const channel = pick(CHANNELS, (c) => c.weight);
    const country = pick(COUNTRIES, (c) => c[1])[0];
    const age = Math.min(75, Math.max(16, Math.round(30 + 11 * normal())));
    const plan = pick(PLANS, (p) => p.weight);
    // 40% were customers before the window (up to 18 months), the rest sign up during it
    const createdDay = rand() < 0.4 ? startDay - 1 - Math.floor(rand() * 540) : startDay + Math.floor(rand() * (endDay - startDay - 20));
    const createdMs = createdDay * DAY + Math.floor(rand() * DAY);
    const baseline = -0.4 + 0.7 * normal() + channel.engagement; // log of the engaged daily rate multiplier
    const negBias = -2.2 + 0.5 * normal(); // logit of the negative share when engaged
    const youth = age < 22 ? 0.35 : age > 50 ? -0.2 : 0;
    await accounts.row([id, `Member ${a + 1}`, 'smb', plan.plan, null, null, iso(createdMs), null, ...(withAttributes ? [channel.name, country, age] : [])]);

    // latent engagement, one value per week from the account's creation (or the window start) on
    let z = baseline + 0.3 * normal();
    let souring = 0;
    const zByWeek: number[] = [];
    let periodStart = createdMs;
    let k = 0;
    let ended = false;
    let lastDay = endDay;
    const firstEventDay = Math.max(createdDay, startDay);
    const weekOf = (day: number) => Math.floor((day - createdDay) / 7);
    const zAt = (day: number) => {
      const w = Math.max(0, weekOf(day));
      while (zByWeek.length <= w) {
        if (souring > 0) souring--;
        else if (rand() < 0.03) souring = 3 + Math.floor(rand() * 8);
        const drift = souring > 0 ? -0.22 : 0.12 * (baseline - z);
        z += drift + 0.12 * normal();
        zByWeek.push(z);
      }
      return zByWeek[w];
    };
    // monthly periods; the decision to renew is taken at each period end
    while (!ended) {
      const periodEnd = addMonthsUtc(periodStart, 1);
      const endDayOfPeriod = Math.floor(periodEnd / DAY);
      const subId = `ss_${id.slice(3)}_${String(++k).padStart(3, '0')}`;
      const changeType = k === 1 ? 'new' : 'renewal';
      if (periodEnd >= endMs) {
        // the running period: its scheduled end lies after the data end
        await subs.row([subId, id, plan.plan, plan.mrr, 1, 'monthly', 0, false, changeType, iso(periodStart), iso(periodEnd), null, 'active']);
        break;
      }
      const now = zAt(endDayOfPeriod - 3);
      const before = zAt(endDayOfPeriod - 31);
      const dev = now - baseline;
      const neg = sigmoid(negBias - 1.6 * Math.min(0, dev));
      const logit = -3.1 - 0.9 * (now + 0.4) - 1.2 * (now - before) + 5 * (neg - 0.1) + channel.churn + youth;
      if (rand() < sigmoid(logit)) {
        const canceledAt = Math.max(periodStart + DAY, periodEnd - Math.floor((2 + rand() * 20) * DAY));
        await subs.row([subId, id, plan.plan, plan.mrr, 1, 'monthly', 0, false, changeType, iso(periodStart), iso(periodEnd), iso(canceledAt), 'canceled']);
        ended = true;
        lastDay = endDayOfPeriod;
        if (endDayOfPeriod >= startDay) churned++;
      } else {
        await subs.row([subId, id, plan.plan, plan.mrr, 1, 'monthly', 0, false, changeType, iso(periodStart), iso(periodEnd), null, 'ended']);
        periodStart = periodEnd;
      }
    }

    // activity: one row per day and event type with the day's count
    for (let day = firstEventDay; day < Math.min(lastDay, endDay); day++) {
      const zd = zAt(day);
      const rate = Math.exp(zd);
      const weekend = ((day + 4) % 7) >= 5 ? 1.25 : 1;
      if (rand() > 1 - Math.exp(-0.9 * rate * weekend)) continue; // inactive day
      const dev = zd - baseline;
      const neg = sigmoid(negBias - 1.6 * Math.min(0, dev));
      const adShare = sigmoid(-1.6 - 1.2 * Math.min(0, dev) + (channel.name === 'ads' ? 0.3 : 0));
      const scale = 0.6 + 0.8 * rate;
      const counts: [string, number][] = [];
      let positive = 0;
      for (const [type, mean] of Object.entries(POSITIVE_MIX)) {
        const n = poisson(mean * scale);
        positive += n;
        counts.push([type, n]);
      }
      const negTotal = poisson(((positive + 1) * neg) / (1 - neg));
      const unfriends = poisson(negTotal * 0.15);
      counts.push(['dislike', Math.max(0, negTotal - unfriends)], ['unfriend', unfriends]);
      counts.push(['adview', poisson(((positive + 2) * adShare) / (1 - adShare))]);
      if (counts.every(([, n]) => n === 0)) counts[1][1] = 1; // an active day has at least one event
      for (const [type, n] of counts) {
        if (n === 0) continue;
        const at = day * DAY + Math.floor((0.25 + 0.7 * rand()) * DAY);
        await events.row([++eventId, id, user, type, iso(at), n]);
      }
    }
  }
  progress.stop();
  await Promise.all([accounts.close(), subs.close(), types.close(), events.close()]);
  return { dir, accounts: opts.accounts, subscriptions: subs.rows, events: events.rows, churned, start: iso(startDay * DAY), end: iso(endDay * DAY) };
}
