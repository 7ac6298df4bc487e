/**
 * The one catalogue of coded errors. Library code throws `ChurnError`; the HTTP error handler and the
 * CLI turn it into `{ error, message }` (HTTP) or `CODE: message` (CLI). Codes are never reused.
 */
export const ERRORS = {
  CHURN_ERR_VALIDATION: { status: 400, summary: 'input failed validation' },
  CHURN_ERR_BAD_FILE: { status: 400, summary: 'a file failed validation; nothing was loaded' },
  CHURN_ERR_UNKNOWN_TABLE: { status: 400, summary: 'no such source table' },
  CHURN_ERR_CONFIG: { status: 500, summary: 'configuration is invalid' },
  CHURN_ERR_DATABASE: { status: 503, summary: 'the database is unreachable' },
  CHURN_ERR_MIGRATION: { status: 500, summary: 'a migration failed or was changed after it was applied' },
  CHURN_ERR_UNAUTHORIZED: { status: 401, summary: 'missing or invalid API key' },
  CHURN_ERR_FORBIDDEN: { status: 403, summary: 'the API key lacks the required scope' },
  CHURN_ERR_RATE_LIMITED: { status: 429, summary: 'too many requests for this API key' },
  CHURN_ERR_NOT_FOUND: { status: 404, summary: 'no such route or resource' },
  CHURN_ERR_ACCOUNT_NOT_FOUND: { status: 404, summary: 'no such account' },
  CHURN_ERR_MODEL_NOT_FOUND: { status: 404, summary: 'no such model version or alias' },
  CHURN_ERR_NO_CHAMPION: { status: 503, summary: 'no champion model is loaded' },
  CHURN_ERR_FEATURE_MISMATCH: { status: 409, summary: 'the model was trained on another feature set' },
  CHURN_ERR_DATABASE_NOT_EMPTY: { status: 409, summary: 'the source tables already hold data; pass --replace to overwrite them' },
  CHURN_ERR_NOT_ENOUGH_DATA: { status: 422, summary: 'not enough labelled rows to train or evaluate' },
  CHURN_ERR_TRAINING_FAILED: { status: 500, summary: 'training failed; the champion is untouched' },
  CHURN_ERR_ARTIFACT_CORRUPT: { status: 500, summary: 'a model artifact failed its checksum' },
  CHURN_ERR_NOT_BETTER: { status: 409, summary: 'the candidate is worse than the champion' },
  CHURN_ERR_NOT_COMPARABLE: { status: 409, summary: 'two model versions were evaluated on different rows, so neither can be called not worse' },
  CHURN_ERR_ALIAS_CONFLICT: { status: 409, summary: 'the alias moved while the change was being decided' },
  CHURN_ERR_PAYLOAD_TOO_LARGE: { status: 413, summary: 'request body too large' },
  CHURN_ERR_MLFLOW: { status: 502, summary: 'the MLflow tracking server answered with an error' },
  CHURN_ERR_INTERNAL: { status: 500, summary: 'internal error' },
  CHURN_ERR_TIMEOUT: { status: 503, summary: 'the request or one of its statements passed its deadline; the work was abandoned' },
  CHURN_ERR_BAD_REQUEST: { status: 400, summary: 'not a valid HTTP request (malformed, headers too large or too slow); the connection is closed' },
  CHURN_ERR_AUTH_LIMITED: { status: 429, summary: 'too many failed authentication attempts from this address' },
  CHURN_ERR_PORT_IN_USE: { status: 500, summary: 'the HTTP listen port is taken by another process' },
  CHURN_ERR_IO: { status: 500, summary: 'a file or folder could not be read or written' },
  CHURN_ERR_DB_CONFLICT: { status: 503, summary: 'the database aborted the transaction (deadlock or serialisation failure); nothing of it was kept' },
  CHURN_ERR_LINK_INVALID: { status: 401, summary: 'the report link is malformed, not signed by this server (forged or revoked), or for another report' },
  CHURN_ERR_LINK_EXPIRED: { status: 401, summary: 'the report link has expired; ask for a new one (churn report --link)' },
  CHURN_ERR_ALERT_STATE: { status: 409, summary: 'the alert is acknowledged: it can no longer be snoozed' },
  CHURN_ERR_WEBHOOK_EXISTS: { status: 409, summary: 'an active webhook subscription already has this URL' },
  CHURN_ERR_WEBHOOK_TEST_FAILED: { status: 502, summary: 'the webhook receiver did not take the test delivery (no 2xx answer)' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class ChurnError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChurnError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = options.details;
  }
}

export function isChurnError(err: unknown): err is ChurnError {
  return err instanceof ChurnError;
}

/** zod's type names in words (JSON's types, as a caller sends them). */
const TYPE_WORDS: Record<string, string> = {
  string: 'text', number: 'a number', int: 'a whole number', boolean: 'true or false', array: 'an array', object: 'an object',
  null: 'null', undefined: 'nothing', date: 'a date', nan: 'NaN',
};

/**
 * Zod issues in plain words: for text that was to be a number (`given` a string) zod says "received
 * NaN" (what the text became) where this says "expected a number" or "expected a whole number"; for a
 * number out of bounds, "Too small: expected number to be >=1" where this says "expected at least 1";
 * for a value not in a list, "expected one of open, snoozed" without zod's quotes and bars; for a
 * value of another type, "expected an array, got text"; for keys an object does not take, "unknown key
 * "x"". Other issues come back as they are.
 */
