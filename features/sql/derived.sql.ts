import type { KindDef } from '../definitions/schema.ts';
import { num, type Template } from './builder.sql.ts';

/* Derived features: expressions over the features they declare in dependsOn (NULL when undefined). */
export const ratio: Template<KindDef<'ratio'>> = (def, b) => {
  const top = b.exprOf(def.dependsOn[0]);
  if (def.denominatorConstant !== undefined) return `${top}::float8 / ${num(def.denominatorConstant)}`;
  return `${top}::float8 / nullif(${b.exprOf(def.dependsOn[1])}, 0)`;
};

export const change: Template<KindDef<'change'>> = (def, b) => {
  const [cur, prev] = [b.exprOf(def.dependsOn[0]), b.exprOf(def.dependsOn[1])];
  return def.mode === 'absolute' ? `${cur}::float8 - ${prev}` : `(${cur}::float8 - ${prev}) / nullif(${prev}, 0)`;
};

export const threshold: Template<KindDef<'threshold'>> = (def, b) => {
  const x = b.exprOf(def.dependsOn[0]);
  return `CASE WHEN ${x} IS NULL THEN NULL WHEN ${x} ${def.op === 'lte' ? '<=' : '>='} ${num(def.value)} THEN 1 ELSE 0 END`;
};
