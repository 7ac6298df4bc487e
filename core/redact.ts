/** Query parameters whose values never reach a log (`?api_key=...`, `?token=...` and the like). */
const SECRET_PARAM = /([?&;][^=&;#]*(?:key|token|secret|passw|auth|signature)[^=&;#]*=)[^&;#]*/gi;

/** A URL (or a request's path and query) as a log shows it: the values of secret-looking query parameters replaced. */
export function redactUrl(url: string): string {
  return url.includes('?') ? url.replace(SECRET_PARAM, '$1[REDACTED]') : url;
}
