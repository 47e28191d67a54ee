/**
 * Messages between the nodes of one deployment, carried by the engine's control channel (a Redis
 * pub/sub channel; within the process on the memory engine). JSON, validated on receipt: nodes of
 * different versions may share a channel during a rolling upgrade, so a message this version does not
 * understand is ignored, never trusted.
 */
import { z } from 'zod';

const nodeInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  engine: z.string(),
  uptime: z.number(),
  connections: z.number(),
  subscriptions: z.number(),
  channels: z.number(),
});

/** What a node tells the others about itself. */
export type NodeInfo = z.infer<typeof nodeInfoSchema>;

const targetSchema = z.union([z.object({ user: z.string() }), z.object({ client: z.string() })]);

const surveyRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('channels'), pattern: z.string().optional() }),
  z.object({ op: z.literal('disconnect'), target: targetSchema, reconnect: z.boolean() }),
  z.object({ op: z.literal('subscribe'), user: z.string(), channel: z.string() }),
  z.object({ op: z.literal('unsubscribe'), user: z.string(), channel: z.string() }),
]);

/** A question every node answers about itself (see ControlPlane.survey). */
export type SurveyRequest = z.infer<typeof surveyRequestSchema>;

const controlMessageSchema = z.discriminatedUnion('type', [
  /** A node is alive; forget it `ttl` ms after this unless it announces again. */
  z.object({ type: z.literal('node'), node: nodeInfoSchema, ttl: z.number() }),
  /** A node is shutting down. */
  z.object({ type: z.literal('leave'), node: z.string() }),
  z.object({ type: z.literal('survey'), id: z.string(), from: z.string(), request: surveyRequestSchema }),
  z.object({
    type: z.literal('reply'),
    id: z.string(),
    from: z.string(),
    to: z.string(),
    result: z.unknown(),
  }),
]);

export type ControlMessage = z.infer<typeof controlMessageSchema>;

export function encodeControl(message: ControlMessage): string {
  return JSON.stringify(message);
}

/** The message, or undefined when it is not one this version understands. */
export function decodeControl(text: string): ControlMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const result = controlMessageSchema.safeParse(parsed);
  return result.success ? result.data : undefined;
}
