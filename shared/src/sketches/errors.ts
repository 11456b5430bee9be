import { EdgeloopError, type ErrorCode } from '../errors.ts';

/**
 * Why a sketch could not be decoded (`VALIDATION_FAILED`: garbage or truncated bytes from the wire)
 * or combined (`CONFLICT`: sketches built against different bin edges or accuracies, whose merge
 * would silently be wrong).
 */
export class SketchError extends EdgeloopError {
  constructor(code: Extract<ErrorCode, 'VALIDATION_FAILED' | 'CONFLICT'>, message: string) {
    super(code, message);
    this.name = 'SketchError';
  }
}

export function invalidSketch(message: string): SketchError {
  return new SketchError('VALIDATION_FAILED', message);
}

export function incompatibleSketches(message: string): SketchError {
  return new SketchError('CONFLICT', message);
}
