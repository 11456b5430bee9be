// Prometheus metrics of one agent. Each agent owns its registry (not prom-client's global one), so
// the fleet simulator can run many agents in one process and each /metrics shows only its own.
import type { ModelRef } from '@edgeloop/shared';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly inferenceLatency: Histogram<'model_version'>;
  readonly inferences: Counter<'outcome'>;
  readonly inferenceErrors: Counter<'code'>;
  readonly queueDepth: Gauge;
  readonly modelInfo: Gauge<'name' | 'version' | 'variant' | 'sha256'>;
  readonly mqttConnected: Gauge;
  readonly telemetryQueued: Gauge;
  readonly updates: Counter<'outcome'>;
  readonly shadowInferences: Counter<'outcome'>;
  readonly shadowSkipped: Counter<'reason'>;

  constructor(labels: { deviceId: string }) {
    this.registry.setDefaultLabels({ device_id: labels.deviceId });
    const registers = [this.registry];
    this.inferenceLatency = new Histogram({
      name: 'edgeloop_agent_inference_latency_seconds',
      help: 'Model run time of one inference (preprocessing excluded)',
      labelNames: ['model_version'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.inferences = new Counter({
      name: 'edgeloop_agent_inferences_total',
      help: 'Inference requests by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.inferenceErrors = new Counter({
      name: 'edgeloop_agent_inference_errors_total',
      help: 'Failed inference requests by error code',
      labelNames: ['code'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'edgeloop_agent_inference_queue_depth',
      help: 'Inference requests in progress',
      registers,
    });
    this.modelInfo = new Gauge({
      name: 'edgeloop_agent_model_info',
      help: 'The model being served (value 1)',
      labelNames: ['name', 'version', 'variant', 'sha256'],
      registers,
    });
    this.mqttConnected = new Gauge({
      name: 'edgeloop_agent_mqtt_connected',
      help: '1 while the MQTT session is up',
      registers,
    });
    this.telemetryQueued = new Gauge({
      name: 'edgeloop_agent_telemetry_queued_windows',
      help: 'Telemetry windows stored on disk, not yet acknowledged by the broker',
      registers,
    });
    this.updates = new Counter({
      name: 'edgeloop_agent_model_updates_total',
      help: 'Model updates by outcome (active, failed, rejected, rolled_back)',
      labelNames: ['outcome'],
      registers,
    });
    this.shadowInferences = new Counter({
      name: 'edgeloop_agent_shadow_inferences_total',
      help: 'Shadow-model runs by outcome (agreed or disagreed with the active model, error)',
      labelNames: ['outcome'],
      registers,
    });
    this.shadowSkipped = new Counter({
      name: 'edgeloop_agent_shadow_skipped_total',
      help: 'Sampled frames the shadow model did not run on (busy: the previous run was still going)',
      labelNames: ['reason'],
      registers,
    });
  }

  setModel(model: ModelRef | null): void {
    this.modelInfo.reset();
    if (model) this.modelInfo.set({ ...model }, 1);
  }
}
