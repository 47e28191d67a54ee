/**
 * How the nodes of a deployment know each other and act together, over the engine's control channel:
 *
 * - **Announcements**: every node describes itself every `announceIntervalMs` with a lifetime of three
 *   intervals, so the registry lists the live nodes and a node that dies without a word drops out
 *   within that lifetime. A clean shutdown says `leave` and drops out at once. A node that hears from
 *   a node it did not know answers with its own announcement, so a new node learns the others at once.
 * - **Surveys**: a question sent to every node (this one included, through the same channel) whose
 *   answers come back to the asking node alone, on its own control channel, until every live node
 *   answered or `surveyTimeoutMs` passed. The server API's cluster-wide calls (channels, disconnect)
 *   are surveys.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { HeraldError } from '../core/errors.ts';
import type { Broker } from '../engine/broker.ts';
import {
  decodeControl,
  encodeControl,
  type ControlMessage,
  type NodeInfo,
  type SurveyRequest,
} from './control-messages.ts';
import { NodeRegistry } from './node-registry.ts';

export interface ControlPlaneOptions {
  readonly broker: Broker;
  readonly logger: Logger;
  /** This node's current description; its `id` names the node. */
  describe(): NodeInfo;
  /** Answers a survey with facts about this node (and does what it asks). */
  answer(request: SurveyRequest): unknown;
  /** Time between announcements. Default 2 s: a dead node drops out within 6 s. */
  readonly announceIntervalMs?: number;
  /** How long a survey waits for slow nodes. Default 3 s. */
  readonly surveyTimeoutMs?: number;
}

/** The answers to a survey, one per node that answered in time. */
export interface SurveyAnswers {
  readonly answers: readonly unknown[];
  /** Live nodes that did not answer in time. */
  readonly missing: string[];
}

/** Bounds on the lifetime an announcement claims: a node of another version cannot pin phantoms. */
const MIN_TTL_MS = 1000;
const MAX_TTL_MS = 60_000;
/** A burst of unknown nodes (a deployment starting) makes this node announce itself once, not per node. */
const REANNOUNCE_GAP_MS = 500;
/** How long shutdown waits to tell the others it leaves. */
const LEAVE_TIMEOUT_MS = 500;

interface PendingSurvey {
  readonly expected: ReadonlySet<string>;
  readonly answers: Map<string, unknown>;
  readonly finish: () => void;
}

export class ControlPlane {
  readonly #options: ControlPlaneOptions;
  readonly #id: string;
  readonly #registry = new NodeRegistry();
  readonly #surveys = new Map<string, PendingSurvey>();
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #lastAnnouncedAt = 0;
  #announcePending: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ControlPlaneOptions) {
    this.#options = options;
    this.#id = options.describe().id;
    this.#intervalMs = options.announceIntervalMs ?? 2000;
  }

  async start(): Promise<void> {
    await this.#announce();
    this.#timer = setInterval(() => void this.#announce(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops announcing, answering and asking, and tells the other nodes this one is leaving (best effort). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#announcePending);
    for (const survey of this.#surveys.values()) survey.finish();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, LEAVE_TIMEOUT_MS)));
    await Promise.race([this.#send({ type: 'leave', node: this.#id }).catch(() => undefined), timeout]);
    clearTimeout(timer);
  }

  /** The live nodes of the deployment, this one first, then by name. */
  nodes(): NodeInfo[] {
    const self = this.#options.describe();
    const others = this.#registry
      .nodes()
      .filter((node) => node.id !== this.#id)
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    return [self, ...others];
  }

  /** Asks every live node; rejects when the engine cannot carry the question. */
  async survey(request: SurveyRequest): Promise<SurveyAnswers> {
    if (this.#stopped) throw new HeraldError('HERALD_ERR_SHUTTING_DOWN', 'the node is shutting down');
    const id = randomUUID();
    const expected = this.#registry.ids();
    expected.add(this.#id);
    const answers = new Map<string, unknown>();
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#surveys.delete(id);
        resolve();
      };
      this.#surveys.set(id, { expected, answers, finish });
      timer = setTimeout(finish, this.#options.surveyTimeoutMs ?? 3000);
    });
    try {
      await this.#send({ type: 'survey', id, from: this.#id, request });
    } catch (err) {
      this.#surveys.get(id)?.finish();
      throw err;
    }
    await done;
    const missing = [...expected].filter((node) => !answers.has(node));
    if (missing.length > 0)
      this.#options.logger.warn({ survey: request.op, missing }, 'nodes did not answer a survey in time');
    return { answers: [...answers.values()], missing };
  }

  /** A message from the control channel. */
  receive(text: string): void {
    if (this.#stopped) return;
    const message = decodeControl(text);
    if (message === undefined) {
      this.#options.logger.debug({ message: text.slice(0, 200) }, 'control message ignored');
      return;
    }
    switch (message.type) {
      case 'node': {
        const ttl = Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, message.ttl));
        if (this.#registry.update(message.node, ttl) && message.node.id !== this.#id) this.#announceSoon();
        return;
      }
      case 'leave':
        this.#registry.remove(message.node);
        return;
      case 'survey':
        void this.#answer(message.id, message.from, message.request);
        return;
      case 'reply': {
        const survey = message.to === this.#id ? this.#surveys.get(message.id) : undefined;
        if (survey === undefined) return;
        survey.answers.set(message.from, message.result);
        if ([...survey.expected].every((node) => survey.answers.has(node))) survey.finish();
        return;
      }
    }
  }

  async #answer(id: string, from: string, request: SurveyRequest): Promise<void> {
    try {
      const result = this.#options.answer(request);
      await this.#send({ type: 'reply', id, from: this.#id, to: from, result }, from);
    } catch (err) {
      this.#options.logger.warn({ err, survey: request.op }, 'could not answer a survey');
    }
  }

  /** Announces at once, or right after the last announcement's gap, once for a burst of newcomers. */
  #announceSoon(): void {
    if (this.#announcePending !== undefined) return;
    const wait = Math.max(0, this.#lastAnnouncedAt + REANNOUNCE_GAP_MS - Date.now());
    this.#announcePending = setTimeout(() => {
      this.#announcePending = undefined;
      void this.#announce();
    }, wait);
    this.#announcePending.unref();
  }

  async #announce(): Promise<void> {
    if (this.#stopped) return;
    this.#lastAnnouncedAt = Date.now();
    const node = this.#options.describe();
    try {
      await this.#send({ type: 'node', node, ttl: 3 * this.#intervalMs });
    } catch (err) {
      // The engine is unreachable: readiness reports it; the node announces again next time.
      this.#options.logger.debug({ err }, 'node announcement failed');
    }
  }

  #send(message: ControlMessage, to?: string): Promise<void> {
    return this.#options.broker.publishControl(encodeControl(message), to);
  }
}
