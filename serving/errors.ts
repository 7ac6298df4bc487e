import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { ChurnError, describeIssues, isChurnError, type ErrorCode } from '../core/errors.ts';

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  request_id: string;
  problems?: unknown[];
}

const DB_DOWN = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

function isDatabaseDown(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e && typeof e.code === 'string' && DB_DOWN.has(e.code)) return true;
  return typeof e?.message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/.test(e.message);
}

/** Maps any error to a status and the `{ error, message }` body; 5xx say little (the log has it all). */
export function toErrorBody(err: unknown): { status: number; code: ErrorCode; message: string } {
  if (isChurnError(err)) return { status: err.status, code: err.code, message: err.message };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as { validationContext?: string }).validationContext ?? 'request';
    const issues = err.validation.map((v) => ({ path: (v.instancePath || '').split('/').filter(Boolean), message: v.message ?? 'invalid' }));
    return { status: 400, code: 'CHURN_ERR_VALIDATION', message: `invalid ${where}: ${describeIssues(issues)}` };
  }
  if (isDatabaseDown(err)) return { status: 503, code: 'CHURN_ERR_DATABASE', message: 'the database is unreachable; try again shortly' };
  const fe = err as FastifyError;
  if (!(err instanceof Error && isResponseSerializationError(err)) && typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.statusCode === 413) return { status: 413, code: 'CHURN_ERR_PAYLOAD_TOO_LARGE', message: 'request body too large' };
    if (fe.statusCode === 429) return { status: 429, code: 'CHURN_ERR_RATE_LIMITED', message: fe.message };
    if (fe.statusCode === 404) return { status: 404, code: 'CHURN_ERR_NOT_FOUND', message: fe.message };
    return { status: fe.statusCode, code: 'CHURN_ERR_VALIDATION', message: fe.message };
  }
  return { status: 500, code: 'CHURN_ERR_INTERNAL', message: 'internal error; the server log has the details under this request id' };
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, code, message } = toErrorBody(err);
  if (status >= 500) request.log.error({ err, code }, 'request failed');
  else request.log.info({ code, status, msg: message }, 'request rejected');
  if (isChurnError(err) && err.code === 'CHURN_ERR_RATE_LIMITED' && err.details && typeof err.details === 'object') {
    const retry = (err.details as { retryAfterSeconds?: number }).retryAfterSeconds;
    if (retry !== undefined) void reply.header('retry-after', String(retry));
  }
  const problems = isChurnError(err) ? (err.details as { problems?: unknown } | undefined)?.problems : undefined;
  const body: ErrorBody = { error: code, message, request_id: String(request.id), ...(Array.isArray(problems) ? { problems } : {}) };
  void reply.code(status).type('application/json; charset=utf-8').serializer(JSON.stringify).send(body);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  errorHandler(new ChurnError('CHURN_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}`), request, reply);
}
