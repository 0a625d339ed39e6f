import pino, { type Logger } from 'pino';

export function createLogger(level: string, name: string): Logger {
  return pino({ name, level, redact: { paths: ['token', '*.token', 'headers.authorization', 'env.CMBN_API_TOKEN'], censor: '[redacted]' } });
}
