/**
 * Product events for one account: one row per (user, event type, day) with a `quantity` count, plus
 * system events (integrations, automation runs) per account-day with no user. Activity follows the
 * weekday and seasonal rhythm, each user's own activity level, the account's adoption curve and
 * the latent driver (fading usage decays, shallow adoption narrows to the core area).
 */
import type { AccountLife } from './account.ts';
import { AREAS, EVENT_TYPES, type EventTypeDef } from './catalog.ts';
import { DAY_MS, dayRhythm, isWeekend, type TimeFormatter } from './calendar.ts';
import { driverSignal, usageFactor } from './latent.ts';
import type { GenerationWindow } from './options.ts';
import { Rng } from './random.ts';

interface AreaTypes {
  user: EventTypeDef[];
  system: EventTypeDef[];
}

const BY_AREA: AreaTypes[] = AREAS.map((a) => ({
  user: EVENT_TYPES.filter((t) => t.area === a.area && !t.system),
  system: EVENT_TYPES.filter((t) => t.area === a.area && t.system),
}));

/** 512 minutes of the day, weighted towards working hours (UTC), indexed by 9 random bits. */
const MINUTES: number[] = (() => {
  const rng = new Rng(7, 7);
  const out: number[] = [];
  while (out.length < 512) {
    const hour = rng.chance(0.85) ? rng.normal(13, 2.6) : rng.uniform(0, 24);
    if (hour >= 0 && hour < 24) out.push(Math.floor(hour * 60));
  }
  return out;
})();

/** Rhythm per day of the window, computed once per run. */
export function rhythmTable(w: GenerationWindow): Float64Array {
  const t = new Float64Array(w.endDay - w.startDay);
  for (let d = w.startDay; d < w.endDay; d++) t[d - w.startDay] = dayRhythm(d);
  return t;
}

export interface EventOut {
  /** Receives complete COPY text rows. */
  add(row: string): void;
}

/**
 * Writes the account's events to `out`, numbering them from `firstId`; returns the next free id.
 * Columns: event_id, account_id, user_id, event_type, occurred_at, quantity.
 */
export function emitEvents(w: GenerationWindow, life: AccountLife, rhythm: Float64Array, fmt: TimeFormatter, out: EventOut, firstId: number): number {
  const rng = new Rng(w.seed, life.index * 8 + 2);
  let id = firstId;
  const { latent } = life;
  const from = Math.max(w.startDay, life.createdDay + 1);
  const until = life.activeUntilDay;
  const users = life.users.map((u) => ({
    u,
    fromDay: Math.floor(u.createdMs / DAY_MS) + 1,
    toDay: u.deactivatedMs === undefined ? until : Math.floor(u.deactivatedMs / DAY_MS),
  }));
  const accPrefix = `\t${life.id}\t`;
  const shallow = latent.driver === 'shallow_adoption';
  for (let day = from; day < until; day++) {
    const base = rhythm[day - w.startDay];
    const onboarding = Math.min(1, 0.45 + (0.55 * (day - life.createdDay)) / 30);
    const factor = base * usageFactor(latent, day) * onboarding;
    const narrow = shallow ? 1 - 0.9 * driverSignal(latent, day) : 1;
    const date = fmt.datePart(day);
    for (const { u, fromDay, toDay } of users) {
      if (day < fromDay || day >= toDay) continue;
      if (rng.next() >= u.activity * factor) continue;
      const userPrefix = `${accPrefix}${u.id}\t`;
      const intensity = 0.6 + rng.next() * 0.8;
      for (let k = 0; k < AREAS.length; k++) {
        if (u.areaStart[k] > day) continue;
        const areaP = k === 0 ? 1 : narrow;
        for (const t of BY_AREA[k].user) {
          if (rng.next() >= t.dayProb * areaP) continue;
          const qty = 1 + rng.poisson((t.meanQty - 1) * intensity);
          out.add(`${id++}${userPrefix}${t.eventType}\t${date}${fmt.minutes[MINUTES[rng.nextU32() & 511]]}\t${qty}\n`);
        }
      }
    }
    const sysFactor = (isWeekend(day) ? 0.6 : 1) * Math.min(1, usageFactor(latent, day) * 1.2);
    for (let k = 0; k < AREAS.length; k++) {
      if (life.areaAdopted[k] > day || BY_AREA[k].system.length === 0) continue;
      const areaP = k === 0 ? 1 : narrow;
      for (const t of BY_AREA[k].system) {
        if (rng.next() >= t.dayProb * sysFactor * areaP) continue;
        const qty = 1 + rng.poisson((t.meanQty - 1) * sysFactor);
        out.add(`${id++}${accPrefix}\\N\t${t.eventType}\t${date}${fmt.minutes[rng.int(0, 1439)]}\t${qty}\n`);
      }
    }
  }
  return id;
}
