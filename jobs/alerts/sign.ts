import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures: header `X-Churn-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
 * HMAC is over `${t}.${body}` with the subscription's secret. Receivers recompute it and should
 * reject timestamps older than a few minutes (replay protection).
 */
export const SIGNATURE_HEADER = 'x-churn-signature';

export function signPayload(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/** Verifies a signature header (what a receiver does); `toleranceSeconds` bounds the timestamp age. */
export function verifySignature(secret: string, body: string, header: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signPayload(secret, body, t).slice(-64), 'hex');
  return timingSafeEqual(expected, Buffer.from(m[2], 'hex'));
}
