/**
 * Canonical JSON for artifacts: object keys sorted at every depth, typed arrays as plain arrays, no
 * whitespace. The checksum is the sha256 of these bytes, so it does not depend on key order or on
 * how the artifact was built; what is stored is the gzip of the same bytes.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { canonicalJson } from '../../core/canonical-json.ts';
import { ChurnError } from '../../core/errors.ts';

export { canonicalJson };

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface PackedArtifact {
  gzip: Buffer;
  sha256: string;
  bytes: number;
}

export function packArtifact(artifact: unknown): PackedArtifact {
  const text = canonicalJson(artifact);
  const raw = Buffer.from(text, 'utf8');
  return { gzip: gzipSync(raw, { level: 6 }), sha256: sha256Hex(raw), bytes: raw.length };
}

/** Unpacks a stored artifact, verifying its checksum; any mismatch or damage is CHURN_ERR_ARTIFACT_CORRUPT. */
export function unpackArtifact(gzip: Buffer, expectedSha256: string, label: string): unknown {
  let raw: Buffer;
  try {
    raw = gunzipSync(gzip);
  } catch (err) {
    throw new ChurnError('CHURN_ERR_ARTIFACT_CORRUPT', `${label}: the stored artifact is not valid gzip data`, { cause: err });
  }
  const actual = sha256Hex(raw);
  if (actual !== expectedSha256) {
    throw new ChurnError('CHURN_ERR_ARTIFACT_CORRUPT', `${label}: artifact checksum mismatch (stored ${expectedSha256.slice(0, 12)}…, computed ${actual.slice(0, 12)}…); refusing to load it`);
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new ChurnError('CHURN_ERR_ARTIFACT_CORRUPT', `${label}: the stored artifact is not valid JSON`, { cause: err });
  }
}
