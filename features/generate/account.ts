/**
 * One account's life: segment, plan, sign-up, the latent churn process, the subscription chain
 * (trial, renewals, upgrades, downgrades, the churning end), users and feature-area adoption.
 */
import { AREAS, INDUSTRIES, REGIONS, REGION_WEIGHTS, SEGMENTS, accountName, involuntaryLagDays, type SegmentProfile } from './catalog.ts';
import { DAY_MS, HOUR_MS, addMonths } from './calendar.ts';
import { drawLatent, driverSignal, type Latent, type TrueDriver } from './latent.ts';
import type { GenerationWindow } from './options.ts';
import { Rng } from './random.ts';

export interface SubscriptionPeriod {
  id: string;
  plan: string;
  mrr: number;
  seats: number;
  billing: 'monthly' | 'annual';
  discountPct: number;
  isTrial: boolean;
  changeType: 'new' | 'renewal' | 'upgrade' | 'downgrade';
  startDay: number;
  /** Exclusive end day; undefined while running at the end of the window. */
  endDay?: number;
  cancelMs?: number;
  status: 'trialing' | 'active' | 'canceled' | 'ended';
}

export interface UserLife {
  id: string;
  role: 'admin' | 'member' | 'viewer';
  createdMs: number;
  deactivatedMs?: number;
  /** Daily probability of being active on a full-rhythm weekday. */
  activity: number;
  /** Day the user starts using each area (AREAS order); Infinity = never. */
  areaStart: number[];
}

