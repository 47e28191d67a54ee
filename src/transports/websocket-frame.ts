/**
 * Server-to-client WebSocket text frames (RFC 6455 §5.2), built once per distinct payload. A server's
 * frames are not masked, so the bytes of a frame depend on its payload alone: a publication fanned
 * out to 10,000 sockets is framed once and the same buffer is written to each, where `ws.send` would
 * build a header and issue a two-buffer write for every socket.
 */

const FIN_TEXT = 0x81;

/** The frame holding `payload` as one unfragmented text message. */
export function textFrame(payload: Buffer): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = FIN_TEXT;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(frame, headerLength);
  return frame;
}

/**
 * Frames by payload identity: every socket that is sent the same Buffer object (one publication, or
 * the same run of publications joined by the flush scheduler) gets the same frame. Weak, so a frame
 * lives exactly as long as its payload.
 */
export class FrameCache {
  readonly #frames = new WeakMap<Buffer, Buffer>();

  frameOf(payload: Buffer): Buffer {
    let frame = this.#frames.get(payload);
    if (frame === undefined) {
      frame = textFrame(payload);
      this.#frames.set(payload, frame);
    }
    return frame;
  }
}
