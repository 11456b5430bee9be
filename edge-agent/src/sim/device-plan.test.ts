import { describe, expect, it } from 'vitest';
import { TEST_PROFILE } from '../testing/agent-fixtures.ts';
import { parseClassMix, planDevices, simulatedProfile } from './device-plan.ts';

describe('device plan', () => {
  it('deals classes in the weighted mix, spread out rather than in blocks', () => {
    const classes = parseClassMix('simulated:3, raspberry-pi-4');
    expect(classes).toEqual([
      { deviceClass: 'simulated', weight: 3 },
      { deviceClass: 'raspberry-pi-4', weight: 1 },
    ]);
    const plan = planDevices({ count: 8, idPrefix: 'sim', classes });
    expect(plan.map((d) => d.deviceId)).toEqual(
      ['0000', '0001', '0002', '0003', '0004', '0005', '0006', '0007'].map((n) => `sim-${n}`),
    );
    expect(plan.map((d) => d.deviceClass)).toEqual([
      'simulated',
      'simulated',
      'raspberry-pi-4',
      'simulated',
      'simulated',
      'simulated',
      'raspberry-pi-4',
      'simulated',
    ]);
  });

  it('numbers from firstIndex, so several processes can split one fleet', () => {
    const plan = planDevices({ count: 2, idPrefix: 'b', firstIndex: 500, classes: parseClassMix('x') });
    expect(plan.map((d) => [d.deviceId, d.index])).toEqual([
      ['b-0500', 500],
      ['b-0501', 501],
    ]);
  });

  it('refuses bad mixes and prefixes that make invalid device ids', () => {
    expect(() => parseClassMix('simulated:0')).toThrow(/weight/);
    expect(() => parseClassMix(' , ')).toThrow(/at least one/);
    expect(() => planDevices({ count: 1, idPrefix: 'Sim', classes: parseClassMix('x') })).toThrow(
      /device id/,
    );
  });

  it('runs a class profile on one CPU thread, keeping its policy', () => {
    const pi = {
      ...TEST_PROFILE,
      executionProviders: ['xnnpack', 'cpu'],
      threads: { intraOp: 4, interOp: 2 },
    };
    const simulated = simulatedProfile(pi as typeof TEST_PROFILE);
    expect(simulated.threads).toEqual({ intraOp: 1, interOp: 1 });
    expect(simulated.executionProviders).toEqual(['cpu']);
    expect(simulated.telemetry).toEqual(TEST_PROFILE.telemetry);
  });
});
