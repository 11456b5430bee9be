export { type LogRecord, serializeError } from './format.ts';
export {
  createLogger,
  LEVELS,
  type LogFields,
  type LogFn,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogSink,
  silentLogger,
} from './logger.ts';