export interface AccountLife {
  index: number;
  id: string;
  seg: SegmentProfile;
  plan: string;
  name: string;
  industry: string;
  region: string;
  createdMs: number;
  createdDay: number;
  latent: Latent;
  subs: SubscriptionPeriod[];
  /** Day the last subscription ended by churn (exclusive end of all activity), inside the window. */
  churnDay?: number;
  trueDriver?: TrueDriver;
  /** Exclusive last day of activity: churn day or window end. */
  activeUntilDay: number;
  /** Day each area is adopted by the account (AREAS order); Infinity = never. */
  areaAdopted: number[];
  users: UserLife[];
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

export function accountId(index: number): string {
  return `acc_${pad(index + 1, 5)}`;
}

function pickSegment(rng: Rng): SegmentProfile {
  return SEGMENTS[rng.weighted(SEGMENTS.map((s) => s.share))];
}

/** Builds the life of account `index`; a pure function of (window, index). */
export function simulateAccount(w: GenerationWindow, index: number): AccountLife {
  const rng = new Rng(w.seed, index + 1);
  const seg = pickSegment(rng);
  const planIdx = rng.weighted(seg.plans.map((p) => p.weight));
  const plan = seg.plans[planIdx];
  const inWindow = rng.chance(0.28);
  const span = w.endDay - w.startDay;
  const createdDay = inWindow ? w.startDay + Math.floor(rng.next() * Math.max(1, span - 7)) : w.startDay - 1 - Math.floor(rng.next() * 4 * 365);
  const createdMs = createdDay * DAY_MS + Math.floor(rng.uniform(7, 19) * HOUR_MS);
  const latent = drawLatent(rng, seg, createdDay, w.startDay, w.endDay);
  const id = accountId(index);
  const life: AccountLife = {
    index, id, seg, plan: plan.plan,
    name: accountName(index + 1, rng.int(0, 999), rng.int(0, 999)),
    industry: rng.pick(INDUSTRIES), region: REGIONS[rng.weighted(REGION_WEIGHTS)],
    createdMs, createdDay, latent, subs: [], activeUntilDay: w.endDay, areaAdopted: [], users: [],
  };
  buildSubscriptions(rng, w, life, plan.pricePerSeat, inWindow);
  adoptAreas(rng, life);
  buildUsers(rng, w, life);
  return life;
}

function buildSubscriptions(rng: Rng, w: GenerationWindow, life: AccountLife, pricePerSeat: number, inWindow: boolean): void {
  const seg = life.seg;
  const { latent } = life;
  const annual = rng.chance(seg.annualShare);
  const discount = annual ? Math.round(rng.uniform(seg.annualDiscount[0], seg.annualDiscount[1])) : 0;
  let seats = Math.round(Math.min(seg.maxSeats, Math.max(seg.minSeats, rng.logNormal(seg.seatMedian, seg.seatSigma))));
  const mrrOf = (n: number) => Math.round(n * pricePerSeat * (1 - discount / 100) * 100) / 100;
  let n = 0;
  const subId = () => `sub_${life.id.slice(4)}_${pad(++n, 2)}`;
  let start = life.createdDay;
  if (inWindow && rng.chance(0.4)) {
    const trialEnd = start + 14;
    const running = trialEnd >= w.endDay;
    life.subs.push({ id: subId(), plan: life.plan, mrr: 0, seats, billing: 'monthly', discountPct: 0, isTrial: true, changeType: 'new', startDay: start, endDay: running ? undefined : trialEnd, status: running ? 'trialing' : 'ended' });
    if (running) return;
    start = trialEnd;
  }
  let cur: SubscriptionPeriod = { id: subId(), plan: life.plan, mrr: mrrOf(seats), seats, billing: annual ? 'annual' : 'monthly', discountPct: discount, isTrial: false, changeType: 'new', startDay: start, status: 'active' };
  life.subs.push(cur);
  const step = annual ? 12 : 1;
  for (let k = 1; ; k++) {
    const boundary = addMonths(start, k * step);
    const intent = latent.intentDay;
    const involuntary = latent.intentDriver === 'payment_trouble';
    if (intent !== undefined && boundary >= intent) {
      // The account leaves at this boundary (or after dunning fails, for payment trouble).
      const endDay = Math.max(boundary + (involuntary ? involuntaryLagDays(seg, cur.billing) : 0), w.startDay + 14);
      const notice = annual ? rng.int(10, 60) : rng.int(2, 25);
      const cancelMs = involuntary ? endDay * DAY_MS : Math.max(cur.startDay * DAY_MS + HOUR_MS, (endDay - notice) * DAY_MS + Math.floor(rng.uniform(8, 18) * HOUR_MS));
      if (cancelMs < w.endMs) cur.cancelMs = cancelMs;
      if (endDay < w.endDay) {
        cur.endDay = endDay;
        cur.status = 'canceled';
        life.churnDay = endDay;
        life.activeUntilDay = endDay;
        life.trueDriver = latent.intentDriver;
      }
      // Otherwise a cancellation already known at the end runs out after it: still active, canceled_at set.
      return;
    }
    if (boundary >= w.endDay) return;
    // A new row at an annual renewal, or at a monthly boundary when the seat count changes.
    const inside = boundary >= w.startDay;
    const troubled = driverSignal(latent, boundary) > 0;
    let change: SubscriptionPeriod['changeType'] | undefined;
    let newSeats = seats;
    const monthlyUp = annual ? 0.25 : 0.025;
    if (inside && !troubled && rng.chance(monthlyUp * latent.traits.engagement)) {
      change = 'upgrade';
      newSeats = Math.min(seg.maxSeats * 2, Math.max(seats + 1, Math.round(seats * rng.uniform(1.15, 1.5))));
    } else if (inside && troubled && seats > seg.minSeats && rng.chance(annual ? 0.5 : 0.12)) {
      change = 'downgrade';
      newSeats = Math.max(seg.minSeats, Math.round(seats * rng.uniform(0.55, 0.85)));
      if (newSeats === seats) change = undefined;
    } else if (annual) {
      change = 'renewal';
    }
    if (!change) continue;
    cur.endDay = boundary;
    cur.status = 'ended';
    seats = newSeats;
    cur = { id: subId(), plan: life.plan, mrr: mrrOf(seats), seats, billing: cur.billing, discountPct: discount, isTrial: false, changeType: change, startDay: boundary, status: 'active' };
    life.subs.push(cur);
  }
}

/** Account-level adoption curve: area k is adopted with probability adoption^(0.5 + difficulty), after an exponential lag. */
function adoptAreas(rng: Rng, life: AccountLife): void {
  const a = life.latent.traits.adoption;
  const ent = life.seg.segment === 'enterprise';
  const { latent } = life;
  for (const area of AREAS) {
    if (area.difficulty === 0) {
      life.areaAdopted.push(life.createdDay);
      continue;
    }
    let p = a ** (0.5 + area.difficulty);
    if (ent && (area.area === 'integrations' || area.area === 'admin')) p = Math.min(1, p + 0.25);
    const lag = Math.round(rng.exponential(12 + 70 * area.difficulty / Math.max(0.2, a)));
    let day = rng.chance(p) ? life.createdDay + 3 + lag : Infinity;
    // Shallow adoption: nothing new is taken up in the run-up to the driver.
    if (latent.driver === 'shallow_adoption' && latent.onsetDay !== undefined && day > latent.onsetDay - 120) day = Infinity;
    life.areaAdopted.push(day);
  }
}

function buildUsers(rng: Rng, w: GenerationWindow, life: AccountLife): void {
  const seats = life.subs[life.subs.length - 1].seats;
  const initial = Math.max(1, Math.round(life.subs[0].seats * rng.uniform(0.6, 0.95)));
  const endMs = life.activeUntilDay * DAY_MS;
  const { latent } = life;
  let n = 0;
  const add = (createdMs: number, role: UserLife['role']) => {
    const u: UserLife = { id: `usr_${life.id.slice(4)}_${pad(++n, 3)}`, role, createdMs, activity: 0, areaStart: [] };
    u.activity = Math.min(0.9, 0.2 * life.latent.traits.engagement * rng.gamma(2.2, 1 / 2.2) * (role === 'viewer' ? 0.5 : role === 'admin' ? 1.2 : 1));
    const day = Math.floor(createdMs / DAY_MS);
    for (let k = 0; k < AREAS.length; k++) {
      const adopted = life.areaAdopted[k];
      const reach = k === 3 ? (role === 'admin' ? 0.9 : 0.05) : AREAS[k].userReach;
      u.areaStart.push(adopted === Infinity || !rng.chance(reach) ? Infinity : Math.max(adopted, day) + Math.round(rng.exponential(10)));
    }
    // Turnover: 1.2 %/month, four times that once usage fades.
    let t = createdMs + rng.exponential(2500) * DAY_MS;
    if (latent.driver === 'fading_usage' && latent.onsetDay !== undefined && t > latent.onsetDay * DAY_MS) {
      t = Math.min(t, Math.max(createdMs, latent.onsetDay * DAY_MS) + rng.exponential(625) * DAY_MS);
    }
    if (t < endMs && t < w.endMs) u.deactivatedMs = Math.floor(t);
    life.users.push(u);
    return u;
  };
  add(life.createdMs, 'admin');
  for (let i = 1; i < initial; i++) {
    const role = rng.chance(0.1) ? 'admin' : rng.chance(0.2) ? 'viewer' : 'member';
    add(life.createdMs + Math.floor(rng.exponential(20) * DAY_MS), role);
  }
  // Replacements for users who left, and joiners after upgrades, while the account is healthy.
  for (let i = 0; i < life.users.length && life.users.length < seats * 1.6 + 2; i++) {
    const left = life.users[i].deactivatedMs;
    if (left === undefined || !rng.chance(0.75)) continue;
    const at = left + Math.floor(rng.exponential(15) * DAY_MS);
    if (at < endMs && driverSignal(latent, Math.floor(at / DAY_MS)) === 0) add(at, rng.chance(0.2) ? 'viewer' : 'member');
  }
  for (const s of life.subs) {
    if (s.changeType !== 'upgrade') continue;
    const prev = life.subs[life.subs.indexOf(s) - 1];
    for (let i = prev.seats; i < s.seats; i++) {
      const at = s.startDay * DAY_MS + Math.floor(rng.exponential(12) * DAY_MS);
      if (at < endMs) add(at, 'member');
    }
  }
  if (life.churnDay !== undefined) {
    for (const u of life.users) if (u.deactivatedMs === undefined || u.deactivatedMs > endMs) u.deactivatedMs = Math.max(u.createdMs, endMs);
  }
  // Users created after the account's last day (or the window's end) would be future facts.
  life.users = life.users.filter((u) => u.createdMs < endMs);
}
