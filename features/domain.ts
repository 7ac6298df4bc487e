import type { Unit } from './definitions/schema.ts';

/** The values a feature can take at all: `min` and, where there is one, `max`. */
export interface Domain {
  min: number;
  max?: number;
}

/** The values of each unit (units without a bound are absent). */
const UNIT_DOMAINS: Readonly<Partial<Record<Unit, Domain>>> = {
  users: { min: 0 }, days: { min: 0 }, events: { min: 0 }, events_per_day: { min: 0 }, events_per_user: { min: 0 }, ratio: { min: 0 },
  areas: { min: 0 }, features: { min: 0 }, tickets: { min: 0 }, hours: { min: 0 }, currency: { min: 0 }, seats: { min: 0 },
  invoices: { min: 0 }, payments: { min: 0 },
  share: { min: 0, max: 1 }, percent: { min: 0, max: 100 }, flag: { min: 0, max: 1 },
};

/** The scales of the survey answers (source.surveys: NPS 0-10, CSAT 1-5; source.tickets: CSAT 1-5). */
const SURVEY_SCALES = { nps: { min: 0, max: 10 }, csat: { min: 1, max: 5 } } as const;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The domain of a feature from its definition (the catalogue's, or one stored with a feature set:
 * read defensively): what it computes bounds it where its unit alone does not (active days in a
 * 28-day window: 0 to 28; an NPS answer: 0 to 10; a relative change of counts: -1 or more), and a
 * change can fall as well as rise, so it has no bound from its unit.
 */
export function valueDomain(def: Readonly<Record<string, unknown>> | undefined): Domain | undefined {
  if (!def) return undefined;
  const windowDays = num((def.window as { days?: unknown } | undefined)?.days);
  const scale = typeof def.survey === 'string' ? SURVEY_SCALES[def.survey as keyof typeof SURVEY_SCALES] : undefined;
  switch (def.kind) {
    case 'active_days': case 'longest_gap': case 'type_days':
      return windowDays === undefined ? { min: 0 } : { min: 0, max: windowDays };
    case 'survey_latest': case 'survey_mean':
      if (scale) return { ...scale };
      break;
    case 'survey_change':
      if (scale) return { min: scale.min - scale.max, max: scale.max - scale.min };
      break;
    case 'ticket_stat':
      if (def.stat === 'mean_csat') return { ...SURVEY_SCALES.csat };
      break;
    case 'change':
      return def.mode === 'relative' ? { min: -1 } : undefined;
  }
  const d = typeof def.unit === 'string' ? UNIT_DOMAINS[def.unit as Unit] : undefined;
  return d && { ...d };
}
