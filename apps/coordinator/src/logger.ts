import pino, { type Logger } from 'pino';

/** pino with the API token redacted wherever it could appear. */
export function createLogger(level: string, name = 'cmbn-coordinator'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['token', '*.token', 'req.headers.authorization', 'headers.authorization', 'env.CMBN_API_TOKEN', 'CMBN_API_TOKEN', 'env.CMBN_API_TOKENS', 'CMBN_API_TOKENS'], censor: '[redacted]' },
  });
}
