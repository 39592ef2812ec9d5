/**
 * `isWellFormedMessage`: a strict walk over a protobuf message's wire format (tag, then a
 * varint, a fixed 32/64-bit value or a length-delimited run), true only when every field
 * ends inside the message. protobufjs does not check this for strings: a field that claims
 * 80 bytes but carries 1 decodes as a 1-character string, which would reach the engine as a
 * short token (`UNAUTHENTICATED`) instead of the malformed request it is
 * (`INVALID_ARGUMENT`). Groups (wire types 3 and 4) are refused: no Tessera message has one.
 */

const MAX_VARINT_BYTES = 10;

export function isWellFormedMessage(bytes: Uint8Array): boolean {
  let pos = 0;
  const end = bytes.length;

  /** Reads a varint at `pos`; -1 when it is cut off or too long. Safe up to 2^53. */
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (pos >= end) return -1;
      const byte = bytes[pos++] as number;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    return -1;
  };

  while (pos < end) {
    const tag = varint();
    if (tag < 0 || Math.floor(tag / 8) === 0) return false;
    switch (tag % 8) {
      case 0:
        if (varint() < 0) return false;
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = varint();
        if (length < 0) return false;
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return false;
    }
    if (pos > end) return false;
  }
  return true;
}
