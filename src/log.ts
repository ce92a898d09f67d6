import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** JSON lines, written synchronously so the last lines before exit are never lost. fd 2 keeps stdout for output. */
export function createLogger(level: LogLevel, fd: 1 | 2 = 1): Logger {
  return pino({ level }, pino.destination({ dest: fd, sync: true }));
}
