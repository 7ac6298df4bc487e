import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { ChurnError, describeIssues, isChurnError, plainIssue, type ErrorCode } from '../core/errors.ts';

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  request_id: string;
  problems?: unknown[];
}

const DB_DOWN = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);
/** query_canceled (statement_timeout) and lock_not_available (lock_timeout), and Fastify's handler deadline */
const TIMED_OUT = new Set(['57014', '55P03', 'FST_ERR_HANDLER_TIMEOUT']);

/** Errors Fastify raised about the client's side of the exchange (a body cut short, say) carry a 4xx statusCode. */
function isClientSide(err: unknown): boolean {
  const status = (err as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

function isDatabaseDown(err: unknown): boolean {
  if (isClientSide(err)) return false; // ECONNRESET from the client's socket is not the database's
  const e = err as { code?: string; message?: string };
  if (e && typeof e.code === 'string' && DB_DOWN.has(e.code)) return true;
  return typeof e?.message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/.test(e.message);
}

function isTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && TIMED_OUT.has(code);
}

/** Maps any error to a status and the `{ error, message }` body; 5xx say little (the log has it all). */
export function toErrorBody(err: unknown): { status: number; code: ErrorCode; message: string } {
  if (isChurnError(err)) return { status: err.status, code: err.code, message: err.message };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as { validationContext?: string }).validationContext ?? 'request';
    // a query string or path parameter is text: a number there that is not one, or out of bounds, is said in words
    const text = where === 'querystring' || where === 'params' ? '' : undefined;
    const issues = err.validation.map((v) => ({
      path: (v.instancePath || '').split('/').filter(Boolean),
      message: plainIssue({ ...v.params, code: v.keyword, message: v.message ?? 'invalid' }, text).message,
    }));
    return { status: 400, code: 'CHURN_ERR_VALIDATION', message: `invalid ${where}: ${describeIssues(issues)}` };
  }
  if (isTimeout(err)) return { status: 503, code: 'CHURN_ERR_TIMEOUT', message: 'the request passed its deadline (a statement or a lock wait took too long) and was abandoned; try again shortly' };
  if (isDatabaseDown(err)) return { status: 503, code: 'CHURN_ERR_DATABASE', message: 'the database is unreachable or busy; try again shortly' };
  const fe = err as FastifyError;
  if (!(err instanceof Error && isResponseSerializationError(err)) && isClientSide(err)) {
    if (fe.statusCode === 413) return { status: 413, code: 'CHURN_ERR_PAYLOAD_TOO_LARGE', message: 'request body too large' };
    if (fe.statusCode === 429) return { status: 429, code: 'CHURN_ERR_RATE_LIMITED', message: fe.message };
    if (fe.statusCode === 404) return { status: 404, code: 'CHURN_ERR_NOT_FOUND', message: fe.message };
    if (fe.statusCode === 415) return { status: 415, code: 'CHURN_ERR_VALIDATION', message: 'the body must be JSON: send it with Content-Type: application/json' };
    return { status: fe.statusCode!, code: 'CHURN_ERR_VALIDATION', message: fe.message };
  }
  return { status: 500, code: 'CHURN_ERR_INTERNAL', message: 'internal error; the server log has the details under this request id' };
}

/**
 * The client closed its connection before the answer (mid-body, say): nobody is left to answer. (A
 * request whose body has been read whole is destroyed too, by Node, while its client still waits.)
 */
function clientGone(request: FastifyRequest): boolean {
  return request.raw.socket?.destroyed === true || (request.raw.destroyed && !request.raw.complete);
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, code, message } = toErrorBody(err);
  if (clientGone(request)) {
    request.log.info({ code: (err as { code?: unknown })?.code, reason: (err as Error)?.message }, 'client closed the connection before the answer');
  } else if (code === 'CHURN_ERR_TIMEOUT') {
    request.log.warn({ err, code }, 'request abandoned at its deadline');
  } else if (status >= 500) {
    request.log.error({ err, code }, 'request failed');
  } else {
    request.log.info({ code, status, reason: message }, 'request rejected');
  }
  const details = isChurnError(err) && err.details && typeof err.details === 'object' ? (err.details as { retryAfterSeconds?: number; problems?: unknown }) : undefined;
  if (details?.retryAfterSeconds !== undefined) void reply.header('retry-after', String(details.retryAfterSeconds));
  else if (status === 503) void reply.header('retry-after', '1');
  const body: ErrorBody = { error: code, message, request_id: String(request.id), ...(Array.isArray(details?.problems) ? { problems: details!.problems as unknown[] } : {}) };
  void reply.code(status).type('application/json; charset=utf-8').serializer(JSON.stringify).send(body);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  errorHandler(new ChurnError('CHURN_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}`), request, reply);
}

/**
 * Security headers of answers written to the socket directly (below), where no Fastify hook runs:
 * helmet's defaults, with the strictest content security policy (the body is JSON, never a page).
 */
export const RAW_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
  'cache-control': 'no-store',
};

/**
 * Answers a request Node's HTTP parser refused before Fastify saw it (malformed, headers over the
 * limit, too slow): the error shape with a request id, the security headers and `Connection: close`,
 * then the socket closes (the parser cannot go on after such a request). A reset socket gets nothing.
 */
export function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message]: [number, string] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'the request headers are too large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'the request did not arrive in time']
      : [400, 'the request is not valid HTTP'];
  const requestId = randomUUID();
  this.log.debug({ code: err.code, status, requestId }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify({ error: 'CHURN_ERR_BAD_REQUEST', message, request_id: requestId } satisfies ErrorBody);
    const headers = { ...RAW_SECURITY_HEADERS, 'x-request-id': requestId, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`);
  }
  socket.destroySoon();
}
