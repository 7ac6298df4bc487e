import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stderr, so stdout stays clean for command output. */
export function createLogger(level = 'info', name = 'churnlens'): Logger {
  return pino({ name, level }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: 'silent' });
