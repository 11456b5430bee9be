// What an alert is: the four conditions the evaluator watches, how bad each is, and the firing form a
// condition reports (its `key` is the alert's identity, so one condition is one open alert at most).
import type { alerts } from '../db/schema.ts';

export const ALERT_KINDS = ['devices_offline', 'error_rate', 'rollout_stuck', 'drift'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const ALERT_SEVERITIES = ['warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** A condition that holds now. */
export interface FiringAlert {
  /** e.g. `drift:digits:3:device_class:pi4`. */
  key: string;
  kind: AlertKind;
  severity: AlertSeverity;
  /** The thing it is about, as in the `events` table: `device_class:pi4`, `model:digits`, `rollout:r1`. */
  subject: string;
  message: string;
  data: Record<string, unknown>;
}

/** A stored alert (open while `resolvedAt` is null). */
export type AlertRecord = typeof alerts.$inferSelect;

/** Event kinds written when an alert opens and when it resolves. */
export const ALERT_OPENED_EVENT = 'alert.opened';
export const ALERT_RESOLVED_EVENT = 'alert.resolved';

export const percent = (share: number): string => `${Math.round(share * 1000) / 10}%`;

/** `300` → `5 min`, `5400` → `1.5 h`: messages are read by people. */
export function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 360) / 10} h`;
}
