import type { KindDef } from '../definitions/schema.ts';
import { inWindow, type SqlBuilder, type Template } from './builder.sql.ts';

/*
 * Surveys (`srv`: one row per (as_of, account) over the responses given before as_of, read from `sr`,
 * which gives each response the score of the previous response to the same survey and the time of
 * the next one). The latest response before as_of is the one whose next response is not before
 * as_of, so neither an ordered aggregate nor a sort per date is needed.
 */
const LATEST = '(r.next_at IS NULL OR r.next_at >= p.as_of)';

function latest(b: SqlBuilder, survey: string, col: 'score' | 'prev_score'): string {
  return b.col('srv', `max(r.${col}::float8) FILTER (WHERE r.survey_type = ${b.bind(survey, 'text')} AND ${LATEST})`);
}

export const surveyLatest: Template<KindDef<'survey_latest'>> = (def, b) => latest(b, def.survey, 'score');

export const surveyChange: Template<KindDef<'survey_change'>> = (def, b) => `${latest(b, def.survey, 'score')} - ${latest(b, def.survey, 'prev_score')}`;

export const surveyMean: Template<KindDef<'survey_mean'>> = (def, b) =>
  b.col('srv', `avg(r.score::float8) FILTER (WHERE r.survey_type = ${b.bind(def.survey, 'text')} AND ${inWindow('r.responded_at', 'p.as_of', def.window)})`);