export function plainIssue<I extends { code: string; message: string }>(issue: I, given: unknown): I {
  const i = issue as { expected?: unknown; origin?: unknown; minimum?: unknown; maximum?: unknown; inclusive?: unknown };
  if (!/^(Invalid input|Invalid option|Too small|Too big|Unrecognized key)/.test(issue.message)) return issue; // a message of our own stays
  const keys = (issue as { keys?: unknown }).keys;
  if (issue.code === 'unrecognized_keys' && Array.isArray(keys)) {
    return { ...issue, message: `unknown ${keys.length === 1 ? 'key' : 'keys'} ${keys.map((k) => JSON.stringify(k)).join(', ')}` };
  }
  const values = (issue as { values?: unknown }).values;
  if (issue.code === 'invalid_value' && Array.isArray(values)) {
    // "Invalid option: expected one of "open"|"acknowledged"" -> "expected one of open, acknowledged"
    return { ...issue, message: `expected one of ${values.map(String).join(', ')}` };
  }
  if (issue.code === 'invalid_type') {
    if (typeof given === 'string' && i.expected === 'number') return { ...issue, message: 'expected a number' };
    if (typeof given === 'string' && i.expected === 'int') return { ...issue, message: 'expected a whole number' };
    // "Invalid input: expected array, received string" -> "expected an array, got text"
    const received = /received (\w+)$/.exec(issue.message)?.[1];
    const expected = typeof i.expected === 'string' ? TYPE_WORDS[i.expected] : undefined;
    return expected && received ? { ...issue, message: `expected ${expected}, got ${TYPE_WORDS[received] ?? received}` } : issue;
  }
  // a bound: "expected at least 1" for zod's "Too small: expected number to be >=1"
  if (i.origin !== 'number') return issue;
  if (issue.code === 'too_small') return { ...issue, message: `expected ${i.inclusive === false ? 'more than' : 'at least'} ${String(i.minimum)}` };
  if (issue.code === 'too_big') return { ...issue, message: `expected ${i.inclusive === false ? 'less than' : 'at most'} ${String(i.maximum)}` };
  return issue;
}

/** Formats a zod error (or its issues) as one line: `path: message; path: message`, zod's own wording made plain (`plainIssue`). */
export function describeIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string }>, max = 5): string {
  const parts = issues.slice(0, max).map((issue) => {
    const i = issue.code === undefined ? issue : plainIssue(issue as typeof issue & { code: string }, undefined);
    return i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message;
  });
  if (issues.length > max) parts.push(`and ${issues.length - max} more`);
  return parts.join('; ');
}

/** SQLSTATE classes and codes of a lost or refused database connection (08: connection exception). */
const CONNECTION_STATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000', '28000', '28P01']);
/** Socket errors, which in a churn process come from its PostgreSQL connections. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** File-system errors a user can fix (a missing folder, permissions, a full disk). */
const FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'EROFS', 'EMFILE', 'ENAMETOOLONG', 'EDQUOT']);

interface ErrorLike { code?: unknown; message?: unknown; severity?: unknown; syscall?: unknown; path?: unknown; errno?: unknown }

/**
 * Expected failures from the environment as catalogue errors, so that the CLI prints one line for
 * them: PostgreSQL aborting a transaction (deadlock 40P01, serialisation 40001), time limits
 * (statement timeout 57014, lock timeout 55P03), lost or refused connections (57P01, 08xxx,
 * ECONNRESET, "Connection terminated"), and file-system errors (ENOENT, EACCES, ...). Anything else
 * (a bug) gives undefined. Catalogue errors come back unchanged.
 */
export function asChurnError(err: unknown): ChurnError | undefined {
  if (isChurnError(err)) return err;
  if (!err || typeof err !== 'object') return undefined;
  const e = err as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const options = { cause: err };
  const isSqlState = /^[0-9A-Z]{5}$/.test(code) && typeof e.severity === 'string';
  if (isSqlState) {
    if (code === '40P01' || code === '40001') return new ChurnError('CHURN_ERR_DB_CONFLICT', `the database aborted the transaction (${message}); nothing of it was kept: run the command again`, options);
    if (code === '57014' || code === '55P03') return new ChurnError('CHURN_ERR_TIMEOUT', `the database gave up waiting (${message}); nothing of the interrupted transaction was kept`, options);
    if (code.startsWith('08') || CONNECTION_STATES.has(code)) return new ChurnError('CHURN_ERR_DATABASE', `lost the connection to PostgreSQL: ${message}`, options);
    return undefined;
  }
  if (SOCKET_ERRORS.has(code) || /^Connection terminated/.test(message)) {
    return new ChurnError('CHURN_ERR_DATABASE', `lost the connection to PostgreSQL: ${message}`, options);
  }
  if (FILE_ERRORS.has(code) && typeof e.path === 'string') {
    // Node's message reads `ENOENT: no such file or directory, open '/x/y'`: keep the reason and name the path
    const reason = message.replace(/^E[A-Z]+: /, '').replace(/, \w+ '.*'$/s, '');
    return new ChurnError('CHURN_ERR_IO', `${e.path}: ${reason}${typeof e.syscall === 'string' ? ` (${e.syscall})` : ''}`, options);
  }
  return undefined;
}
