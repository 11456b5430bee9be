// One dispatcher for the PUBLISH packets arriving on the cloud's MQTT connection. mqtt.js hands each
// one to `client.handleMessage(packet, done)`, reads the next packet only when `done` is called, and
// only then sends the PUBACK (QoS 1). The router owns that hook: features register the topics they
// consume (the bridge, the artifact server, the samples consumer) and conditions that hold every
// acknowledgement (telemetry ingestion's backpressure), and none of them touches mqtt.js.
//
// For each packet: every consumer whose filter matches runs; once all have settled (at once for a
// consumer that handled it synchronously: the common telemetry path allocates no promise), every ack hold
// is asked whether the packet may be acknowledged — after the consumers, so a window the bridge
// just handed to ingestion counts towards the buffer that decides it; once those waits settle,
// `done()`. Holding `done` is what makes the broker keep (QoS 1) and pace the rest instead of the
// cloud queueing it. A consumer that fails, or a wait that fails, still releases the packet: a
// stuck handler would stall the whole connection.
import type { IPublishPacket, MqttClient } from 'mqtt';
import { compileFilter } from './topic-filter.ts';

type HandleMessage = MqttClient['handleMessage'];

export interface MessageConsumer {
  /** Topic filters as subscribed; a `$share/<group>/` prefix is ignored when matching. */
  filters: readonly string[];
  /**
   * Handles one packet; it is acknowledged once the returned promise settles, or at once when the
   * packet was handled synchronously (nothing returned): no promise per message on the hot path.
   */
  handle(packet: IPublishPacket): Promise<void> | undefined;
  /** `handle` threw or rejected (the packet is acknowledged anyway). */
  onError(packet: IPublishPacket, err: unknown): void;
}

/** Undefined when a packet may be acknowledged now; otherwise settles when it may. */
export type AckHold = () => Promise<void> | undefined;

export interface RouteRegistration {
  /** Stops routing to it; packets already dispatched still finish. Others are not affected. */
  remove(): void;
}

interface Route {
  consumer: MessageConsumer;
  matchers: Array<(topic: string) => boolean>;
}

export class MessageRouter {
  readonly #client: MqttClient;
  readonly #routes = new Set<Route>();
  readonly #holds = new Set<AckHold>();
  #previous: HandleMessage | undefined;
  readonly #dispatch: HandleMessage = (packet, done) => this.#route(packet, done);
  /** A packet no consumer matched, held (unacknowledged) until `startRouting()`. */
  #parked: { packet: IPublishPacket; done: (err?: Error) => void } | null = null;
  #parking: boolean;

  /**
   * `parkUntilStarted`: on a persistent session the broker replays what it kept for the cloud right
   * after CONNACK, before the features have registered; those packets wait (unacknowledged, and
   * mqtt.js reads nothing further) until `startRouting()` instead of being acknowledged unhandled.
   */
  constructor(client: MqttClient, options: { parkUntilStarted?: boolean } = {}) {
    this.#client = client;
    this.#parking = options.parkUntilStarted ?? false;
    if (this.#parking) this.#install();
  }

  /** Shutting down on a persistent session: packets no consumer takes any more stay at the broker. */
  pauseRouting(): void {
    this.#parking = true;
    this.#install();
  }

  /** Every consumer is registered: routes the parked packet, and from now on acks unrouted ones. */
  startRouting(): void {
    this.#parking = false;
    const parked = this.#parked;
    this.#parked = null;
    if (parked) this.#route(parked.packet, parked.done);
  }

  /**
   * Routes packets matching `consumer.filters` to it.
   *
   * @example
   * const route = connection.messages.consume({
   *   filters: [topicFilters.allDevices('samples')],
   *   handle: (packet) => store(packet),
   *   onError: (packet, err) => logger.error({ topic: packet.topic, err: String(err) }, 'not stored'),
   * });
   * route.remove();
   */
  consume(consumer: MessageConsumer): RouteRegistration {
    const route: Route = { consumer, matchers: consumer.filters.map(compileFilter) };
    this.#routes.add(route);
    this.#install();
    return { remove: () => this.#remove(() => this.#routes.delete(route)) };
  }

  /** Withholds every packet's acknowledgement until `ready()` settles (asked after its consumers). */
  holdAcks(ready: AckHold): RouteRegistration {
    // Wrapped so the same function registered twice is two holds, each removed on its own.
    const hold: AckHold = () => ready();
    this.#holds.add(hold);
    this.#install();
    return { remove: () => this.#remove(() => this.#holds.delete(hold)) };
  }

  #route(packet: IPublishPacket, done: (err?: Error) => void): void {
    let matched = 0;
    let work: Promise<void>[] | undefined;
    for (const route of this.#routes) {
      if (!matchesAny(route.matchers, packet.topic)) continue;
      matched++;
      const { consumer } = route;
      try {
        const pending = consumer.handle(packet);
        if (pending !== undefined) {
          work ??= [];
          work.push(pending.catch((err) => reportFailure(consumer, packet, err)));
        }
      } catch (err) {
        reportFailure(consumer, packet, err);
      }
    }
    if (matched === 0 && this.#parking) this.#parked = { packet, done };
    else if (work === undefined) this.#release(done);
    else void Promise.allSettled(work).then(() => this.#release(done));
  }

  #release(done: (err?: Error) => void): void {
    let waits: Promise<void>[] | undefined;
    for (const hold of this.#holds) {
      const waiting = hold();
      if (waiting === undefined) continue;
      waits ??= [];
      waits.push(waiting);
    }
    if (waits === undefined) done();
    else void Promise.allSettled(waits).then(() => done());
  }

  #install(): void {
    if (this.#previous !== undefined) return;
    this.#previous = this.#client.handleMessage;
    this.#client.handleMessage = this.#dispatch;
  }

  /** With nothing left to route, mqtt.js' own handler (acknowledge at once) goes back. */
  #remove(unregister: () => void): void {
    unregister();
    if (this.#routes.size > 0 || this.#holds.size > 0 || this.#parking || this.#previous === undefined)
      return;
    if (this.#client.handleMessage === this.#dispatch) this.#client.handleMessage = this.#previous;
    this.#previous = undefined;
  }
}

function reportFailure(consumer: MessageConsumer, packet: IPublishPacket, err: unknown): void {
  try {
    consumer.onError(packet, err);
  } catch {
    // a failing error report must not hold the packet either
  }
}

function matchesAny(matchers: ReadonlyArray<(topic: string) => boolean>, topic: string): boolean {
  for (const matches of matchers) if (matches(topic)) return true;
  return false;
}
