import type { KindDef } from '../definitions/schema.ts';
import { inWindow, type SqlBuilder, type Template } from './builder.sql.ts';

/* Surveys (`srv`: one row per (as_of, account) over the responses given before as_of). */
function latest(b: SqlBuilder, survey: string): string {
  return b.col('srv', `array_agg(r.score::float8 ORDER BY r.responded_at DESC, r.response_id DESC) FILTER (WHERE r.survey_type = ${b.bind(survey, 'text')})`);
}

export const surveyLatest: Template<KindDef<'survey_latest'>> = (def, b) => `${latest(b, def.survey)}[1]`;

export const surveyChange: Template<KindDef<'survey_change'>> = (def, b) => {
  const scores = latest(b, def.survey);
  return `${scores}[1] - ${scores}[2]`;
};

export const surveyMean: Template<KindDef<'survey_mean'>> = (def, b) =>
  b.col('srv', `avg(r.score::float8) FILTER (WHERE r.survey_type = ${b.bind(def.survey, 'text')} AND ${inWindow('r.responded_at', 'p.as_of', def.window)})`);
