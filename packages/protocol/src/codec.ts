/** Framing: one WebSocket text frame carries messages separated by `\n`. */

export const MESSAGE_SEPARATOR = '\n';

/** Splits a received frame into its messages, skipping empty lines. */
export function splitFrame(frame: string): string[] {
  if (frame.indexOf(MESSAGE_SEPARATOR) === -1) return frame.length > 0 ? [frame] : [];
  return frame.split(MESSAGE_SEPARATOR).filter((line) => line.length > 0 && line !== '\r');
}

/** Joins encoded messages into one frame. */
export function joinMessages(messages: readonly string[]): string {
  return messages.join(MESSAGE_SEPARATOR);
}
